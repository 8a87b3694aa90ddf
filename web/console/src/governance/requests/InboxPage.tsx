import type { RequestType, ServiceRequest } from "@terrace/api/gen/terrace/governance/v1/service_requests_pb";
import { PlusOutlined } from "@ant-design/icons";
import { Alert, Button, Checkbox, Flex, Select, Space, Table, Tag, Typography, type TableColumnsType } from "antd";
import { useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useSearchParams } from "react-router";
import { Pager, useServerPages } from "../../components/paging";
import { errorMessage } from "../../errors";
import { useFormat } from "../../format";
import { UserName } from "../../identity/UserName";
import { useSession } from "../../session";
import { AreaName } from "../AreaName";
import { AreaSelect, withParam } from "../AreaSelect";
import { chosenArea, isVillage, villageArea, withLevel } from "../register/areas";
import { governance } from "../register/client";
import { useRegisterAreas } from "../register/useRegisterAreas";
import { PriorityTag, StatusTag, requestStatusLabel } from "./labels";
import { STATUSES, inboxFilter, inboxQuery, isOverdue, localized } from "./requests";
import { ServiceRequestStatus } from "@terrace/api/gen/terrace/governance/v1/service_requests_pb";

/**
 * The requests of one of the official's areas (ListServiceRequests, paged by the server): by
 * status (what still needs an official by default), type, assignee (anyone, unassigned, me) and
 * overdue only, ordered by due time (overdue first) unless another order is chosen. Each row
 * links to the request's page. The filter is kept in the address bar.
 */
