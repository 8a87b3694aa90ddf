import type { Order } from "@terrace/api/gen/terrace/market/v1/orders_pb";
import { FulfilmentMethod } from "@terrace/api/gen/terrace/market/v1/listings_pb";
import { Alert, Flex, Space, Table, Tag, Typography, type TableColumnsType } from "antd";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { Pager, useServerPages } from "../components/paging";
import { errorMessage } from "../errors";
import { useFormat } from "../format";
import { AreaSelect, withParam } from "../governance/AreaSelect";
import { chosenArea, withLevel } from "../governance/register/areas";
import { useRegisterAreas } from "../governance/register/useRegisterAreas";
import { market } from "./client";
import { localized, orderStatusLabel, quantityLabel } from "./labels";

/** The orders on listings of one of the official's areas (ListOrders with `area`), newest first, read only. */
export default function OrdersPage() {
  const { t, i18n } = useTranslation();
  const format = useFormat();
  const areas = useRegisterAreas();
  const [params, setParams] = useSearchParams();
  const area = areas ? chosenArea(params.get("area"), areas) : undefined;

  const pages = useServerPages<Order>(
    async (page, signal) => {
      if (!area) return { items: [], nextToken: "" };
      const answer = await market.listOrders({ page, area: withLevel(area) }, { signal });
      return { items: answer.orders, nextToken: answer.page?.nextPageToken ?? "", total: answer.page?.totalSize };
    },
    [area?.code],
    area !== undefined,
  );

  const columns: TableColumnsType<Order> = [
    { title: t("market.reference"), key: "reference", render: (_, o) => o.reference },
    { title: t("market.title"), key: "title", render: (_, o) => localized(o.listingTitle, i18n.language) },
    { title: t("market.village"), key: "village", render: (_, o) => o.villageName },
    { title: t("market.quantity"), key: "quantity", render: (_, o) => quantityLabel(t, o.quantity) },
    { title: t("market.total"), key: "total", render: (_, o) => format.money(o.totalPrice) },
    {
      title: t("market.method"),
      key: "method",
      render: (_, o) => (o.fulfilmentMethod === FulfilmentMethod.DELIVERY ? t("market.delivery") : t("market.pickup")),
    },
    { title: t("market.status"), key: "status", render: (_, o) => <Tag>{orderStatusLabel(t, o.status)}</Tag> },
    { title: t("market.placed"), key: "placed", render: (_, o) => format.dateTime(o.audit?.createTime) },
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("market.orders")}
      </Typography.Title>
      <Flex wrap gap={12} align="center" role="search">
        <AreaSelect
          areas={areas}
          area={area}
          label={t("market.area")}
          onChange={(code) => {
            setParams(withParam(params, "area", code), { replace: true });
            pages.restart();
          }}
          minWidth={280}
        />
      </Flex>
      {areas && areas.length === 0 && <Alert type="info" showIcon message={t("people.areaRequired")} />}
      {pages.problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, pages.problem)} />}
      <Table<Order> rowKey="id" columns={columns} dataSource={pages.items} loading={pages.loading} pagination={false} locale={{ emptyText: t("market.noOrders") }} />
      <Pager pages={pages} />
    </Space>
  );
}
