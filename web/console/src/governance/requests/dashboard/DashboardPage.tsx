import type { GetServiceRequestStatsResponse } from "@terrace/api/gen/terrace/governance/v1/governance_service_pb";
import { Alert, Button, Card, Col, DatePicker, Flex, Row, Space, Spin, Statistic, Table, Typography, type TableColumnsType } from "antd";
import dayjs from "dayjs";
import { useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";
import { errorMessage } from "../../../errors";
import { useFormat } from "../../../format";
import { AreaName } from "../../AreaName";
import { AreaSelect } from "../../AreaSelect";
import { divisionName } from "../../divisions";
import { chosenArea, withLevel } from "../../register/areas";
import { governance } from "../../register/client";
import { useRegisterAreas } from "../../register/useRegisterAreas";
import { requestStatusLabel } from "../labels";
import { Chart, type ChartOption } from "./Chart";
import {
  addDays,
  ageBandWords,
  byAge,
  byDay,
  byStatus,
  chinaToday,
  complianceByVillage,
  overallCompliance,
  rangeFromParams,
  sum,
  toDateRange,
  type AgeBar,
  type DayBar,
  type VillageCompliance,
} from "./stats";

/** The console's primary blue (the theme's), and the error red for what is late. */
const BLUE = "#0958d9";
const RED = "#cf1322";

/**
 * The dashboard of one of the official's areas (GetServiceRequestStats): open requests by status
 * and by how long ago they were filed, how many are overdue, and for a range of days (the last 7
 * by default) each village's SLA compliance and the new requests of each day. Each chart has a
 * heading, an accessible name saying what it shows, and a table of its numbers beneath it. The
 * area and the range are kept in the address bar.
 */
export default function DashboardPage() {
  const { t, i18n } = useTranslation();
  const format = useFormat();
  const areas = useRegisterAreas();
  const [params, setParams] = useSearchParams();
  const area = areas ? chosenArea(params.get("area"), areas) : undefined;
  const range = rangeFromParams(params.get("from"), params.get("to"), new Date());
  const today = chinaToday(new Date());
  const [stats, setStats] = useState<GetServiceRequestStatsResponse>();
  const [problem, setProblem] = useState<unknown>();
  const [loading, setLoading] = useState(false);

  useEffect(() => {
    if (!area) return;
    const abort = new AbortController();
    setLoading(true);
    setProblem(undefined);
    governance
      .getServiceRequestStats({ area: withLevel(area), range: toDateRange(range) }, { signal: abort.signal })
      .then((answer) => {
        setStats(answer);
        setLoading(false);
      })
      .catch((err: unknown) => {
        if (!abort.signal.aborted) {
          setStats(undefined);
          setProblem(err);
          setLoading(false);
        }
      });
    return () => abort.abort();
    // The area's code and the days are what matter (the objects are rebuilt on every render).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [area?.code, range.from, range.to]);

  function change(values: Record<string, string>) {
    const next = new URLSearchParams(params);
    for (const [name, value] of Object.entries(values)) {
      if (value) next.set(name, value);
      else next.delete(name);
    }
    setParams(next, { replace: true });
  }
  const last = (days: number) => change({ from: addDays(today, -(days - 1)), to: today });

  const statuses = useMemo(() => byStatus(stats?.openByStatus ?? []), [stats]);
  const ages = useMemo(() => byAge(stats?.openByAge ?? []), [stats]);
  const villages = useMemo(() => complianceByVillage(stats?.slaByVillage ?? []), [stats]);
  const overall = useMemo(() => overallCompliance(stats?.slaByVillage ?? []), [stats]);
  const days = useMemo(() => byDay(stats?.newByDay ?? []), [stats]);
  const names = useVillageNames(villages.map((v) => v.village));
  const percent = useMemo(() => new Intl.NumberFormat(i18n.language, { style: "percent", maximumFractionDigits: 1 }), [i18n.language]);
  const rate = (r: number | undefined) => (r === undefined ? "–" : percent.format(r));
  const ageLabel = (band: AgeBar) => {
    const { unit, from, to } = ageBandWords(band);
    if (to === undefined) return t("dashboard.over", { from });
    if (unit === "hours") return from === 0 ? t("dashboard.underHours", { to }) : t("dashboard.betweenHours", { from, to });
    return from === 0 ? t("dashboard.under", { to }) : t("dashboard.between", { from, to });
  };
  const dayLabel = useMemo(() => {
    const long = new Intl.DateTimeFormat(i18n.language, { month: "short", day: "numeric", weekday: "short", timeZone: "UTC" });
    return (day: string) => long.format(new Date(`${day}T00:00:00Z`));
  }, [i18n.language]);
  const villageName = (code: string) => names.get(code) ?? code;

  /** A chart's accessible name: its title, then each bar's label and number. */
  const described = (title: string, bars: [string, string][]) => `${title}: ${bars.map(([label, value]) => `${label} ${value}`).join("; ")}`;

  const statusTitle = t("dashboard.byStatus");
  const ageTitle = t("dashboard.byAge");
  const slaTitle = t("dashboard.slaByVillage");
  const dayTitle = t("dashboard.newByDay");
  /** Bars of counts, or (`percent`) horizontal bars of shares from 0 to 100 %. */
  const bars = (labels: string[], values: number[], color: string | string[], percent = false): ChartOption => ({
    grid: { left: 8, right: 32, top: 16, bottom: 8, containLabel: true },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: percent ? (v: number) => `${v}%` : undefined },
    [percent ? "yAxis" : "xAxis"]: { type: "category", data: labels, axisLabel: { interval: 0, hideOverlap: true } },
    [percent ? "xAxis" : "yAxis"]: percent
      ? { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } }
      : { type: "value", minInterval: 1 },
    series: [
      {
        type: "bar",
        data: values.map((value, i) => ({ value, itemStyle: { color: Array.isArray(color) ? color[i] : color } })),
        barMaxWidth: 40,
        label: { show: true, position: percent ? "right" : "top", formatter: percent ? "{c}%" : "{c}" },
      },
    ],
  });

  const statusOption = useMemo(
    () => bars(statuses.map((s) => requestStatusLabel(t, s.status)), statuses.map((s) => s.count), BLUE),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [statuses, t],
  );
  const ageOption = useMemo(
    // Older bands in warmer colours: what has waited longest stands out.
    () => bars(ages.map(ageLabel), ages.map((a) => a.count), ages.map((_, i) => [BLUE, BLUE, "#d46b08", "#d4380d", RED][i] ?? RED)),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [ages, t],
  );
  const slaOption = useMemo(
    () =>
      bars(
        villages.map((v) => villageName(v.village)),
        villages.map((v) => (v.rate === undefined ? 0 : Math.round(v.rate * 1000) / 10)),
        villages.map((v) => (v.rate === undefined || v.rate >= 0.9 ? "#237804" : v.rate >= 0.6 ? "#d46b08" : RED)),
        true,
      ),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [villages, names],
  );
  const dayOption = useMemo(
    () => bars(days.map((d) => d.day.slice(5)), days.map((d) => d.count), BLUE),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [days],
  );

  const count = { title: t("dashboard.count"), key: "count", align: "right" as const, render: (_: unknown, r: { count: number }) => format.number(r.count) };
  const statusColumns: TableColumnsType<(typeof statuses)[number]> = [
    { title: t("dashboard.status"), key: "status", render: (_, r) => requestStatusLabel(t, r.status) },
    count,
  ];
  const ageColumns: TableColumnsType<AgeBar> = [{ title: t("dashboard.age"), key: "age", render: (_, r) => ageLabel(r) }, count];
  const slaColumns: TableColumnsType<VillageCompliance> = [
    { title: t("dashboard.village"), key: "village", render: (_, r) => <AreaName area={r.village} short /> },
    { title: t("dashboard.due"), key: "due", align: "right", render: (_, r) => format.number(r.due) },
    { title: t("dashboard.met"), key: "met", align: "right", render: (_, r) => format.number(r.met) },
    { title: t("dashboard.rate"), key: "rate", align: "right", render: (_, r) => rate(r.rate) },
  ];
  const dayColumns: TableColumnsType<DayBar> = [{ title: t("dashboard.day"), key: "day", render: (_, r) => dayLabel(r.day) }, count];

  const openTotal = sum(statuses);
  const overdue = stats?.overdue ?? 0;
  const inboxLink = `/governance/requests?${new URLSearchParams({ ...(area ? { area: area.code } : {}), overdue: "1" }).toString()}`;

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("dashboard.title")}
      </Typography.Title>
      <Typography.Paragraph type="secondary" style={{ margin: 0, maxWidth: 880 }}>
        {t("dashboard.intro")}
      </Typography.Paragraph>
      <Flex wrap gap={12} align="center" role="search">
        <AreaSelect areas={areas} area={area} label={t("dashboard.area")} onChange={(code) => change({ area: code })} minWidth={280} />
        <DatePicker.RangePicker
          aria-label={t("dashboard.range")}
          allowClear={false}
          value={[dayjs(range.from), dayjs(range.to)]}
          // A dashboard of what happened: no day after today (China time), at most 92 days.
          disabledDate={(day) => day.format("YYYY-MM-DD") > today}
          maxDate={dayjs(addDays(range.from, 91))}
          onChange={(values) => {
            const [from, to] = values ?? [];
            if (from && to) change({ from: from.format("YYYY-MM-DD"), to: to.format("YYYY-MM-DD") });
          }}
        />
        <Button onClick={() => last(7)}>{t("dashboard.last7")}</Button>
        <Button onClick={() => last(30)}>{t("dashboard.last30")}</Button>
        {loading && <Spin aria-label={t("dashboard.loading")} />}
      </Flex>
      {areas && areas.length === 0 && <Alert type="info" showIcon message={t("people.areaRequired")} />}
      {problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, problem)} />}
      <Row gutter={[16, 16]} role="region" aria-label={t("dashboard.title")}>
        <Col xs={12} lg={6}>
          <Card size="small">
            <Statistic title={t("dashboard.open")} value={openTotal} loading={stats === undefined} />
          </Card>
        </Col>
        <Col xs={12} lg={6}>
          <Card size="small">
            <Statistic
              title={t("dashboard.overdue")}
              value={overdue}
              loading={stats === undefined}
              valueStyle={overdue > 0 ? { color: RED } : undefined}
            />
            {overdue > 0 && <Link to={inboxLink}>{t("dashboard.showOverdue")}</Link>}
          </Card>
        </Col>
        <Col xs={12} lg={6}>
          <Card size="small">
            <Statistic title={t("dashboard.newInRange")} value={sum(days)} loading={stats === undefined} />
          </Card>
        </Col>
        <Col xs={12} lg={6}>
          <Card size="small">
            <Statistic title={t("dashboard.onTime")} value={rate(overall.rate)} loading={stats === undefined} />
            {overall.due > 0 && <Typography.Text type="secondary">{t("dashboard.onTimeOf", { met: overall.met, due: overall.due })}</Typography.Text>}
          </Card>
        </Col>
      </Row>
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={12}>
          <Figure id="by-status" title={statusTitle}>
            <Chart option={statusOption} label={described(statusTitle, statuses.map((s) => [requestStatusLabel(t, s.status), format.number(s.count)]))} />
            <Table rowKey="status" size="small" pagination={false} columns={statusColumns} dataSource={statuses} />
          </Figure>
        </Col>
        <Col xs={24} xl={12}>
          <Figure id="by-age" title={ageTitle}>
            <Chart option={ageOption} label={described(ageTitle, ages.map((a) => [ageLabel(a), format.number(a.count)]))} />
            <Table rowKey="minHours" size="small" pagination={false} columns={ageColumns} dataSource={ages} />
          </Figure>
        </Col>
        <Col xs={24} xl={12}>
          <Figure id="sla-by-village" title={slaTitle} hint={t("dashboard.slaHint")}>
            {villages.length > 0 && (
              <Chart
                option={slaOption}
                height={Math.max(120, 36 * villages.length + 40)}
                label={described(slaTitle, villages.map((v) => [villageName(v.village), rate(v.rate)]))}
              />
            )}
            <Table
              rowKey="village"
              size="small"
              pagination={villages.length > 20 ? { pageSize: 20 } : false}
              columns={slaColumns}
              dataSource={villages}
              locale={{ emptyText: t("dashboard.noDue") }}
            />
          </Figure>
        </Col>
        <Col xs={24} xl={12}>
          <Figure id="new-by-day" title={dayTitle}>
            <Chart option={dayOption} label={described(dayTitle, days.map((d) => [dayLabel(d.day), format.number(d.count)]))} />
            <Table
              rowKey="day"
              size="small"
              pagination={days.length > 31 ? { pageSize: 31 } : false}
              columns={dayColumns}
              dataSource={days}
            />
          </Figure>
        </Col>
      </Row>
    </Space>
  );
}

/** A chart's card: its title as a heading (named by `id`), an optional hint, the chart and its table. */
function Figure({ id, title, hint, children }: { id: string; title: string; hint?: string; children: React.ReactNode }) {
  return (
    <Card
      role="region"
      aria-labelledby={id}
      title={
        <Typography.Title id={id} level={2} style={{ fontSize: 16, margin: 0 }}>
          {title}
        </Typography.Title>
      }
    >
      {hint && (
        <Typography.Paragraph type="secondary" style={{ marginTop: 0 }}>
          {hint}
        </Typography.Paragraph>
      )}
      <Space direction="vertical" size="middle" style={{ width: "100%" }}>
        {children}
      </Space>
    </Card>
  );
}

/** Villages' names for the chart's axis (the table names them with AreaName), by code. */
function useVillageNames(codes: string[]): Map<string, string> {
  const key = codes.join(",");
  const [names, setNames] = useState<Map<string, string>>(new Map());
  useEffect(() => {
    let current = true;
    void Promise.all(codes.map(async (code) => [code, (await divisionName(code))?.split(" · ")[0]] as const)).then((found) => {
      if (current) setNames(new Map(found.filter((f): f is readonly [string, string] => f[1] !== undefined)));
    });
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return names;
}