export default function InboxPage() {
  const { t, i18n } = useTranslation();
  const format = useFormat();
  const areas = useRegisterAreas();
  const me = useSession().account?.userId ?? "";
  const [params, setParams] = useSearchParams();
  const area = areas ? chosenArea(params.get("area"), areas) : undefined;
  const filter = inboxFilter(params);
  const types = useTypes(area?.code);
  const now = new Date();
  const navigate = useNavigate();

  const pages = useServerPages<ServiceRequest>(
    async (page, signal) => {
      if (!area) return { items: [], nextToken: "" };
      const answer = await governance.listServiceRequests({ page, ...inboxQuery(filter, withLevel(area), me) }, { signal });
      return { items: answer.serviceRequests, nextToken: answer.page?.nextPageToken ?? "", total: answer.page?.totalSize };
    },
    [area?.code, filter.status, filter.typeId, filter.assignee, filter.overdue, filter.order],
    area !== undefined,
  );

  function change(name: string, value: string) {
    setParams(withParam(params, name, value), { replace: true });
    pages.restart();
  }

  const typeName = (id: string) => {
    const type = types.find((ty) => ty.id === id);
    return type ? localized(type.name, i18n.language) : id.slice(-8);
  };
  const areaIsVillage = area !== undefined && isVillage(area.code);
  const columns: TableColumnsType<ServiceRequest> = [
    {
      title: t("requests.reference"),
      key: "reference",
      render: (_, r) => <Link to={`/governance/requests/${r.id}`}>{r.reference || r.id.slice(-8)}</Link>,
    },
    { title: t("requests.type"), key: "type", render: (_, r) => typeName(r.typeId) },
    {
      title: t("requests.description"),
      key: "description",
      render: (_, r) => (
        <Typography.Text ellipsis={{ tooltip: r.description }} style={{ maxWidth: 280 }}>
          {r.description}
        </Typography.Text>
      ),
    },
    ...(areaIsVillage
      ? []
      : [{ title: t("requests.village"), key: "village", render: (_: unknown, r: ServiceRequest) => <AreaName area={r.villageCode} short /> }]),
    { title: t("register.status"), key: "status", render: (_, r) => <StatusTag status={r.status} /> },
    { title: t("requests.priority"), key: "priority", render: (_, r) => <PriorityTag priority={r.priority} /> },
    {
      title: t("requests.due"),
      key: "due",
      render: (_, r) =>
        !r.dueTime ? (
          <Typography.Text type="secondary">{t("requests.noDue")}</Typography.Text>
        ) : isOverdue(r, now) ? (
          <Space size={4} className="overdue">
            <Tag color="red">{t("requests.overdue")}</Tag>
            <Typography.Text type="danger" strong>
              {format.dateTime(r.dueTime)}
            </Typography.Text>
          </Space>
        ) : (
          format.dateTime(r.dueTime)
        ),
    },
    { title: t("requests.submitted"), key: "submitted", render: (_, r) => format.dateTime(r.audit?.createTime) },
    {
      title: t("requests.assignee"),
      key: "assignee",
      render: (_, r) => (r.assigneeUserId ? <UserName userId={r.assigneeUserId} /> : <Typography.Text type="secondary">{t("requests.unassigned")}</Typography.Text>),
    },
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("requests.inbox")}
      </Typography.Title>
      <Typography.Paragraph type="secondary" style={{ margin: 0, maxWidth: 880 }}>
        {t("requests.inboxIntro")}
      </Typography.Paragraph>
      <Flex wrap gap={12} align="center" role="search">
        <AreaSelect areas={areas} area={area} label={t("requests.area")} onChange={(code) => change("area", code)} minWidth={280} />
        <Select<string>
          aria-label={t("requests.statusFilter")}
          value={filter.status}
          onChange={(value) => change("status", value === "open" ? "" : value)}
          options={[
            { value: "open", label: t("requests.openOnly") },
            ...STATUSES.map((s) => ({ value: ServiceRequestStatus[s].toLowerCase(), label: requestStatusLabel(t, s) })),
            { value: "all", label: t("requests.all") },
          ]}
          style={{ minWidth: 130 }}
        />
        <Select<string>
          aria-label={t("requests.typeFilter")}
          value={filter.typeId}
          onChange={(value) => change("type", value)}
          options={[{ value: "", label: t("requests.allTypes") }, ...types.map((ty) => ({ value: ty.id, label: localized(ty.name, i18n.language) }))]}
          style={{ minWidth: 160 }}
        />
        <Select<string>
          aria-label={t("requests.assignee")}
          value={filter.assignee}
          onChange={(value) => change("assignee", value)}
          options={[
            { value: "", label: `${t("requests.assignee")}: ${t("requests.anyone")}` },
            { value: "-", label: t("requests.unassigned") },
            { value: "me", label: `${t("requests.assignee")}: ${t("requests.me")}` },
          ]}
          style={{ minWidth: 140 }}
        />
        <Select
          aria-label={t("requests.order")}
          value={params.get("order") ?? ""}
          onChange={(value: string) => change("order", value)}
          options={[
            { value: "", label: t("requests.orderDue") },
            { value: "newest", label: t("requests.orderNewest") },
            { value: "updated", label: t("requests.orderUpdated") },
          ]}
          style={{ minWidth: 200 }}
        />
        <Checkbox checked={filter.overdue} onChange={(e) => change("overdue", e.target.checked ? "1" : "")}>
          {t("requests.overdueOnly")}
        </Checkbox>
        <Button icon={<PlusOutlined />} onClick={() => navigate("/governance/requests/new")}>
          {t("requests.file")}
        </Button>
      </Flex>
      {areas && areas.length === 0 && <Alert type="info" showIcon message={t("people.areaRequired")} />}
      {pages.problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, pages.problem)} />}
      <Table<ServiceRequest>
        rowKey="id"
        columns={columns}
        dataSource={pages.items}
        loading={pages.loading}
        pagination={false}
        locale={{ emptyText: t("requests.none") }}
      />
      <Pager pages={pages} />
    </Space>
  );
}

/**
 * The types a filter and the rows name: those offered in a village (every type whose area covers
 * it), or those defined in a larger area; inactive ones too, since old requests carry them.
 */
export function useTypes(area: string | undefined): RequestType[] {
  const [types, setTypes] = useState<RequestType[]>([]);
  useEffect(() => {
    if (!area) return;
    const abort = new AbortController();
    const village = isVillage(area);
    governance
      .listRequestTypes(
        {
          page: { pageSize: 500 },
          villageCode: village ? area : "",
          definedIn: village ? undefined : villageArea(area),
          includeInactive: true,
        },
        { signal: abort.signal },
      )
      .then((answer) => setTypes(answer.requestTypes))
      .catch(() => setTypes([]));
    return () => abort.abort();
  }, [area]);
  return useMemo(() => types, [types]);
}
