import type { Listing } from "@terrace/api/gen/terrace/market/v1/listings_pb";
import { Alert, Button, Checkbox, Flex, Space, Table, Tag, Typography, type TableColumnsType } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { Pager, useServerPages } from "../components/paging";
import { ReasonDialog } from "../components/ReasonDialog";
import { errorMessage } from "../errors";
import { useFormat } from "../format";
import { AreaName } from "../governance/AreaName";
import { AreaSelect, withParam } from "../governance/AreaSelect";
import { chosenArea, withLevel } from "../governance/register/areas";
import { useRegisterAreas } from "../governance/register/useRegisterAreas";
import { market } from "./client";
import { listingStatusLabel, localized, quantityLabel, unitLabel } from "./labels";

/**
 * The listings of one of the official's areas (ListListings with `area`, every status but
 * closed; or hidden ones only), with hide (a reason of at least 4 characters, shown to the
 * seller) and unhide. The area and the filter are kept in the address bar.
 */
export default function ListingsPage() {
  const { t, i18n } = useTranslation();
  const format = useFormat();
  const areas = useRegisterAreas();
  const [params, setParams] = useSearchParams();
  const area = areas ? chosenArea(params.get("area"), areas) : undefined;
  const hiddenOnly = params.get("hidden") === "1";
  const [hiding, setHiding] = useState<Listing>();
  const [unhiding, setUnhiding] = useState<Listing>();

  const pages = useServerPages<Listing>(
    async (page, signal) => {
      if (!area) return { items: [], nextToken: "" };
      const answer = await market.listListings({ page, area: withLevel(area), hiddenOnly }, { signal });
      return { items: answer.listings, nextToken: answer.page?.nextPageToken ?? "", total: answer.page?.totalSize };
    },
    [area?.code, hiddenOnly],
    area !== undefined,
  );

  function change(name: string, value: string) {
    setParams(withParam(params, name, value), { replace: true });
    pages.restart();
  }

  const columns: TableColumnsType<Listing> = [
    { title: t("market.title"), key: "title", render: (_, l) => localized(l.title, i18n.language) },
    { title: t("market.seller"), key: "seller", render: (_, l) => l.sellerDisplayName },
    { title: t("market.village"), key: "village", render: (_, l) => l.villageName || <AreaName area={l.villageCode} short /> },
    {
      title: t("market.price"),
      key: "price",
      render: (_, l) => `${format.money(l.unitPrice)}/${unitLabel(t, l.stocked?.unit ?? 0)}`,
    },
    {
      title: t("market.stock"),
      key: "stock",
      render: (_, l) => t("market.stockLine", { available: quantityLabel(t, l.available), reserved: quantityLabel(t, l.reserved), sold: quantityLabel(t, l.sold) }),
    },
    {
      title: t("market.status"),
      key: "status",
      render: (_, l) => (
        <Space size={4} wrap>
          <Tag>{listingStatusLabel(t, l.status)}</Tag>
          {l.hidden && (
            <Tag color="red" title={l.hiddenReason}>
              {t("market.hidden")}
            </Tag>
          )}
        </Space>
      ),
    },
    { title: t("market.hiddenReason"), key: "reason", render: (_, l) => l.hiddenReason },
    {
      title: t("market.actions"),
      key: "actions",
      render: (_, l) =>
        l.hidden ? (
          <Button size="small" onClick={() => setUnhiding(l)}>
            {t("market.unhide")}
          </Button>
        ) : (
          <Button size="small" danger onClick={() => setHiding(l)}>
            {t("market.hide")}
          </Button>
        ),
    },
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("market.listings")}
      </Typography.Title>
      <Typography.Paragraph type="secondary" style={{ margin: 0, maxWidth: 880 }}>
        {t("market.listingsIntro")}
      </Typography.Paragraph>
      <Flex wrap gap={12} align="center" role="search">
        <AreaSelect areas={areas} area={area} label={t("market.area")} onChange={(code) => change("area", code)} minWidth={280} />
        <Checkbox checked={hiddenOnly} onChange={(e) => change("hidden", e.target.checked ? "1" : "")}>
          {t("market.hiddenOnly")}
        </Checkbox>
      </Flex>
      {areas && areas.length === 0 && <Alert type="info" showIcon message={t("people.areaRequired")} />}
      {pages.problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, pages.problem)} />}
      <Table<Listing> rowKey="id" columns={columns} dataSource={pages.items} loading={pages.loading} pagination={false} locale={{ emptyText: t("market.noListings") }} />
      <Pager pages={pages} />
      <ReasonDialog
        open={hiding !== undefined}
        name="hide-listing"
        title={t("market.hideTitle", { title: localized(hiding?.title, i18n.language) })}
        okText={t("market.hide")}
        required
        minLength={4}
        action={async (requestId, reason) => {
          await market.hideListing({ requestId, listingId: hiding?.id ?? "", reason });
        }}
        onClose={() => setHiding(undefined)}
        onDone={() => {
          setHiding(undefined);
          pages.restart();
        }}
      >
        <p>{t("market.hideExplain")}</p>
      </ReasonDialog>
      <ReasonDialog
        open={unhiding !== undefined}
        name="unhide-listing"
        title={t("market.unhideTitle", { title: localized(unhiding?.title, i18n.language) })}
        okText={t("market.unhide")}
        required={false}
        reasonField="note"
        danger={false}
        action={async (requestId, note) => {
          await market.unhideListing({ requestId, listingId: unhiding?.id ?? "", note });
        }}
        onClose={() => setUnhiding(undefined)}
        onDone={() => {
          setUnhiding(undefined);
          pages.restart();
        }}
      />
    </Space>
  );
}
