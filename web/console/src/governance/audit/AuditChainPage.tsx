import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { AdminLevel, type AdminCode } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import type { AuditEntry } from "@terrace/api/gen/terrace/governance/v1/audit_pb";
import type { ListAuditEntriesResponse } from "@terrace/api/gen/terrace/governance/v1/governance_service_pb";
import { Role } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { ReloadOutlined, SafetyCertificateOutlined } from "@ant-design/icons";
import { Alert, Button, Flex, Progress, Select, Space, Table, Typography, type TableColumnsType } from "antd";
import type { TFunction } from "i18next";
import { useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { errorMessage } from "../../errors";
import { useFormat } from "../../format";
import { ownAreas } from "../../identity/access";
import { actorLabel, prettyDetails } from "../../identity/audit";
import { adminCodeFromDigits } from "../../identity/labels";
import { UserName } from "../../identity/UserName";
import { useMyGrants } from "../../shell/CurrentUser";
import { AreaName } from "../AreaName";
import { withLevel } from "../register/areas";
import { governance } from "../register/client";
import { readAndVerify, type Problem, type Verdict } from "./chain";

type Verification =
  | { state: "running"; checked: bigint; head: bigint }
  | { state: "done"; verdict: Verdict; headSequence: bigint; headTime?: Timestamp }
  | { state: "failed"; problem: unknown };

/** Whether ListAuditEntries of this area answers a whole chain (county or above), not a filtered one. */
export function isWholeChain(area: AdminCode): boolean {
  const level = area.level === AdminLevel.UNSPECIFIED ? adminCodeFromDigits(area.code).level : area.level;
  return level !== AdminLevel.TOWNSHIP && level !== AdminLevel.VILLAGE;
}

/** A chain's break in words. */
export function problemText(t: TFunction, sequence: bigint, problem: Problem): string {
  const k = String(sequence);
  switch (problem.kind) {
    case "edited":
      return t("chain.edited", { k });
    case "reordered":
      return t("chain.reordered", { k });
    case "missing":
      return t("chain.missing", { k, found: String(problem.found) });
    case "outOfOrder":
      return t("chain.outOfOrder", { k, found: String(problem.found) });
    case "truncated":
      return t("chain.truncated", { k, head: String(problem.head) });
    case "headMismatch":
      return t("chain.headMismatch", { k });
    case "wrongChain":
      return t("chain.wrongChain", { k, found: problem.found });
    case "malformed":
      return t("chain.malformed", { k, what: problem.what });
  }
}

const shortHash = (hash: string) => `${hash.slice(0, 12)}…${hash.slice(-6)}`;

/**
 * Governance's tamper-evident audit log (ListAuditEntries) of a county, newest first, and its
 * verification in the browser: the whole chain read from sequence 1 in pages of 5000, each
 * entry's hash recomputed (WebCrypto), the links and the head checked. County admins (their
 * counties) and platform admins.
 */
export default function AuditChainPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const grants = useMyGrants();
  const areas = useMemo(() => ownAreas(grants, [Role.COUNTY_ADMIN, Role.PLATFORM_ADMIN]).map(withLevel), [grants]);
  const [chosen, setChosen] = useState<string>();
  const area = areas.find((a) => a.code === chosen) ?? areas[0];
  const [pageSize, setPageSize] = useState(20);
  const [pageNumber, setPageNumber] = useState(1);
  /** The head the list pages from (read when the area is chosen or on refresh). */
  const [head, setHead] = useState<bigint>();
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [loading, setLoading] = useState(false);
  const [problem, setProblem] = useState<unknown>();
  const [generation, setGeneration] = useState(0);
  const [verification, setVerification] = useState<Verification>();
  const [verifyGeneration, setVerifyGeneration] = useState(0);
  const whole = area !== undefined && isWholeChain(area);

  // The page of the list: sequences (head - k·size, head - (k-1)·size], newest first.
  useEffect(() => {
    if (!area) return;
    const abort = new AbortController();
    setLoading(true);
    setProblem(undefined);
    void (async () => {
      let top = head;
      if (top === undefined) {
        const first = await governance.listAuditEntries({ area, page: { pageSize: 1, pageToken: "" } }, { signal: abort.signal });
        top = first.headSequence;
        setHead(top);
      }
      const hi = top - BigInt((pageNumber - 1) * pageSize);
      const lo = hi - BigInt(pageSize) + 1n > 1n ? hi - BigInt(pageSize) + 1n : 1n;
      if (hi < 1n) return [];
      const answer: ListAuditEntriesResponse = await governance.listAuditEntries(
        { area, fromSequence: lo, page: { pageSize: Number(hi - lo + 1n), pageToken: "" } },
        { signal: abort.signal },
      );
      return answer.entries.filter((e) => e.sequence <= hi).reverse();
    })()
      .then((page) => !abort.signal.aborted && setEntries(page))
      .catch((err: unknown) => {
        if (!abort.signal.aborted) {
          setEntries([]);
          setProblem(err);
        }
      })
      .finally(() => !abort.signal.aborted && setLoading(false));
    return () => abort.abort();
  }, [area?.code, head, pageNumber, pageSize, generation]); // eslint-disable-line react-hooks/exhaustive-deps

  // The verification of the whole chain.
  useEffect(() => {
    if (!area || !whole) {
      setVerification(undefined);
      return;
    }
    const abort = new AbortController();
    setVerification({ state: "running", checked: 0n, head: 0n });
    readAndVerify(
      area.code,
      async (fromSequence, size) => {
        const answer = await governance.listAuditEntries(
          { area, fromSequence, page: { pageSize: size, pageToken: "" } },
          { signal: abort.signal },
        );
        return { entries: answer.entries, headSequence: answer.headSequence, headHash: answer.headHash, headTime: answer.headTime };
      },
      (checked, top) => !abort.signal.aborted && setVerification({ state: "running", checked, head: top }),
    )
      .then(
        (verdict) =>
          !abort.signal.aborted && setVerification({ state: "done", verdict, headSequence: verdict.headSequence, headTime: verdict.headTime }),
      )
      .catch((err: unknown) => !abort.signal.aborted && setVerification({ state: "failed", problem: err }));
    return () => abort.abort();
  }, [area?.code, whole, verifyGeneration]); // eslint-disable-line react-hooks/exhaustive-deps

  const lastPage = head !== undefined && BigInt(pageNumber * pageSize) >= head;
  const hi = head === undefined ? 0n : head - BigInt((pageNumber - 1) * pageSize);
  const lo = hi - BigInt(pageSize) + 1n > 1n ? hi - BigInt(pageSize) + 1n : 1n;

  const columns: TableColumnsType<AuditEntry> = [
    { title: "#", key: "sequence", render: (_, e) => String(e.sequence), width: 70, align: "right" },
    { title: t("audit.time"), key: "time", render: (_, e) => format.dateTime(e.time), width: 170 },
    {
      title: t("audit.actor"),
      key: "actor",
      render: (_, e) =>
        e.actor?.userId && !e.actor.onBehalfOfUserId ? <UserName userId={e.actor.userId} /> : actorLabel(e.actor),
    },
    {
      title: t("audit.action"),
      key: "action",
      render: (_, e) => (
        <Typography.Text code style={{ whiteSpace: "nowrap" }}>
          {e.action}
        </Typography.Text>
      ),
    },
    {
      title: t("audit.target"),
      key: "target",
      render: (_, e) => (
        <>
          {e.targetType}{" "}
          {e.targetType === "user" ? (
            <UserName userId={e.targetId} />
          ) : e.targetType === "resident" && e.targetId ? (
            <Link to={`/governance/residents/${e.targetId}`} style={{ textDecoration: "underline" }}>{e.targetId.slice(-8)}</Link>
          ) : e.targetType === "household" && e.targetId ? (
            <Link to={`/governance/households/${e.targetId}`} style={{ textDecoration: "underline" }}>{e.targetId.slice(-8)}</Link>
          ) : (
            <Typography.Text code copyable>
              {e.targetId}
            </Typography.Text>
          )}
        </>
      ),
    },
    { title: t("audit.area"), key: "area", render: (_, e) => (e.area?.code ? <AreaName area={e.area} short /> : "") },
    {
      title: t("chain.details"),
      key: "details",
      render: (_, e) =>
        e.detailsJson && e.detailsJson !== "{}" ? (
          <Typography.Text code ellipsis={{ tooltip: prettyDetails(e.detailsJson) }} style={{ maxWidth: 260 }}>
            {e.detailsJson}
          </Typography.Text>
        ) : null,
    },
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("chain.title")}
      </Typography.Title>
      <Typography.Text type="secondary">{t("chain.intro")}</Typography.Text>
      <Flex wrap gap={12} align="center">
        {areas.length > 0 && (
          <Select
            aria-label={t("chain.county")}
            value={area?.code}
            onChange={(code: string) => {
              setChosen(code);
              setHead(undefined);
              setPageNumber(1);
            }}
            options={areas.map((a) => ({ value: a.code, label: <AreaName area={a} /> }))}
            style={{ minWidth: 320 }}
          />
        )}
        <Button
          icon={<ReloadOutlined />}
          onClick={() => {
            setHead(undefined);
            setPageNumber(1);
            setGeneration((n) => n + 1);
          }}
        >
          {t("chain.refresh")}
        </Button>
        {whole && (
          <Button
            icon={<SafetyCertificateOutlined />}
            disabled={verification?.state === "running"}
            onClick={() => setVerifyGeneration((n) => n + 1)}
          >
            {t("chain.verifyAgain")}
          </Button>
        )}
      </Flex>
      {areas.length === 0 && grants !== undefined && <Alert type="info" showIcon message={t("chain.adminsOnly")} />}
      {area && !whole && <Alert type="info" showIcon message={t("chain.countyOnly")} />}
      <div aria-live="polite" id="chain-verification">
        {verification?.state === "running" && (
          <Alert
            type="info"
            showIcon
            message={t("chain.verifying")}
            description={
              verification.head > 0n && (
                <Progress
                  percent={Math.floor((Number(verification.checked) * 100) / Number(verification.head))}
                  aria-label={t("chain.verifying")}
                />
              )
            }
          />
        )}
        {verification?.state === "failed" && (
          <Alert type="error" showIcon role="alert" message={t("chain.couldNotVerify")} description={errorMessage(t, verification.problem)} />
        )}
        {verification?.state === "done" &&
          (verification.verdict.intact ? (
            <Alert
              type="success"
              showIcon
              message={t("chain.intact", { count: Number(verification.verdict.entries) })}
              description={
                verification.headSequence > 0n ? (
                  <span>
                    {t("chain.head", { sequence: String(verification.headSequence), time: format.dateTime(verification.headTime) })}{" "}
                    <Typography.Text code copyable={{ text: verification.verdict.headHash }}>
                      {shortHash(verification.verdict.headHash)}
                    </Typography.Text>
                  </span>
                ) : (
                  t("chain.empty")
                )
              }
            />
          ) : (
            <Alert
              type="error"
              showIcon
              role="alert"
              message={t("chain.broken", { k: String(verification.verdict.broken.sequence) })}
              description={problemText(t, verification.verdict.broken.sequence, verification.verdict.broken.problem)}
            />
          ))}
      </div>
      {problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, problem)} />}
      <Table<AuditEntry>
        rowKey={(e) => String(e.sequence)}
        columns={columns}
        dataSource={entries}
        loading={loading}
        pagination={false}
        locale={{ emptyText: t("audit.empty") }}
        scroll={{ x: true }}
      />
      <Flex justify="flex-end" align="center" gap={12} wrap>
        {head !== undefined && head > 0n && (
          <span aria-live="polite">{t("chain.window", { page: pageNumber, lo: String(lo), hi: String(hi), head: String(head) })}</span>
        )}
        <Button disabled={pageNumber <= 1 || loading} onClick={() => setPageNumber((n) => n - 1)}>
          {t("chain.newer")}
        </Button>
        <Button disabled={lastPage || head === undefined || loading} onClick={() => setPageNumber((n) => n + 1)}>
          {t("chain.older")}
        </Button>
        <Select
          aria-label={t("people.pageSize")}
          value={pageSize}
          onChange={(size: number) => {
            setPageSize(size);
            setPageNumber(1);
          }}
          options={[10, 20, 50, 100].map((n) => ({ value: n, label: t("people.perPage", { count: n }) }))}
        />
      </Flex>
    </Space>
  );
}
