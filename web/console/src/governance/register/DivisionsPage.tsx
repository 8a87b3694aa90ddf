import { create } from "@bufbuild/protobuf";
import { AdminCodeSchema, type AdminCode } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import type { Division } from "@terrace/api/gen/terrace/governance/v1/divisions_pb";
import { Alert, Breadcrumb, Button, Flex, Input, Space, Table, Typography, type TableColumnsType } from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";
import { Pager, useServerPages } from "../../components/paging";
import { errorMessage } from "../../errors";
import { withinAreas } from "../../identity/access";
import { adminCodeFromDigits } from "../../identity/labels";
import { AreaName } from "../AreaName";
import { searchDivisions, type DivisionOption } from "../divisions";
import { isVillage } from "./areas";
import { useRegisterAreas } from "./useRegisterAreas";
import { governance } from "./client";

const code = (digits: string): AdminCode => create(AdminCodeSchema, adminCodeFromDigits(digits));

/** A row of the page: a division listed under its parent, or found by a search. */
interface Row {
  code: string;
  label: React.ReactNode;
  children: number | undefined;
}

/**
 * The administrative divisions the official works in: their own areas, and from there down
 * (ListChildDivisions) to the villages, whose households are a click away; or found by name or
 * pinyin initials inside their areas (SearchDivisions). Where the list is stands in the address
 * bar (`?at=`), so "back" climbs up again.
 */
export default function DivisionsPage() {
  const { t } = useTranslation();
  const areas = useRegisterAreas();
  const [params, setParams] = useSearchParams();
  const at = params.get("at") ?? "";
  const inside = at !== "" && areas !== undefined && (withinAreas(at, areas) || areas.some((a) => a.code === at));
  const [path, setPath] = useState<Division[]>([]);
  const [search, setSearch] = useState("");
  const [found, setFound] = useState<DivisionOption[]>();
  const [searchProblem, setSearchProblem] = useState<unknown>();

  // The way from the official's own area down to here, for the breadcrumb.
  useEffect(() => {
    if (!inside) {
      setPath([]);
      return;
    }
    const abort = new AbortController();
    Promise.all([
      governance.getDivisionAncestors({ code: code(at) }, { signal: abort.signal }),
      governance.getDivision({ code: code(at) }, { signal: abort.signal }),
    ])
      .then(([ancestors, self]) => {
        const all = [...ancestors.ancestors, ...(self.division ? [self.division] : [])];
        // From the first division that is (or lies inside) one of the official's areas.
        const start = all.findIndex((d) => withinAreas(d.code?.code ?? "", areas ?? []));
        setPath(start < 0 ? all : all.slice(start));
      })
      .catch(() => !abort.signal.aborted && setPath([]));
    return () => abort.abort();
  }, [at, inside, areas]);

  const children = useServerPages<Row>(
    async (page, signal) => {
      const answer = await governance.listChildDivisions({ page, parentCode: code(at) }, { signal });
      return {
        items: answer.divisions.map((d) => ({ code: d.code?.code ?? "", label: d.name, children: d.childCount })),
        nextToken: answer.page?.nextPageToken ?? "",
        total: answer.page?.totalSize,
      };
    },
    [at],
    inside,
  );

  async function find(text: string) {
    setSearch(text);
    setSearchProblem(undefined);
    if (text.trim() === "") {
      setFound(undefined);
      return;
    }
    try {
      setFound(await searchDivisions(text, areas ?? []));
    } catch (err) {
      setSearchProblem(err);
    }
  }

  const go = (digits: string) => {
    setFound(undefined);
    setSearch("");
    setParams(digits ? { at: digits } : {});
  };

  const rows: Row[] =
    found !== undefined
      ? // The code has a column of its own.
        found.map((o) => ({ code: o.value, label: o.label.replace(/ \(\d{12}\)$/, ""), children: undefined }))
      : inside
        ? children.items
        : (areas ?? []).map((a) => ({ code: a.code, label: <AreaName area={a} />, children: undefined }));

  const columns: TableColumnsType<Row> = [
    { title: t("divisions.name"), key: "name", render: (_, r) => r.label },
    { title: t("divisions.code"), dataIndex: "code", key: "code", render: (c: string) => <code>{c}</code> },
    {
      title: t("divisions.children"),
      key: "children",
      align: "right",
      render: (_, r) => (r.children === undefined ? "" : r.children),
    },
    {
      title: t("people.actions"),
      key: "actions",
      render: (_, r) =>
        isVillage(r.code) ? (
          <Link to={`/governance/households?area=${r.code}`}>{t("divisions.households")}</Link>
        ) : (
          <Button size="small" onClick={() => go(r.code)} disabled={r.children === 0}>
            {t("divisions.open")}
          </Button>
        ),
    },
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("divisions.title")}
      </Typography.Title>
      <Flex wrap gap={12} role="search">
        <Input.Search
          aria-label={t("divisions.search")}
          placeholder={t("divisions.searchPlaceholder")}
          allowClear
          value={search}
          onChange={(e) => {
            setSearch(e.target.value);
            if (e.target.value === "") setFound(undefined);
          }}
          enterButton={t("people.search")}
          onSearch={(value) => void find(value)}
          style={{ maxWidth: 420 }}
        />
      </Flex>
      <nav aria-label={t("divisions.where")}>
        <Breadcrumb
          items={[
            { title: <Crumb onClick={() => go("")}>{t("divisions.mine")}</Crumb> },
            ...(found !== undefined
              ? [{ title: t("divisions.results", { query: search }) }]
              : path.map((d, i) => ({
                  title:
                    i === path.length - 1 ? (
                      d.name
                    ) : (
                      <Crumb onClick={() => go(d.code?.code ?? "")}>{d.name}</Crumb>
                    ),
                }))),
          ]}
        />
      </nav>
      {areas && areas.length === 0 && <Alert type="info" showIcon message={t("people.areaRequired")} />}
      {at !== "" && areas !== undefined && !inside && <Alert type="warning" showIcon message={t("divisions.outside")} />}
      {(children.problem ?? searchProblem) !== undefined && (
        <Alert type="error" showIcon role="alert" message={errorMessage(t, children.problem ?? searchProblem)} />
      )}
      <Table<Row>
        rowKey="code"
        columns={columns}
        dataSource={rows}
        loading={inside && found === undefined && children.loading}
        pagination={false}
        locale={{ emptyText: found !== undefined ? t("divisions.noneFound") : t("divisions.none") }}
      />
      {inside && found === undefined && <Pager pages={children} />}
    </Space>
  );
}

/** A step of the breadcrumb that goes back up: a button, since it changes the list, not the page. */
function Crumb({ onClick, children }: { onClick: () => void; children: React.ReactNode }) {
  return (
    <Button type="link" size="small" onClick={onClick} style={{ padding: 0, height: "auto" }}>
      {children}
    </Button>
  );
}
