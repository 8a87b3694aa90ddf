import { describeError, newRequestId } from "@terrace/api";
import { ResidentClaimStatus, type ResidentClaim } from "@terrace/api/gen/terrace/governance/v1/registry_pb";
import { Alert, App, Button, Flex, Select, Space, Table, Tag, Typography, type TableColumnsType } from "antd";
import { useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";
import { ReasonDialog } from "../../components/ReasonDialog";
import { TRANSIENT } from "../../components/intent";
import { Pager, useServerPages } from "../../components/paging";
import { errorMessage } from "../../errors";
import { useFormat } from "../../format";
import { UserName } from "../../identity/UserName";
import { AreaName } from "../AreaName";
import { AreaSelect, withParam } from "../AreaSelect";
import { chosenArea, isVillage, withLevel } from "../register/areas";
import { governance } from "../register/client";
import { useRegisterAreas } from "../register/useRegisterAreas";
import {
  CLAIM_STATUSES,
  claimFilter,
  claimFilterParam,
  claimStatusColor,
  claimStatusLabel,
  claimStatuses,
} from "./claims";

/**
 * Villagers' claims of their records in one of the official's areas (ListResidentClaims with the
 * area), newest first, by status (what awaits the official unless another is chosen): the record's
 * name, its village, the account that claims it, the phone the code was proven on and when. A
 * claim awaiting the official is confirmed (the record is linked to that account) or refused
 * with a reason the villager reads (DecideResidentClaim). The area and the status are kept in the
 * address bar.
 */
export default function ClaimsPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const { message, modal } = App.useApp();
  const areas = useRegisterAreas();
  const [params, setParams] = useSearchParams();
  const area = areas ? chosenArea(params.get("area"), areas) : undefined;
  const filter = claimFilter(params.get("status"));
  const [refusing, setRefusing] = useState<ResidentClaim>();
  // One request id per claim confirmed: kept when the same confirmation is retried after a
  // network failure, dropped after any answer.
  const confirmIds = useRef(new Map<string, string>());

  const pages = useServerPages<ResidentClaim>(
    async (page, signal) => {
      const answer = await governance.listResidentClaims(
        { page, area: area && withLevel(area), statuses: claimStatuses(filter) },
        { signal },
      );
      return { items: answer.claims, nextToken: answer.page?.nextPageToken ?? "", total: answer.page?.totalSize };
    },
    [area?.code, filter],
    area !== undefined,
  );

  function change(name: string, value: string) {
    setParams(withParam(params, name, value), { replace: true });
    pages.restart();
  }

  function decided(text: string) {
    void message.success(text);
    pages.reload();
  }

  function confirm(claim: ResidentClaim) {
    modal.confirm({
      title: t("claims.confirmTitle", { name: claim.residentName }),
      content: t("claims.confirmHint", {
        name: claim.residentName,
        claimant: claim.claimantDisplayName || claim.claimantUserId.slice(-8),
      }),
      okText: t("claims.confirmOk"),
      cancelText: t("create.cancel"),
      onOk: async () => {
        const requestId = confirmIds.current.get(claim.id) ?? newRequestId();
        confirmIds.current.set(claim.id, requestId);
        try {
          await governance.decideResidentClaim({ requestId, claimId: claim.id, confirm: true, refusalReason: "" });
          confirmIds.current.delete(claim.id);
          decided(t("claims.confirmed", { name: claim.residentName }));
        } catch (err) {
          if (!TRANSIENT.has(describeError(err).code)) confirmIds.current.delete(claim.id);
          void message.error(errorMessage(t, err));
          pages.reload(); // it may have been decided or linked meanwhile
        }
      },
    });
  }

  const areaIsVillage = area !== undefined && isVillage(area.code);
  const columns: TableColumnsType<ResidentClaim> = [
    {
      title: t("claims.resident"),
      key: "resident",
      render: (_, c) => <Link to={`/governance/residents/${c.residentId}`}>{c.residentName}</Link>,
    },
    ...(areaIsVillage
      ? []
      : [{ title: t("register.village"), key: "village", render: (_: unknown, c: ResidentClaim) => <AreaName area={c.villageCode} short /> }]),
    {
      title: t("claims.claimant"),
      key: "claimant",
      render: (_, c) =>
        c.claimantDisplayName ? (
          <span>
            <span style={{ marginInlineEnd: 6 }}>{c.claimantDisplayName}</span>
            <Typography.Text type="secondary" copyable={{ text: c.claimantUserId }} style={{ fontSize: 12 }}>
              {c.claimantUserId.slice(-8)}
            </Typography.Text>
          </span>
        ) : (
          // Not published to governance yet: identity's name where the official may see it.
          <UserName userId={c.claimantUserId} />
        ),
    },
    { title: t("claims.phone"), dataIndex: "maskedPhoneNumber", key: "phone" },
    {
      title: t("claims.verified"),
      key: "verified",
      render: (_, c) => (c.verifyTime ? format.dateTime(c.verifyTime) : t("claims.notVerified")),
    },
    {
      title: t("register.status"),
      key: "status",
      render: (_, c) => (
        <Space direction="vertical" size={0}>
          <Tag color={claimStatusColor(c.status)}>{claimStatusLabel(t, c.status)}</Tag>
          {c.decideTime && (
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {format.dateTime(c.decideTime)}
              {c.decidedBy?.displayName ? ` · ${c.decidedBy.displayName}` : ""}
            </Typography.Text>
          )}
          {c.refusalReason && <Typography.Text>{t("claims.reason", { reason: c.refusalReason })}</Typography.Text>}
        </Space>
      ),
    },
    {
      title: t("claims.decide"),
      key: "decide",
      render: (_, c) =>
        c.status === ResidentClaimStatus.AWAITING_OFFICIAL ? (
          <Space wrap>
            <Button type="primary" onClick={() => confirm(c)} aria-label={t("claims.confirmOf", { name: c.residentName })}>
              {t("claims.confirm")}
            </Button>
            <Button danger onClick={() => setRefusing(c)} aria-label={t("claims.refuseOf", { name: c.residentName })}>
              {t("claims.refuse")}
            </Button>
          </Space>
        ) : null,
    },
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("claims.title")}
      </Typography.Title>
      <Typography.Paragraph type="secondary" style={{ margin: 0, maxWidth: 880 }}>
        {t("claims.intro")}
      </Typography.Paragraph>
      <Flex wrap gap={12} role="search">
        <AreaSelect areas={areas} area={area} label={t("register.area")} onChange={(code) => change("area", code)} />
        <Select<string>
          aria-label={t("register.status")}
          value={claimFilterParam(filter) || "awaiting_official"}
          onChange={(value) => change("status", claimFilterParam(claimFilter(value)))}
          options={[
            ...CLAIM_STATUSES.map((s) => ({ value: claimFilterParam(s) || "awaiting_official", label: claimStatusLabel(t, s) })),
            { value: "all", label: t("claims.all") },
          ]}
          style={{ minWidth: 160 }}
        />
      </Flex>
      {areas && areas.length === 0 && <Alert type="info" showIcon message={t("people.areaRequired")} />}
      {pages.problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, pages.problem)} />}
      <Table<ResidentClaim>
        rowKey="id"
        columns={columns}
        dataSource={pages.items}
        loading={pages.loading}
        pagination={false}
        locale={{ emptyText: filter === ResidentClaimStatus.AWAITING_OFFICIAL ? t("claims.noneAwaiting") : t("claims.none") }}
      />
      <Pager pages={pages} />
      <ReasonDialog
        open={refusing !== undefined}
        name="refuse-claim"
        title={t("claims.refuseTitle", { name: refusing?.residentName ?? "" })}
        okText={t("claims.refuse")}
        required
        minLength={4}
        reasonField="refusal_reason"
        action={async (requestId, reason) => {
          if (!refusing) return;
          await governance.decideResidentClaim({ requestId, claimId: refusing.id, confirm: false, refusalReason: reason });
        }}
        onClose={() => setRefusing(undefined)}
        onDone={() => {
          const name = refusing?.residentName ?? "";
          setRefusing(undefined);
          decided(t("claims.refused", { name }));
        }}
      >
        <Typography.Paragraph>{t("claims.refuseHint")}</Typography.Paragraph>
      </ReasonDialog>
    </Space>
  );
}
