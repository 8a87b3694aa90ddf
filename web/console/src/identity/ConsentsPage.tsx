import { ConsentStatus, type Consent } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { IdentityService } from "@terrace/api/gen/terrace/identity/v1/identity_service_pb";
import { Alert, App, Button, Checkbox, Flex, Input, Space, Table, Tag, Typography, type TableColumnsType } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Pager, useServerPages } from "../components/paging";
import { ReasonDialog } from "../components/ReasonDialog";
import { errorMessage } from "../errors";
import { useFormat } from "../format";
import { session } from "../session";
import { consentStatusLabel } from "./labels";
import { UserDrawer } from "./UserDialogs";
import { UserName } from "./UserName";

const identity = session.client(IdentityService);

/**
 * Villagers' consents to helpers (ListConsents): an official sees those of villagers in their
 * scope, filtered by villager or helper; withdrawing (WithdrawConsent) is for an official of the
 * villager's village, which the server checks.
 */
export default function ConsentsPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const { message } = App.useApp();
  const [grantor, setGrantor] = useState("");
  const [helper, setHelper] = useState("");
  const [includeInactive, setIncludeInactive] = useState(false);
  const [withdrawing, setWithdrawing] = useState<Consent>();
  const [viewing, setViewing] = useState<string>();

  const pages = useServerPages<Consent>(
    async (page, signal) => {
      const response = await identity.listConsents(
        { page, grantorUserId: grantor, helperUserId: helper, includeInactive },
        { signal },
      );
      return { items: response.consents, nextToken: response.page?.nextPageToken ?? "", total: response.page?.totalSize };
    },
    [grantor, helper, includeInactive],
  );

  const person = (id: string) => (
    <Button type="link" size="small" style={{ padding: 0 }} onClick={() => setViewing(id)}>
      <UserName userId={id} />
    </Button>
  );

  const columns: TableColumnsType<Consent> = [
    { title: t("consents.grantor"), key: "grantor", render: (_, c) => person(c.grantorUserId) },
    { title: t("consents.helper"), key: "helper", render: (_, c) => person(c.helperUserId) },
    { title: t("consents.scopes"), key: "scopes", render: (_, c) => c.scopes.map((s) => <Tag key={s}>{s}</Tag>) },
    {
      title: t("consents.period"),
      key: "period",
      render: (_, c) => `${format.dateTime(c.startTime ?? c.createTime)} – ${format.dateTime(c.endTime)}`,
    },
    {
      title: t("people.status"),
      key: "status",
      render: (_, c) => (
        <Tag color={c.status === ConsentStatus.ACTIVE ? "green" : c.status === ConsentStatus.PENDING ? "blue" : "default"}>
          {consentStatusLabel(t, c.status)}
        </Tag>
      ),
    },
    {
      title: t("consents.recordedBy"),
      key: "recorded",
      render: (_, c) => (
        <>
          {c.recordedBy?.displayName ?? ""}
          {c.witnessed && <Tag style={{ marginInlineStart: 8 }}>{t("consents.witnessed")}</Tag>}
        </>
      ),
    },
    { title: t("consents.note"), dataIndex: "note", key: "note" },
    {
      title: t("people.actions"),
      key: "actions",
      render: (_, c) =>
        c.status === ConsentStatus.ACTIVE || c.status === ConsentStatus.PENDING ? (
          <Button danger size="small" onClick={() => setWithdrawing(c)}>
            {t("consents.withdraw")}
          </Button>
        ) : c.withdrawTime ? (
          <span>
            {t("consents.withdrawnAt", { time: format.dateTime(c.withdrawTime) })}
            {c.withdrawnBy?.displayName ? ` · ${c.withdrawnBy.displayName}` : ""}
          </span>
        ) : null,
    },
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("consents.title")}
      </Typography.Title>
      <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
        {t("consents.hint")}
      </Typography.Paragraph>
      <Flex wrap gap={12} align="center" role="search">
        <Input.Search
          aria-label={t("consents.filterGrantor")}
          placeholder={t("consents.filterGrantor")}
          allowClear
          enterButton={t("people.search")}
          onSearch={(value) => {
            setGrantor(value.trim());
            pages.restart();
          }}
          style={{ maxWidth: 360 }}
        />
        <Input.Search
          aria-label={t("consents.filterHelper")}
          placeholder={t("consents.filterHelper")}
          allowClear
          enterButton={t("people.search")}
          onSearch={(value) => {
            setHelper(value.trim());
            pages.restart();
          }}
          style={{ maxWidth: 360 }}
        />
        <Checkbox
          checked={includeInactive}
          onChange={(e) => {
            setIncludeInactive(e.target.checked);
            pages.restart();
          }}
        >
          {t("consents.includeInactive")}
        </Checkbox>
      </Flex>
      {pages.problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, pages.problem)} />}
      <Table<Consent>
        rowKey="id"
        columns={columns}
        dataSource={pages.items}
        loading={pages.loading}
        pagination={false}
        locale={{ emptyText: t("consents.empty") }}
        scroll={{ x: true }}
      />
      <Pager pages={pages} />
      <ReasonDialog
        open={withdrawing !== undefined}
        name="withdraw-consent"
        title={t("consents.withdrawTitle")}
        okText={t("consents.withdraw")}
        required={false}
        action={async (requestId, reason) => {
          await identity.withdrawConsent({ requestId, consentId: withdrawing?.id ?? "", reason });
        }}
        onClose={() => setWithdrawing(undefined)}
        onDone={() => {
          setWithdrawing(undefined);
          void message.success(t("consents.withdrawn"));
          pages.reload();
        }}
      >
        <Typography.Paragraph>{t("consents.withdrawHint")}</Typography.Paragraph>
      </ReasonDialog>
      <UserDrawer userId={viewing} onClose={() => setViewing(undefined)} />
    </Space>
  );
}
