import { Code, describeError, newRequestId } from "@terrace/api";
import { AdminLevel } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { GovernanceService } from "@terrace/api/gen/terrace/governance/v1/governance_service_pb";
import { ResidentClaimStatus, type ResidentClaim } from "@terrace/api/gen/terrace/governance/v1/registry_pb";
import { Button } from "antd-mobile";
import { CheckOutline, MessageOutline, RedoOutline, UserContactOutline } from "antd-mobile-icons";
import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import {
  CLAIM_VIOLATION_FIELDS,
  claimFormProblems,
  claimRefusal,
  claimStatusKey,
  claimStep,
  cleanNationalId,
  codeProblem,
  villageChoices,
  villageFromRoles,
  withClaim,
  type ClaimField,
  type VillageChoice,
  type VillageQuery,
} from "../claim";
import { Field } from "../components/Field";
import { VillagePicker } from "../components/VillagePicker";
import { errorMessage, explainError } from "../errors";
import { useFormat } from "../format";
import { session, useSession } from "../session";

const governance = session.client(GovernanceService);

/** Villages already asked for (GetDivision), per code, for as long as the app is open. */
const villages = new Map<string, Promise<VillageChoice | undefined>>();

function villageByCode(code: string): Promise<VillageChoice | undefined> {
  let found = villages.get(code);
  if (!found) {
    found = governance.getDivision({ code: { code, level: AdminLevel.VILLAGE } }).then(
      ({ division }) => (division ? villageChoices([division], { name: "", place: [] })[0] : undefined),
      () => {
        villages.delete(code); // unknown or unreachable: the code is shown, and asked again later
        return undefined;
      },
    );
    villages.set(code, found);
  }
  return found;
}

/** A village (its name and place) once known; undefined until then, or for no code. */
function useVillage(code: string): VillageChoice | undefined {
  const [found, setFound] = useState<VillageChoice>();
  useEffect(() => {
    let live = true;
    setFound(undefined);
    if (/^\d{12}$/.test(code)) {
      void villageByCode(code).then((v) => live && setFound(v));
    }
    return () => {
      live = false;
    };
  }, [code]);
  return found;
}

/** Villages matching what the villager typed (SearchDivisions, villages only), best first. */
async function searchVillages(query: VillageQuery): Promise<VillageChoice[]> {
  const answer = await governance.searchDivisions({
    query: query.name,
    level: AdminLevel.VILLAGE,
    // More when the township's words will filter the page.
    page: { pageSize: query.place.length > 0 ? 50 : 20, pageToken: "" },
  });
  return villageChoices(answer.divisions, query);
}

/** A village's name with its place ("浙江省 湖州市 安吉县 天荒坪镇 余村村民委员会"); its code until known. */
function VillageName({ code }: { code: string }) {
  return <>{useVillage(code)?.fullName ?? code}</>;
}

/**
 * "Claim my record", for an account no register entry is linked to: the villager names their
 * village, the name and the ID number on the record (RequestResidentClaim); a code goes to the
 * phone on the record, which they enter here (VerifyResidentClaim); an official of the village
 * then confirms or refuses. Shows where their newest claim stands and the claims they made
 * (ListResidentClaims without an area: the caller's own). `onRefresh` reloads the whole record
 * page, which shows the record once an official has confirmed.
 */
