import { create } from "@bufbuild/protobuf";
import { TimeRangeSchema } from "@terrace/api/gen/terrace/common/v1/date_pb";
import { Role, type AuditRecord } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { IdentityService } from "@terrace/api/gen/terrace/identity/v1/identity_service_pb";
import { Alert, Button, DatePicker, Flex, Form, Input, Select, Space, Table, Typography, type TableColumnsType } from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Pager, useServerPages } from "../components/paging";
import { errorMessage } from "../errors";
import { useFormat } from "../format";
import { session } from "../session";
import { useCurrentUser, useMyGrants } from "../shell/CurrentUser";
import { calendarDay, endOfChinaDay, ownAreas, startOfChinaDay } from "./access";
import { AreaName } from "../governance/AreaName";
import { actorLabel, prettyDetails } from "./audit";
import { UserName } from "./UserName";

const identity = session.client(IdentityService);

/** Actions identity records (AuditRecord.action); others may be typed. */
const ACTIONS = [
  "role.granted",
  "role.revoked",
  "role.expired",
  "user.created",
  "user.status_changed",
  "user.password_changed",
  "user.password_reset",
  "user.phone_changed",
  "agency.created",
  "agency.updated",
  "agency.secret_rotated",
  "agency.revoked",
  "consent.granted",
  "consent.withdrawn",
  "consent.expired",
  "consent.token_issued",
  "signing_key.rotated",
];

type Day = { year(): number; month(): number; date(): number };

interface Filters {
  area?: string;
  actor?: string;
  target?: string;
  actions?: string[];
  range?: [Day | null, Day | null] | null;
}

/**
 * Identity's audit log (ListAuditRecords), newest first, filtered by area (required for county
 * admins), actor, target, actions and a range of days (China time).
 */
export default function AuditPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const me = useCurrentUser();
  const myGrants = useMyGrants();
  const areas = ownAreas(myGrants, [Role.COUNTY_ADMIN, Role.PLATFORM_ADMIN]);
  const [form] = Form.useForm<Filters>();
  const [filters, setFilters] = useState<Filters>({});
  const area = areas.find((a) => a.code === filters.area) ?? areas[0];
  const firstArea = areas[0]?.code;
  useEffect(() => {
    // The admin's areas are known only after GetCurrentUser: show the one the list uses.
    if (firstArea && !form.getFieldValue("area")) {
      form.setFieldValue("area", firstArea);
    }
  }, [firstArea, form]);

  const pages = useServerPages<AuditRecord>(
    async (page, signal) => {
      const [from, to] = filters.range ?? [null, null];
      const response = await identity.listAuditRecords(
        {
          page,
          area,
          actorUserId: filters.actor?.trim() ?? "",
          targetId: filters.target?.trim() ?? "",
          actions: filters.actions ?? [],
          timeRange:
            from || to
              ? create(TimeRangeSchema, {
                  startTime: from ? startOfChinaDay(...calendarDay(from)) : undefined,
                  endTime: to ? endOfChinaDay(...calendarDay(to)) : undefined,
                })
              : undefined,
        },
        { signal },
      );
      return { items: response.records, nextToken: response.page?.nextPageToken ?? "", total: response.page?.totalSize };
    },
    [filters, area?.code],
    me !== undefined,
  );

  const columns: TableColumnsType<AuditRecord> = [
    { title: t("audit.time"), key: "time", render: (_, r) => format.dateTime(r.time), width: 180 },
    {
      title: t("audit.actor"),
      key: "actor",
      render: (_, r) =>
        r.actor?.displayName || !r.actor?.userId || r.actor.onBehalfOfUserId ? actorLabel(r.actor) : <UserName userId={r.actor.userId} />,
    },
    { title: t("audit.action"), key: "action", render: (_, r) => <Typography.Text code>{r.action}</Typography.Text> },
    {
      title: t("audit.target"),
      key: "target",
      render: (_, r) => (
        <>
          {r.targetType}{" "}
          {r.targetType === "user" ? (
            <UserName userId={r.targetId} />
          ) : (
            <Typography.Text code copyable>
              {r.targetId}
            </Typography.Text>
          )}
        </>
      ),
    },
    { title: t("audit.area"), key: "area", render: (_, r) => (r.area ? <AreaName area={r.area} short /> : "") },
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("audit.title")}
      </Typography.Title>
      <Form<Filters>
        form={form}
        name="audit-filters"
        layout="inline"
        role="search"
        onFinish={(values) => {
          setFilters(values);
          pages.restart();
        }}
        style={{ rowGap: 12 }}
      >
        {areas.length > 0 && (
          <Form.Item name="area" label={t("people.area")}>
            <Select options={areas.map((a) => ({ value: a.code, label: <AreaName area={a} short /> }))} style={{ minWidth: 160 }} />
          </Form.Item>
        )}
        <Form.Item name="actor" label={t("audit.actor")}>
          <Input placeholder={t("audit.userId")} allowClear autoComplete="off" />
        </Form.Item>
        <Form.Item name="target" label={t("audit.target")}>
          <Input placeholder={t("audit.targetId")} allowClear autoComplete="off" />
        </Form.Item>
        <Form.Item name="actions" label={t("audit.action")}>
          <Select mode="tags" allowClear options={ACTIONS.map((a) => ({ value: a, label: a }))} style={{ minWidth: 220 }} />
        </Form.Item>
        <Form.Item name="range" label={t("audit.range")}>
          <DatePicker.RangePicker allowEmpty={[true, true]} />
        </Form.Item>
        <Form.Item>
          <Flex gap={8}>
            <Button type="primary" htmlType="submit">
              {t("people.search")}
            </Button>
            <Button
              onClick={() => {
                form.resetFields();
                form.setFieldValue("area", firstArea);
                setFilters({});
                pages.restart();
              }}
            >
              {t("audit.reset")}
            </Button>
          </Flex>
        </Form.Item>
      </Form>
      {pages.problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, pages.problem)} />}
      <Table<AuditRecord>
        rowKey="id"
        columns={columns}
        dataSource={pages.items}
        loading={pages.loading}
        pagination={false}
        locale={{ emptyText: t("audit.empty") }}
        expandable={{
          expandedRowRender: (r) => (
            <pre style={{ margin: 0, whiteSpace: "pre-wrap", wordBreak: "break-all" }}>{prettyDetails(r.detailsJson)}</pre>
          ),
          rowExpandable: (r) => r.detailsJson !== "" && r.detailsJson !== "{}",
        }}
        scroll={{ x: true }}
      />
      <Pager pages={pages} />
    </Space>
  );
}
