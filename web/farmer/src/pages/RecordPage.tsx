import { toJsonString } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, describeError, newRequestId } from "@terrace/api";
import { AdminLevel } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import {
  DownloadMyDataResponseSchema,
  GovernanceService,
  type GetMyResidentResponse,
} from "@terrace/api/gen/terrace/governance/v1/governance_service_pb";
import {
  Gender,
  HouseholdRelationship,
  ResidentStatus,
  type ResidentAccessLogEntry,
} from "@terrace/api/gen/terrace/governance/v1/registry_pb";
import { Button } from "antd-mobile";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Loading } from "../App";
import { errorMessage } from "../errors";
import { useFormat } from "../format";
import { dateText, looker, myDataFileName } from "../record";
import { caches, session, useSession } from "../session";
import { ClaimRecord } from "./ClaimRecord";

const governance = session.client(GovernanceService);

interface Record {
  mine: GetMyResidentResponse | undefined; // undefined: no record is linked to this account
  log: ResidentAccessLogEntry[];
  village: string | undefined;
}

/**
 * What this page last loaded, per account, for as long as the app is open: shown again with no
 * network, as the profile shows what the phone remembers. Kept in memory only, never in
 * storage, since a family shares the phone and this is one person's register entry; and
 * emptied when the account in use changes (`caches`, a logout or a switch).
 */
const lastLoaded = caches.map<string, Record>();

/**
 * My record in the village register (GetMyResident): my entry with the ID number masked, my
 * household and its members, and who looked at my record, when and why (ListResidentAccessLog).
 * When no record is linked to the account yet, offers to claim one (ClaimRecord) and shows the
 * claims made.
 */