export function ClaimRecord({ onRefresh }: { onRefresh: () => void }) {
  const { t } = useTranslation();
  const format = useFormat();
  const [claims, setClaims] = useState<ResidentClaim[]>();
  const [problem, setProblem] = useState<string>();
  /** The villager asked to (re)start a claim: the form, whatever the newest claim says. */
  const [claiming, setClaiming] = useState(false);

  async function list() {
    try {
      const answer = await governance.listResidentClaims({ page: { pageSize: 20, pageToken: "" }, statuses: [] });
      setClaims(answer.claims);
      setProblem(undefined);
    } catch (err) {
      setProblem(errorMessage(t, err));
      setClaims((c) => c ?? []);
    }
  }

  useEffect(() => {
    void list();
    // Loaded once per mount; the record page remounts this on a refresh.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const newest = claims?.[0];
  const step = claims === undefined ? undefined : claimStep(newest, claiming);
  const again = (
    <Button block color="primary" fill="outline" onClick={() => setClaiming(true)}>
      <RedoOutline aria-hidden /> {t("claim.again")}
    </Button>
  );

  return (
    <>
      {problem && (
        <p className="problem" role="alert">
          {problem}
        </p>
      )}
      {step === "offer" && (
        <div className="card empty-record">
          <h2>{t("record.noneTitle")}</h2>
          <p>{t("record.none")}</p>
          <p>{t("claim.offerIntro")}</p>
          <Button block color="primary" size="large" onClick={() => setClaiming(true)}>
            <UserContactOutline aria-hidden /> {t("claim.offer")}
          </Button>
        </div>
      )}
      {step === "form" && (
        <ClaimForm
          onCancel={() => setClaiming(false)}
          onClaimed={(claim) => {
            setClaims((c) => withClaim(c ?? [], claim));
            setClaiming(false);
            void list(); // older unproven claims were closed by this one
          }}
        />
      )}
      {step === "code" && newest && (
        <CodeStep
          key={newest.id}
          claim={newest}
          onAnswered={(claim) => {
            if (claim) setClaims((c) => withClaim(c ?? [], claim));
            else void list(); // refused: the claim may have closed meanwhile
          }}
          onRestart={() => setClaiming(true)}
        />
      )}
      {step === "waiting" && newest && (
        <div className="card claim-state" role="status">
          <h2>{t("claim.waitingTitle")}</h2>
          <p>{t("claim.waiting", { name: newest.residentName })}</p>
          <p className="muted">{t("claim.verifiedAt", { time: format.dateTime(newest.verifyTime) })}</p>
          <Button block color="primary" fill="outline" onClick={onRefresh}>
            <RedoOutline aria-hidden /> {t("claim.refresh")}
          </Button>
        </div>
      )}
      {step === "confirmed" && (
        <div className="card claim-state" role="status">
          <h2>{t("claim.confirmedTitle")}</h2>
          <p>{t("claim.confirmed")}</p>
          <Button block color="primary" fill="outline" onClick={onRefresh}>
            <RedoOutline aria-hidden /> {t("claim.refresh")}
          </Button>
        </div>
      )}
      {step === "refused" && newest && (
        <div className="card claim-state" role="status">
          <h2>{t("claim.refusedTitle")}</h2>
          <p>{t("claim.refusedReason", { reason: newest.refusalReason })}</p>
          <p className="muted">{t("claim.refusedHint")}</p>
          {again}
        </div>
      )}
      {step === "lapsed" && (
        <div className="card claim-state" role="status">
          <h2>{t("claim.lapsedTitle")}</h2>
          <p>{t("claim.lapsed")}</p>
          {again}
        </div>
      )}
      {claims && claims.length > 0 && (
        <section aria-labelledby="claim-history">
          <h2 id="claim-history">{t("claim.history")}</h2>
          <ul className="cards claim-history">
            {claims.map((claim) => (
              <li key={claim.id} className="card">
                <p>
                  <strong>{claim.residentName}</strong> · <VillageName code={claim.villageCode} />
                </p>
                <p>
                  <span className={`status status-claim-${ResidentClaimStatus[claim.status]?.toLowerCase() ?? "unknown"}`}>
                    {t(claimStatusKey(claim.status) as "claim.status.AWAITING_CODE")}
                  </span>{" "}
                  {t("claim.madeAt", { time: format.dateTime(claim.createTime) })}
                </p>
                {claim.status === ResidentClaimStatus.REFUSED && claim.refusalReason && (
                  <p className="muted">{t("claim.refusedReason", { reason: claim.refusalReason })}</p>
                )}
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}

const FORM_IDS: Record<Exclude<ClaimField, "code">, string> = {
  village: "claim-village",
  name: "claim-name",
  nationalId: "claim-national-id",
};

/**
 * The claim's form: the village (picked by name; the account's own village-level role's village
 * offered first), name and ID number.
 */
function ClaimForm({ onClaimed, onCancel }: { onClaimed: (claim: ResidentClaim) => void; onCancel: () => void }) {
  const { t } = useTranslation();
  const roles = useSession().claims?.roles;
  // The account's village, offered once its name is known; undefined after the villager changes it.
  const [ownCode, setOwnCode] = useState(() => villageFromRoles(roles));
  const own = useVillage(ownCode);
  const [picked, setPicked] = useState<VillageChoice>();
  // Until its name is known (or offline), the code stands for it: it is still what is sent.
  const ownByCode = useMemo(() => (ownCode ? { code: ownCode, name: ownCode, fullName: ownCode } : undefined), [ownCode]);
  const chosen = picked ?? own ?? ownByCode;
  const village = chosen?.code ?? "";
  const [name, setName] = useState("");
  const [nationalId, setNationalId] = useState("");
  const [errors, setErrors] = useState<Partial<Record<ClaimField, string>>>({});
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);
  // One id per intent: kept when the same claim is retried after a network failure, dropped
  // when the form changes or the server answered.
  const requestId = useRef<string>(undefined);

  function edited(field: ClaimField) {
    requestId.current = undefined;
    setErrors((e) => ({ ...e, [field]: undefined }));
    setProblem(undefined);
  }

  function focusFirst(byField: Partial<Record<ClaimField, string>>) {
    const first = (["village", "name", "nationalId"] as const).find((f) => byField[f]);
    if (first) document.getElementById(FORM_IDS[first])?.focus();
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    setProblem(undefined);
    const local = claimFormProblems({ village, name, nationalId });
    const localErrors = Object.fromEntries(
      Object.entries(local).map(([field, key]) => [field, t(`claim.errors.${key}`)]),
    ) as Partial<Record<ClaimField, string>>;
    setErrors(localErrors);
    if (Object.keys(local).length > 0) {
      focusFirst(localErrors);
      return;
    }
    setBusy(true);
    requestId.current ??= newRequestId();
    try {
      const answer = await governance.requestResidentClaim({
        requestId: requestId.current,
        villageCode: { code: village, level: AdminLevel.VILLAGE },
        name: name.trim(),
        nationalId: cleanNationalId(nationalId),
      });
      requestId.current = undefined;
      if (answer.claim) onClaimed(answer.claim);
    } catch (err) {
      const e = describeError(err);
      if (e.code !== Code.Unavailable) requestId.current = undefined;
      const { byField, message } = explainError(t, err, CLAIM_VIOLATION_FIELDS);
      setErrors(byField);
      focusFirst(byField);
      const refusal = claimRefusal(e);
      setProblem(refusal ? t(`claim.${refusal}`) : message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="claim-form-title" className="card">
      <h2 id="claim-form-title">{t("claim.title")}</h2>
      <p className="muted">{t("claim.formIntro")}</p>
      {problem && (
        <p className="problem" role="alert">
          {problem}
        </p>
      )}
      <form onSubmit={(e) => void submit(e)} noValidate>
        <VillagePicker
          id={FORM_IDS.village}
          label={t("claim.village")}
          chosen={chosen}
          search={searchVillages}
          error={errors.village}
          onChoose={(choice) => {
            setOwnCode("");
            setPicked(choice);
            edited("village");
          }}
        />
        <Field
          id={FORM_IDS.name}
          label={t("claim.name")}
          autoComplete="name"
          enterKeyHint="next"
          value={name}
          error={errors.name}
          onChange={(e) => {
            setName(e.target.value);
            edited("name");
          }}
        />
        <Field
          id={FORM_IDS.nationalId}
          label={t("claim.nationalId")}
          autoComplete="off"
          autoCapitalize="characters"
          enterKeyHint="send"
          maxLength={22}
          placeholder={t("claim.nationalIdPlaceholder")}
          value={nationalId}
          error={errors.nationalId}
          onChange={(e) => {
            setNationalId(cleanNationalId(e.target.value));
            edited("nationalId");
          }}
        />
        <Button block type="submit" color="primary" size="large" loading={busy}>
          <MessageOutline aria-hidden /> {t("claim.submit")}
        </Button>
        <Button block fill="none" onClick={onCancel} className="claim-cancel">
          {t("claim.cancel")}
        </Button>
      </form>
    </section>
  );
}

/**
 * The code sent to the phone on the record: where it went and until when, and its field. A
 * right code answers the claim awaiting an official; a wrong one is the server's violation beside
 * the field (with the tries left); `onAnswered()` without a claim asks for the list again, as a
 * refusal may mean the claim closed.
 */
function CodeStep({
  claim,
  onAnswered,
  onRestart,
}: {
  claim: ResidentClaim;
  onAnswered: (claim: ResidentClaim | undefined) => void;
  onRestart: () => void;
}) {
  const { t } = useTranslation();
  const format = useFormat();
  const [code, setCode] = useState("");
  const [error, setError] = useState<string>();
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);
  const requestId = useRef<string>(undefined);

  useEffect(() => {
    document.getElementById("claim-code")?.focus();
  }, []);

  async function verify(event: FormEvent) {
    event.preventDefault();
    setProblem(undefined);
    const local = codeProblem(code);
    if (local) {
      setError(t(`claim.errors.${local}`));
      document.getElementById("claim-code")?.focus();
      return;
    }
    setBusy(true);
    requestId.current ??= newRequestId();
    try {
      const answer = await governance.verifyResidentClaim({ requestId: requestId.current, claimId: claim.id, code });
      requestId.current = undefined;
      onAnswered(answer.claim);
    } catch (err) {
      const e = describeError(err);
      if (e.code === Code.Unavailable) {
        setProblem(errorMessage(t, err));
        return;
      }
      requestId.current = undefined;
      const { byField, message } = explainError(t, err, CLAIM_VIOLATION_FIELDS);
      setError(byField.code);
      const refusal = claimRefusal(e);
      setProblem(refusal ? t(`claim.${refusal}`) : message);
      if (byField.code) document.getElementById("claim-code")?.focus();
      onAnswered(undefined);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="claim-code-title" className="card">
      <h2 id="claim-code-title">{t("claim.codeTitle")}</h2>
      <p>
        {t("claim.codeSent", {
          name: claim.residentName,
          // A word joiner keeps "…5678" on one line.
          phone: claim.maskedPhoneNumber.replace("…", "…\u2060"),
          time: format.dateTime(claim.codeExpireTime),
        })}
      </p>
      {problem && (
        <p className="problem" role="alert">
          {problem}
        </p>
      )}
      <form onSubmit={(e) => void verify(e)} noValidate>
        <Field
          id="claim-code"
          label={t("claim.code")}
          inputMode="numeric"
          autoComplete="one-time-code"
          enterKeyHint="go"
          maxLength={6}
          placeholder={t("claim.codePlaceholder")}
          value={code}
          error={error}
          onChange={(e) => {
            setCode(e.target.value.replace(/\D/g, "").slice(0, 6));
            setError(undefined);
            setProblem(undefined);
            requestId.current = undefined;
          }}
        />
        <Button block type="submit" color="primary" size="large" loading={busy}>
          <CheckOutline aria-hidden /> {t("claim.verify")}
        </Button>
        <Button block fill="none" onClick={onRestart} className="claim-cancel">
          {t("claim.restart")}
        </Button>
      </form>
    </section>
  );
}
