import type { Money } from "@terrace/api/gen/terrace/common/v1/money_pb";
import type { Category, PriceStats } from "@terrace/api/gen/terrace/market/v1/listings_pb";
import type { GetPriceReferenceResponse } from "@terrace/api/gen/terrace/market/v1/market_service_pb";
import { Alert, Flex, Select, Space, Table, Typography, type TableColumnsType } from "antd";
import { useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { errorMessage } from "../errors";
import { useFormat } from "../format";
import { AreaName } from "../governance/AreaName";
import { AreaSelect, withParam } from "../governance/AreaSelect";
import { chosenArea, withLevel } from "../governance/register/areas";
import { useRegisterAreas } from "../governance/register/useRegisterAreas";
import { market } from "./client";
import { localized, unitLabel } from "./labels";
import { categoryGroups, kindsOf, widened, WINDOWS, windowFrom } from "./prices";

type Row = { category: Category; reference: GetPriceReferenceResponse };

/**
 * The price reference by category for one of the official's areas: for each kind of produce in
 * a group (水果, 蔬菜…), the median and quartiles of what it sold for (orders completed in the
 * window) and of what it is offered at now (active listings), per its default unit. These are
 * the figures a farmer sees beside the price when she drafts a listing; an official reads them to
 * spot prices far off the area's (a listing to look at) and to answer "what does tea fetch here".
 * Where the area has fewer than five prices the server widens it, and the row says to which.
 * Area, group and window are kept in the address bar.
 */
export default function PricesPage() {
  const { t, i18n } = useTranslation();
  const format = useFormat();
  const areas = useRegisterAreas();
  const [params, setParams] = useSearchParams();
  const area = areas ? chosenArea(params.get("area"), areas) : undefined;
  const days = windowFrom(params.get("days"));
  const [categories, setCategories] = useState<Category[]>();
  const [rows, setRows] = useState<Row[]>();
  const [problem, setProblem] = useState<unknown>();
  const groups = useMemo(() => categoryGroups(categories ?? []), [categories]);
  const groupId = groups.some((g) => g.id === params.get("group")) ? (params.get("group") ?? "") : (groups[0]?.id ?? "");

  useEffect(() => {
    const abort = new AbortController();
    market
      .listCategories({ page: { pageSize: 500 } }, { signal: abort.signal })
      .then((answer) => setCategories(answer.categories))
      .catch((error: unknown) => abort.signal.aborted || setProblem(error));
    return () => abort.abort();
  }, []);

  useEffect(() => {
    if (!area || !categories || !groupId) return;
    const abort = new AbortController();
    setRows(undefined);
    setProblem(undefined);
    const kinds = kindsOf(categories, groupId);
    Promise.all(
      kinds.map(async (category) => ({
        category,
        reference: await market.getPriceReference(
          { categoryId: category.id, area: withLevel(area), unit: category.defaultUnit, windowDays: days },
          { signal: abort.signal },
        ),
      })),
    )
      .then(setRows)
      .catch((error: unknown) => abort.signal.aborted || setProblem(error));
    return () => abort.abort();
  }, [area?.code, categories, groupId, days]); // eslint-disable-line react-hooks/exhaustive-deps

  function change(name: string, value: string) {
    setParams(withParam(params, name, value), { replace: true });
  }

  /** "¥3.80/斤" */
  const per = (money: Money | undefined, row: Row) => `${format.money(money)}/${unitLabel(t, row.reference.unit)}`;
  /** The median, the middle half and the count; "—" without prices. */
  const figures = (stats: PriceStats | undefined, row: Row) =>
    !stats || stats.count === 0n ? (
      <Typography.Text type="secondary">{t("market.noPrices")}</Typography.Text>
    ) : (
      <Space direction="vertical" size={0}>
        <Typography.Text strong>{per(stats.median, row)}</Typography.Text>
        <Typography.Text type="secondary">
          {t("market.priceSpread", { low: per(stats.p25, row), high: per(stats.p75, row), n: Number(stats.count) })}
        </Typography.Text>
      </Space>
    );

  const columns: TableColumnsType<Row> = [
    {
      title: t("market.category"),
      key: "category",
      render: (_, row) => (
        <Space>
          {row.category.icon?.uri && <img src={row.category.icon.uri} alt="" width={28} height={28} />}
          {localized(row.category.name, i18n.language)}
        </Space>
      ),
    },
    { title: t("market.soldFor"), key: "orders", render: (_, row) => figures(row.reference.completedOrders, row) },
    { title: t("market.offeredAt"), key: "listings", render: (_, row) => figures(row.reference.activeListings, row) },
    {
      title: t("market.pricesOf"),
      key: "area",
      render: (_, row) =>
        widened(area, row.reference.area) ? (
          <Typography.Text type="secondary">
            {t("market.widenedTo")} <AreaName area={row.reference.area} short />
          </Typography.Text>
        ) : (
          <AreaName area={row.reference.area} short />
        ),
    },
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("market.prices")}
      </Typography.Title>
      <Typography.Paragraph type="secondary" style={{ margin: 0, maxWidth: 880 }}>
        {t("market.pricesIntro")}
      </Typography.Paragraph>
      <Flex wrap gap={12} align="center" role="search">
        <AreaSelect areas={areas} area={area} label={t("market.area")} onChange={(code) => change("area", code)} minWidth={280} />
        <Select
          aria-label={t("market.group")}
          value={groupId || undefined}
          onChange={(id: string) => change("group", id)}
          options={groups.map((g) => ({ value: g.id, label: localized(g.name, i18n.language) }))}
          style={{ minWidth: 160 }}
          loading={!categories}
        />
        <Select
          aria-label={t("market.window")}
          value={days}
          onChange={(value: number) => change("days", String(value))}
          options={WINDOWS.map((d) => ({ value: d, label: t("market.lastDays", { days: d }) }))}
          style={{ minWidth: 140 }}
        />
      </Flex>
      {areas && areas.length === 0 && <Alert type="info" showIcon message={t("people.areaRequired")} />}
      {problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, problem)} />}
      <Table<Row>
        rowKey={(row) => row.category.id}
        columns={columns}
        dataSource={rows}
        loading={area !== undefined && rows === undefined && problem === undefined}
        pagination={false}
        locale={{ emptyText: t("market.noPrices") }}
      />
    </Space>
  );
}