export default function RecordPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const userId = useSession().account?.userId ?? "";
  const [record, setRecord] = useState<Record | undefined>(() => lastLoaded.get(userId));
  const [problem, setProblem] = useState<string>();
  const [downloading, setDownloading] = useState(false);
  const [downloadProblem, setDownloadProblem] = useState<string>();
  const [reload, setReload] = useState(0);

  /**
   * Everything the register holds about me (DownloadMyData), saved as a JSON file: the whole ID
   * number is in the file only, never on screen. Each tap is a new request id: the server keeps
   * no answer to replay (a retry of the same id is ANSWER_NOT_KEPT), and the download is logged.
   */
  async function download() {
    setDownloading(true);
    setDownloadProblem(undefined);
    try {
      const answer = await governance.downloadMyData({ requestId: newRequestId() });
      const json = toJsonString(DownloadMyDataResponseSchema, answer, { prettySpaces: 2 });
      const url = URL.createObjectURL(new Blob([json], { type: "application/json" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = myDataFileName(answer.exportTime ? timestampDate(answer.exportTime) : new Date());
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setReload((n) => n + 1); // the download is in the access log now
    } catch (err) {
      setDownloadProblem(errorMessage(t, err));
    } finally {
      setDownloading(false);
    }
  }

  useEffect(() => {
    let cancelled = false;
    void (async () => {
      try {
        const mine = await governance.getMyResident({}).catch((err: unknown) => {
          if (describeError(err).code === Code.NotFound) return undefined;
          throw err;
        });
        const residentId = mine?.resident?.id;
        const [log, village] = await Promise.all([
          residentId
            ? governance.listResidentAccessLog({ page: { pageSize: 50, pageToken: "" }, residentId }).then((a) => a.entries)
            : Promise.resolve([]),
          mine?.resident?.villageCode
            ? governance
                .getDivision({ code: { code: mine.resident.villageCode, level: AdminLevel.VILLAGE } })
                .then((a) => a.division?.name)
                .catch(() => undefined) // the code is shown instead
            : Promise.resolve(undefined),
        ]);
        const loaded = { mine, log, village };
        lastLoaded.set(userId, loaded);
        if (!cancelled) {
          setRecord(loaded);
          setProblem(undefined);
        }
      } catch (err) {
        if (!cancelled) setProblem(errorMessage(t, err));
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [userId, t, reload]);

  const resident = record?.mine?.resident;
  const household = record?.mine?.household;
  const members = record?.mine?.members ?? [];
  const head = members.find((m) => m.id === household?.headResidentId);
  const relationship = (r: HouseholdRelationship) =>
    t(`record.relationship.${HouseholdRelationship[r] ?? "UNSPECIFIED"}` as "record.relationship.HEAD");
  const gender = (g: Gender) => t(`record.gender.${Gender[g] ?? "UNSPECIFIED"}` as "record.gender.MALE");
  const status = (s: ResidentStatus) => t(`record.status.${ResidentStatus[s] ?? "UNSPECIFIED"}` as "record.status.ACTIVE");

  function who(entry: ResidentAccessLogEntry): string {
    const someone = looker(entry.actor, userId);
    switch (someone.kind) {
      case "me":
        return t("record.lookerMe");
      case "named":
        return someone.name;
      case "account":
        return t("record.lookerAccount", { tail: someone.tail });
      case "system":
        return someone.what || t("record.lookerUnknown");
    }
  }

  return (
    <div className="page">
      <h1>{t("record.title")}</h1>
      {problem && (
        <p className="problem" role="alert">
          {problem}
          {record && ` ${t("record.showingLast")}`}
        </p>
      )}
      {!record && !problem && <Loading />}
      {record && !resident && <ClaimRecord key={reload} onRefresh={() => setReload((n) => n + 1)} />}
      {resident && (
        <>
          <section aria-labelledby="record-mine">
            <h2 id="record-mine">{t("record.mine")}</h2>
            <dl className="facts">
              <dt>{t("record.name")}</dt>
              <dd>{resident.name}</dd>
              <dt>{t("record.nationalId")}</dt>
              <dd>
                <code className="national-id">{resident.nationalIdMasked || t("record.notRecorded")}</code>
              </dd>
              <dt>{t("record.gender.label")}</dt>
              <dd>{gender(resident.gender)}</dd>
              <dt>{t("record.birthDate")}</dt>
              <dd>{dateText(resident.birthDate) || t("record.notRecorded")}</dd>
              <dt>{t("record.relationshipToHead")}</dt>
              <dd>{relationship(resident.relationship)}</dd>
              <dt>{t("record.village")}</dt>
              <dd>{record.village ?? resident.villageCode}</dd>
              <dt>{t("record.statusLabel")}</dt>
              <dd>{status(resident.status)}</dd>
            </dl>
          </section>
          {household && (
            <section aria-labelledby="record-household">
              <h2 id="record-household">{t("record.household")}</h2>
              <dl className="facts">
                <dt>{t("record.householdNumber")}</dt>
                <dd>{household.householdNumber}</dd>
                <dt>{t("record.address")}</dt>
                <dd>{household.address || t("record.notRecorded")}</dd>
                <dt>{t("record.head")}</dt>
                <dd>{head?.name ?? t("record.notRecorded")}</dd>
              </dl>
              <h3>{t("record.members", { count: members.length })}</h3>
              <ul className="cards">
                {members.map((m) => (
                  <li key={m.id} className="card">
                    <p>
                      <strong>{m.name}</strong> · {relationship(m.relationship)}
                      {m.id === resident.id && ` · ${t("record.me")}`}
                    </p>
                    {m.nationalIdMasked && (
                      <p>
                        <code className="national-id">{m.nationalIdMasked}</code>
                      </p>
                    )}
                  </li>
                ))}
              </ul>
            </section>
          )}
          <section aria-labelledby="record-log">
            <h2 id="record-log">{t("record.log")}</h2>
            <p className="muted">{t("record.logIntro")}</p>
            {record.log.length === 0 && <p className="empty">{t("record.logEmpty")}</p>}
            <ul className="cards access-log">
              {record.log.map((entry) => (
                <li key={entry.id} className="card">
                  <p>
                    <strong>{format.dateTime(entry.accessTime)}</strong>
                  </p>
                  <p>
                    {t("record.logLine", {
                      who: who(entry),
                      what:
                        entry.field === "national_id"
                          ? t("record.nationalId")
                          : entry.field === "export"
                            ? t("record.exportField")
                            : entry.field,
                    })}
                  </p>
                  <p>
                    {t("record.logReason")}
                    {entry.reason}
                  </p>
                </li>
              ))}
            </ul>
          </section>
          <section aria-labelledby="record-download">
            <h2 id="record-download">{t("record.downloadTitle")}</h2>
            <p className="muted">{t("record.downloadIntro")}</p>
            {downloadProblem && (
              <p className="problem" role="alert">
                {downloadProblem}
              </p>
            )}
            <Button block color="primary" fill="outline" loading={downloading} onClick={() => void download()}>
              {t("record.download")}
            </Button>
          </section>
        </>
      )}
    </div>
  );
}
