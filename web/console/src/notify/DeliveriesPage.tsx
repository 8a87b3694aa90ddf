import type { Delivery } from "@terrace/api/gen/terrace/notify/v1/notify_pb";
import { Alert, Flex, Select, Space, Table, Tag, Timeline, Typography, type TableColumnsType } from "antd";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { Pager, useServerPages } from "../components/paging";
import { errorMessage } from "../errors";
import { useFormat } from "../format";
import { withParam } from "../governance/AreaSelect";
import { notify } from "./client";
import { categoryLabel, channelLabel, deliveryStatusLabel, FILTERED_STATUSES } from "./labels";

/**
 * 通知记录: what the platform sent about the places the official governs (texts about orders of
 * their villages, say), newest first, each with its status history: when it was queued, held,
 * sent, delivered or why it failed. Read only; addresses are masked by the server.
 */
export default function DeliveriesPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const [params, setParams] = useSearchParams();
  const status = Number(params.get("status") ?? 0);

  const pages = useServerPages<Delivery>(
    async (page, signal) => {
      const answer = await notify.listDeliveries({ page, statuses: status ? [status] : [] }, { signal });
      return { items: answer.deliveries, nextToken: answer.page?.nextPageToken ?? "" };
    },
    [status],
  );

  const columns: TableColumnsType<Delivery> = [
    { title: t("notify.created"), key: "created", render: (_, d) => format.dateTime(d.createTime) },
    { title: t("notify.channelTitle"), key: "channel", render: (_, d) => channelLabel(t, d.channel) },
    { title: t("notify.categoryTitle"), key: "category", render: (_, d) => categoryLabel(t, d.category) },
    { title: t("notify.to"), key: "to", render: (_, d) => d.addressMasked },
    { title: t("notify.template"), key: "template", render: (_, d) => <Typography.Text code>{d.templateKey}</Typography.Text> },
    {
      title: t("notify.statusTitle"),
      key: "status",
      render: (_, d) => {
        const label = deliveryStatusLabel(t, d.status);
        return <Tag color={label.color}>{label.text}</Tag>;
      },
    },
    { title: t("notify.attempts"), key: "attempts", render: (_, d) => d.attemptCount },
    { title: t("notify.segments"), key: "segments", render: (_, d) => (d.smsSegments > 0 ? d.smsSegments : "—") },
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("notify.deliveries")}
      </Typography.Title>
      <Flex wrap gap={12} align="center" role="search">
        <label htmlFor="delivery-status">{t("notify.statusTitle")}</label>
        <Select
          id="delivery-status"
          style={{ minWidth: 180 }}
          value={status}
          onChange={(value: number) => {
            setParams(withParam(params, "status", value ? String(value) : ""), { replace: true });
            pages.restart();
          }}
          options={[
            { value: 0, label: t("notify.anyStatus") },
            ...FILTERED_STATUSES.map((s) => ({ value: s, label: deliveryStatusLabel(t, s).text })),
          ]}
        />
      </Flex>
      {pages.problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, pages.problem)} />}
      <Table<Delivery>
        rowKey="id"
        columns={columns}
        dataSource={pages.items}
        loading={pages.loading}
        pagination={false}
        locale={{ emptyText: t("notify.noDeliveries") }}
        expandable={{
          expandedRowRender: (d) => (
            <Timeline
              items={d.history.map((change) => ({
                color: deliveryStatusLabel(t, change.status).color === "red" ? "red" : "blue",
                children: (
                  <span>
                    {format.dateTime(change.time)} · {deliveryStatusLabel(t, change.status).text}
                    {change.detail && <Typography.Text type="secondary"> · {change.detail}</Typography.Text>}
                  </span>
                ),
              }))}
            />
          ),
        }}
      />
      <Pager pages={pages} />
    </Space>
  );
}
