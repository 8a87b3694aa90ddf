import { timestampDate } from "@bufbuild/protobuf/wkt";
import { describeError, newRequestId } from "@terrace/api";
import { checkFieldValues, fieldValueKey, type FieldProblem } from "@terrace/api/requestFields";
import type { GetServiceRequestResponse } from "@terrace/api/gen/terrace/governance/v1/governance_service_pb";
import type { LocalizedText } from "@terrace/api/gen/terrace/common/v1/localized_text_pb";
import type { MediaRef } from "@terrace/api/gen/terrace/common/v1/media_pb";
import {
  RequestFieldType,
  ServiceRequestStatus,
  TimelineEntryKind,
  type RequestFieldDefinition,
  type RequestType,
  type ServiceRequest,
  type ServiceRequestTimelineEntry,
} from "@terrace/api/gen/terrace/governance/v1/service_requests_pb";
import { Button } from "antd-mobile";
import { useCallback, useEffect, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link, useLocation, useNavigate, useParams } from "react-router";
import { Loading } from "../App";
import { Field } from "../components/Field";
import { errorMessage, explainError } from "../errors";
import { useFormat } from "../format";
import { useOnline } from "../hooks/useOnline";
import { useOutbox } from "../hooks/useOutbox";
import { base64, isTransient, type OutboxItem } from "../outbox";
import { canRate, canReopen, compressPhoto, myVillage } from "../requests";
import { governance, requestSender as sender, type RequestDraft } from "../senders";
import { outbox } from "../sendOutbox";
import { useSession } from "../session";

function text(value: LocalizedText | undefined, language: string): string {
  const t = value?.translations ?? {};
  return t[language] || t["zh-CN"] || Object.values(t)[0] || "";
}

export function StatusBadge({ status }: { status: ServiceRequestStatus }) {
  const { t } = useTranslation();
  const name = ServiceRequestStatus[status] ?? "UNSPECIFIED";
  return <span className={`status request-${name.toLowerCase()}`}>{t(`requests.status.${name}` as "requests.status.SUBMITTED")}</span>;
}

/**
 * My requests (ListServiceRequests with no area: the caller's own), newest first, with their
 * status; above them, what waits in this phone's outbox to be sent (filed offline) or what the
 * server refused. Queued requests are sent when the phone is back online.
 */
export function RequestsPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const userId = useSession().account?.userId ?? "";
  const location = useLocation();
  // Sent ones are in the list below; what waits or was refused is shown above it.
  const items = useOutbox(userId, "request");
  const queued = items.filter((q) => q.state !== "sent");
  const round = items.filter((q) => q.state === "sent").length;
  const [requests, setRequests] = useState<ServiceRequest[]>();
  const [problem, setProblem] = useState<string>();

  useEffect(() => {
    const abort = new AbortController();
    governance
      .listServiceRequests({ page: { pageSize: 50 } }, { signal: abort.signal })
      .then((answer) => {
        setRequests(answer.serviceRequests);
        setProblem(undefined);
      })
      .catch((err: unknown) => !abort.signal.aborted && setProblem(errorMessage(t, err)));
    return () => abort.abort();
  }, [userId, round, t]);

  const notice = (location.state as { notice?: string } | null)?.notice;
  return (
    <div className="page">
      <h1>{t("requests.mine")}</h1>
      {notice && (
        <p className="card notice" role="status">
          {notice}
        </p>
      )}
      <Link to="/requests/new" className="adm-button adm-button-primary adm-button-block adm-button-large big-link">
        {t("requests.new")}
      </Link>
      {queued.length > 0 && (
        <section aria-labelledby="outbox-title">
          <h2 id="outbox-title">{t("requests.outbox")}</h2>
          <ul className="cards">
            {queued.map((q) => (
              <li key={q.requestId} className="card">
                <p>
                  <strong>{q.title}</strong>
                </p>
                <p>{q.summary}</p>
                <p className={q.state === "failed" ? "field-error" : "muted"}>{q.state === "failed" ? t("requests.refused", { reason: q.reason }) : t("requests.waiting")}</p>
                {q.state === "failed" && (
                  <Button onClick={() => void outbox.remove(q.requestId)}>
                    {t("requests.removeQueued")}
                  </Button>
                )}
              </li>
            ))}
          </ul>
        </section>
      )}
      {problem && (
        <p className="field-error" role="alert">
          {problem}
        </p>
      )}
      {requests === undefined && !problem ? (
        <Loading />
      ) : requests && requests.length === 0 ? (
        <p className="muted">{t("requests.none")}</p>
      ) : (
        <ul className="cards" aria-label={t("requests.mine")}>
          {requests?.map((r) => (
            <li key={r.id} className="card">
              <Link to={`/requests/${r.id}`} className="request-link">
                <span className="request-line">
                  <strong>{r.reference}</strong> <StatusBadge status={r.status} />
                </span>
                <span className="request-description">{r.description}</span>
                <span className="muted">{format.dateTime(r.audit?.createTime)}</span>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function problemText(t: ReturnType<typeof useTranslation>["t"], p: FieldProblem): string {
  return t(`requests.problems.${p.problem}` as "requests.problems.required", { limit: "limit" in p ? p.limit : "" });
}

/** One extra field of the type, as a plain labelled input with its error linked. */
function ExtraInput({
  definition,
  value,
  error,
  onChange,
}: {
  definition: RequestFieldDefinition;
  value: string;
  error?: string;
  onChange: (value: string) => void;
}) {
  const { t, i18n } = useTranslation();
  const id = `extra-${definition.key}`;
  const label = `${text(definition.label, i18n.language) || definition.key}${definition.required ? "" : t("requests.optional")}`;
  const hint = text(definition.help, i18n.language) || undefined;
  const options = definition.options.map((o) => ({ value: o.value, label: text(o.label, i18n.language) || o.value }));
  const described = [error ? `${id}-error` : "", hint ? `${id}-hint` : ""].filter(Boolean).join(" ") || undefined;
  const wrap = (control: ReactNode) => (
    <div className={error ? "field field-invalid" : "field"}>
      <label htmlFor={id}>{label}</label>
      {control}
      {error && (
        <p id={`${id}-error`} className="field-error">
          {error}
        </p>
      )}
      {hint && (
        <p id={`${id}-hint`} className="field-hint">
          {hint}
        </p>
      )}
    </div>
  );
  switch (definition.type) {
    case RequestFieldType.BOOLEAN:
    case RequestFieldType.CHOICE: {
      const choices =
        definition.type === RequestFieldType.BOOLEAN
          ? [
              { value: "true", label: t("requests.yes") },
              { value: "false", label: t("requests.no") },
            ]
          : options;
      return wrap(
        <select id={id} className="field-input" value={value} aria-invalid={error ? true : undefined} aria-describedby={described} onChange={(e) => onChange(e.target.value)}>
          <option value="">{t("requests.choose")}</option>
          {choices.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>,
      );
    }
    case RequestFieldType.MULTI_CHOICE: {
      const picked: string[] = value ? (JSON.parse(value) as string[]) : [];
      return (
        <fieldset className={error ? "field field-invalid choices" : "field choices"} aria-describedby={described}>
          <legend>{label}</legend>
          {options.map((o) => (
            <label key={o.value} className="choice">
              <input
                type="checkbox"
                checked={picked.includes(o.value)}
                onChange={(e) => {
                  const next = e.target.checked ? [...picked, o.value] : picked.filter((v) => v !== o.value);
                  onChange(next.length > 0 ? JSON.stringify(next) : "");
                }}
              />
              {o.label}
            </label>
          ))}
          {error && (
            <p id={`${id}-error`} className="field-error">
              {error}
            </p>
          )}
          {hint && (
            <p id={`${id}-hint`} className="field-hint">
              {hint}
            </p>
          )}
        </fieldset>
      );
    }
    default: {
      const type =
        definition.type === RequestFieldType.DATE
          ? "date"
          : definition.type === RequestFieldType.DATETIME
            ? "datetime-local"
            : definition.type === RequestFieldType.PHONE
              ? "tel"
              : "text";
      const shown = definition.type === RequestFieldType.DATETIME ? value.slice(0, 16) : value;
      return (
        <Field
          id={id}
          label={label}
          type={type}
          inputMode={definition.type === RequestFieldType.NUMBER ? "decimal" : undefined}
          value={shown}
          error={error}
          hint={hint}
          onChange={(e) => {
            const v = e.target.value;
            onChange(definition.type === RequestFieldType.DATETIME && v ? `${v}:00+08:00` : v);
          }}
        />
      );
    }
  }
}

const TYPES_KEY = "terrace.farmer.requestTypes.";

/**
 * Files a request in my village: its type (the types offered there, remembered on the phone so a
 * request can be filed offline), what is wrong, where (an address, and the phone's position if
 * the farmer allows it), photos (compressed on the phone: JPEG, 1600 px, quality 0.8) and the
 * type's extra fields, checked as the server checks them. Online it is sent at once; offline, or
 * when the network fails, it waits in the outbox under its request id and is sent once later.
 */
export function NewRequestPage() {
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  const snapshot = useSession();
  const userId = snapshot.account?.userId ?? "";
  const village = myVillage(snapshot.claims?.roles);
  const online = useOnline();
  const [types, setTypes] = useState<RequestType[]>(() => {
    try {
      return village ? (JSON.parse(localStorage.getItem(TYPES_KEY + village) ?? "[]") as RequestType[]) : [];
    } catch {
      return [];
    }
  });
  const [typeId, setTypeId] = useState("");
  const [description, setDescription] = useState("");
  const [address, setAddress] = useState("");
  const [point, setPoint] = useState<{ latitude: number; longitude: number }>();
  const [locating, setLocating] = useState(false);
  const [values, setValues] = useState<Record<string, string>>({});
  const [photos, setPhotos] = useState<{ requestId: string; jpegBase64: string; url: string }[]>([]);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [requestId] = useState(() => newRequestId());

  useEffect(() => {
    if (!village || !online) return;
    governance
      .listRequestTypes({ villageCode: village, page: { pageSize: 200 } })
      .then((answer) => {
        setTypes(answer.requestTypes);
        // Remembered for filing offline; types are what the village offers, nothing personal.
        localStorage.setItem(TYPES_KEY + village, JSON.stringify(answer.requestTypes));
      })
      .catch((err: unknown) => setMessage(errorMessage(t, err)));
  }, [village, online, t]);

  const type = types.find((ty) => ty.id === typeId);
  /** A field's error goes once its value changes; the next send checks again. */
  const forget = (key: string) =>
    setErrors((e) => {
      if (!(key in e)) return e;
      const rest = { ...e };
      delete rest[key];
      return rest;
    });

  async function addPhotos(files: FileList | null) {
    const chosen = [...(files ?? [])].slice(0, 9 - photos.length);
    for (const file of chosen) {
      try {
        const jpeg = await compressPhoto(file);
        const url = URL.createObjectURL(new Blob([jpeg as BlobPart], { type: "image/jpeg" }));
        setPhotos((ps) => [...ps, { requestId: newRequestId(), jpegBase64: base64(jpeg), url }]);
      } catch {
        setErrors((e) => ({ ...e, photos: t("requests.photoUnreadable") }));
      }
    }
  }

  function locate() {
    if (!("geolocation" in navigator)) return;
    setLocating(true);
    navigator.geolocation.getCurrentPosition(
      (position) => {
        setPoint({ latitude: position.coords.latitude, longitude: position.coords.longitude });
        setLocating(false);
      },
      () => {
        setErrors((e) => ({ ...e, point: t("requests.noLocation") }));
        setLocating(false);
      },
      { enableHighAccuracy: true, timeout: 15_000 },
    );
  }

  async function submit() {
    const found: Record<string, string> = {};
    if (!type) found.type = t("requests.typeRequired");
    if (!description.trim()) found.description = t("requests.descriptionRequired");
    const checked = checkFieldValues(type?.fields ?? [], values);
    for (const [key, p] of Object.entries(checked.problems)) found[`extra.${key}`] = problemText(t, p);
    setErrors(found);
    setMessage(undefined);
    if (Object.keys(found).length > 0 || !type || !village) return;
    const item: OutboxItem<RequestDraft> = {
      kind: "request",
      requestId,
      userId,
      queuedAt: Date.now(),
      title: text(type.name, i18n.language),
      summary: description.trim(),
      payload: {
        typeId: type.id,
        villageCode: village,
        description: description.trim(),
        address: address.trim(),
        point,
        fieldValues: checked.values,
      },
      photos: photos.map((p) => ({ requestId: p.requestId, jpegBase64: p.jpegBase64 })),
      state: "waiting",
    };
    /** Into the outbox; false when the phone's storage is full (too many photos). */
    const keep = async () => {
      try {
        await outbox.put(item);
        return true;
      } catch {
        setMessage(t("requests.storageFull"));
        return false;
      }
    };
    if (!navigator.onLine) {
      if (await keep()) navigate("/requests", { state: { notice: t("requests.queued") } });
      return;
    }
    setBusy(true);
    try {
      const ids: string[] = [];
      for (const p of item.photos) ids.push(await sender.upload(p.requestId, Uint8Array.from(atob(p.jpegBase64), (c) => c.charCodeAt(0))));
      const created = await sender.create(item, ids);
      navigate(`/requests/${created.id}`, { state: { notice: t("requests.sent") } });
    } catch (err) {
      if (isTransient(err)) {
        if (await keep()) navigate("/requests", { state: { notice: t("requests.queued") } });
        return;
      }
      const { byField, message: rest } = explainError(t, err, {
        "service_request.description": "description",
        "service_request.type_id": "type",
        "service_request.location": "address",
        "service_request.photos": "photos",
      } as Record<string, string>);
      const server: Record<string, string> = { ...(byField as Record<string, string>) };
      let unclaimed = rest;
      for (const [path, why] of Object.entries(describeError(err).fieldViolations)) {
        const key = fieldValueKey(path);
        if (key) {
          server[`extra.${key}`] = why;
          unclaimed = undefined;
        }
      }
      setErrors(server);
      setMessage(unclaimed ?? (Object.keys(server).length === 0 ? errorMessage(t, err) : undefined));
    } finally {
      setBusy(false);
    }
  }

  if (!village) {
    return (
      <div className="page">
        <h1>{t("requests.new")}</h1>
        <p className="card">{t("requests.noVillage")}</p>
      </div>
    );
  }
  return (
    <div className="page">
      <h1>{t("requests.new")}</h1>
      {!online && <p className="card muted">{t("requests.offlineHint")}</p>}
      {message && (
        <p className="field-error" role="alert">
          {message}
        </p>
      )}
      <fieldset className={errors.type ? "field field-invalid choices" : "field choices"} aria-describedby={errors.type ? "type-error" : undefined}>
        <legend>{t("requests.type")}</legend>
        {types.length === 0 && <p className="muted">{t("requests.noTypes")}</p>}
        {types
          .filter((ty) => ty.active)
          .map((ty) => (
            <label key={ty.id} className="choice">
              <input
                type="radio"
                name="type"
                value={ty.id}
                checked={typeId === ty.id}
                onChange={() => {
                  setTypeId(ty.id);
                  forget("type");
                }}
              />
              {text(ty.name, i18n.language)}
            </label>
          ))}
        {errors.type && (
          <p id="type-error" className="field-error">
            {errors.type}
          </p>
        )}
      </fieldset>
      {type && text(type.description, i18n.language) && <p className="muted">{text(type.description, i18n.language)}</p>}
      <div className={errors.description ? "field field-invalid" : "field"}>
        <label htmlFor="request-description">{t("requests.description")}</label>
        <textarea
          id="request-description"
          className="field-input field-textarea"
          rows={4}
          maxLength={4000}
          value={description}
          aria-invalid={errors.description ? true : undefined}
          aria-describedby={errors.description ? "request-description-error" : undefined}
          onChange={(e) => {
            setDescription(e.target.value);
            forget("description");
          }}
        />
        {errors.description && (
          <p id="request-description-error" className="field-error">
            {errors.description}
          </p>
        )}
      </div>
      {type?.fields.map((definition) => (
        <ExtraInput
          key={definition.key}
          definition={definition}
          value={values[definition.key] ?? ""}
          error={errors[`extra.${definition.key}`]}
          onChange={(v) => {
            setValues((vs) => ({ ...vs, [definition.key]: v }));
            forget(`extra.${definition.key}`);
          }}
        />
      ))}
      <Field
        id="request-address"
        label={t("requests.address")}
        value={address}
        maxLength={200}
        error={errors.address}
        onChange={(e) => {
          setAddress(e.target.value);
          forget("address");
        }}
      />
      <div className="field">
        <Button onClick={locate} loading={locating} aria-describedby="request-point-hint">
          {point ? t("requests.locationAgain") : t("requests.addLocation")}
        </Button>
        <p id="request-point-hint" className={errors.point ? "field-error" : "field-hint"} aria-live="polite">
          {errors.point ?? (point ? t("requests.locationAdded", { lat: point.latitude.toFixed(5), lon: point.longitude.toFixed(5) }) : t("requests.locationHint"))}
        </p>
        {point && (
          <Button fill="none" onClick={() => setPoint(undefined)}>
            {t("requests.removeLocation")}
          </Button>
        )}
      </div>
      <div className={errors.photos ? "field field-invalid" : "field"}>
        <label htmlFor="request-photos">{t("requests.photos")}</label>
        <input
          id="request-photos"
          type="file"
          accept="image/*"
          capture="environment"
          multiple
          className="file-input"
          aria-describedby="request-photos-hint"
          onChange={(e) => void addPhotos(e.target.files)}
        />
        <p id="request-photos-hint" className={errors.photos ? "field-error" : "field-hint"}>
          {errors.photos ?? t("requests.photosHint")}
        </p>
        <ul className="thumbs">
          {photos.map((p, i) => (
            <li key={p.requestId}>
              <img src={p.url} alt={t("requests.photoN", { n: i + 1 })} />
              <Button size="small" onClick={() => setPhotos((ps) => ps.filter((x) => x !== p))} aria-label={t("requests.removePhoto", { n: i + 1 })}>
                {t("requests.remove")}
              </Button>
            </li>
          ))}
        </ul>
      </div>
      <Button color="primary" block size="large" loading={busy} onClick={() => void submit()}>
        {online ? t("requests.submit") : t("requests.submitLater")}
      </Button>
    </div>
  );
}

function Photos({ photos }: { photos: MediaRef[] }) {
  const { t } = useTranslation();
  return (
    <ul className="thumbs">
      {photos.map((p, i) => (
        <li key={p.id || p.uri}>
          <a href={p.uri} target="_blank" rel="noreferrer">
            <img src={p.thumbnailUri || p.uri} alt={t("requests.photoN", { n: i + 1 })} />
          </a>
        </li>
      ))}
    </ul>
  );
}

/**
 * One of my requests: what I asked, its status, the public timeline (ListServiceRequestTimeline
 * answers the requester public entries only), and what I may do: rate it (1 to 5, once, after it
 * is resolved) and reopen it with a reason (while resolved, within the reopen window).
 */
export function RequestDetailPage() {
  const { requestId: id = "" } = useParams();
  const { t, i18n } = useTranslation();
  const format = useFormat();
  const location = useLocation();
  const [data, setData] = useState<GetServiceRequestResponse>();
  const [timeline, setTimeline] = useState<ServiceRequestTimelineEntry[]>([]);
  const [problem, setProblem] = useState<string>();
  const [generation, setGeneration] = useState(0);
  const [stars, setStars] = useState(0);
  const [comment, setComment] = useState("");
  const [reason, setReason] = useState("");
  const [actionError, setActionError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [rateId, setRateId] = useState(() => newRequestId());
  const [reopenId, setReopenId] = useState(() => newRequestId());
  const [notice, setNotice] = useState((location.state as { notice?: string } | null)?.notice);

  useEffect(() => {
    const abort = new AbortController();
    Promise.all([
      governance.getServiceRequest({ serviceRequestId: id }, { signal: abort.signal }),
      governance.listServiceRequestTimeline({ serviceRequestId: id, page: { pageSize: 200 } }, { signal: abort.signal }),
    ])
      .then(([answer, entries]) => {
        setData(answer);
        setTimeline(entries.entries);
        setProblem(undefined);
      })
      .catch((err: unknown) => !abort.signal.aborted && setProblem(errorMessage(t, err)));
    return () => abort.abort();
  }, [id, generation, t]);

  const act = useCallback(
    async (what: () => Promise<unknown>, renew: () => void, done: string) => {
      setBusy(true);
      setActionError(undefined);
      try {
        await what();
        renew();
        setNotice(done);
        setGeneration((n) => n + 1);
      } catch (err) {
        if (!isTransient(err)) renew();
        setActionError(errorMessage(t, err));
      } finally {
        setBusy(false);
      }
    },
    [t],
  );

  if (problem) {
    return (
      <div className="page">
        <p className="field-error" role="alert">
          {problem}
        </p>
      </div>
    );
  }
  const request = data?.serviceRequest;
  if (!request) return <Loading />;
  const type = data.requestType;
  const reopenDeadline = request.reopenDeadline ? timestampDate(request.reopenDeadline) : undefined;
  const kind = (e: ServiceRequestTimelineEntry) => t(`requests.kinds.${TimelineEntryKind[e.kind] ?? "UNSPECIFIED"}` as "requests.kinds.NOTE");
  const statusWord = (s: ServiceRequestStatus) => t(`requests.status.${ServiceRequestStatus[s] ?? "UNSPECIFIED"}` as "requests.status.SUBMITTED");

  return (
    <div className="page">
      <Link to="/requests" className="back-link">
        {t("requests.back")}
      </Link>
      <h1>
        {type ? text(type.name, i18n.language) : t("requests.request")} · {request.reference}
      </h1>
      {notice && (
        <p className="card notice" role="status">
          {notice}
        </p>
      )}
      <section className="card">
        <p>
          <StatusBadge status={request.status} />
        </p>
        <p style={{ whiteSpace: "pre-wrap" }}>{request.description}</p>
        {request.location?.address && <p className="muted">{request.location.address}</p>}
        {Object.entries(request.fieldValues).map(([key, value]) => {
          const definition = type?.fields.find((f) => f.key === key);
          return (
            <p key={key}>
              {(definition && text(definition.label, i18n.language)) || key}：{value}
            </p>
          );
        })}
        {request.photos.length > 0 && <Photos photos={request.photos} />}
        <p className="muted">{t("requests.filedAt", { time: format.dateTime(request.audit?.createTime) })}</p>
        {request.rating > 0 && <p>{t("requests.rated", { count: request.rating })}</p>}
      </section>
      {actionError && (
        <p className="field-error" role="alert">
          {actionError}
        </p>
      )}
      {canRate(request.status, request.rating) && (
        <section className="card" aria-labelledby="rate-title">
          <h2 id="rate-title">{t("requests.rate")}</h2>
          <div className="stars" role="radiogroup" aria-label={t("requests.rate")}>
            {[1, 2, 3, 4, 5].map((n) => (
              <button
                key={n}
                type="button"
                role="radio"
                aria-checked={stars === n}
                aria-label={t("requests.starsN", { count: n })}
                className={n <= stars ? "star on" : "star"}
                onClick={() => setStars(n)}
              >
                ★
              </button>
            ))}
          </div>
          <Field id="rate-comment" label={t("requests.comment")} value={comment} maxLength={500} onChange={(e) => setComment(e.target.value)} />
          <Button
            color="primary"
            block
            disabled={stars === 0}
            loading={busy}
            onClick={() =>
              void act(
                () => governance.rateServiceRequest({ requestId: rateId, serviceRequestId: request.id, rating: stars, comment: comment.trim() }),
                () => setRateId(newRequestId()),
                t("requests.thanks"),
              )
            }
          >
            {t("requests.sendRating")}
          </Button>
        </section>
      )}
      {canReopen(request.status, reopenDeadline, new Date()) && (
        <section className="card" aria-labelledby="reopen-title">
          <h2 id="reopen-title">{t("requests.reopen")}</h2>
          {reopenDeadline && <p className="muted">{t("requests.reopenUntil", { time: format.dateTime(request.reopenDeadline) })}</p>}
          <div className="field">
            <label htmlFor="reopen-reason">{t("requests.reopenReason")}</label>
            <textarea id="reopen-reason" className="field-input field-textarea" rows={3} value={reason} onChange={(e) => setReason(e.target.value)} />
          </div>
          <Button
            block
            disabled={!reason.trim()}
            loading={busy}
            onClick={() =>
              void act(
                () => governance.reopenServiceRequest({ requestId: reopenId, serviceRequestId: request.id, reason: reason.trim() }),
                () => setReopenId(newRequestId()),
                t("requests.reopenedNotice"),
              )
            }
          >
            {t("requests.reopen")}
          </Button>
        </section>
      )}
      <section aria-labelledby="timeline-title">
        <h2 id="timeline-title">{t("requests.timeline")}</h2>
        <ol className="cards timeline">
          {timeline.map((e) => (
            <li key={e.id} className="card">
              <p>
                <strong>{kind(e)}</strong>
                {e.kind === TimelineEntryKind.STATUS_CHANGED && ` · ${statusWord(e.fromStatus)} → ${statusWord(e.toStatus)}`}
                {e.rating > 0 && ` · ${t("requests.starsN", { count: e.rating })}`}
              </p>
              {e.note && <p style={{ whiteSpace: "pre-wrap" }}>{e.note}</p>}
              {e.photos.length > 0 && <Photos photos={e.photos} />}
              <p className="muted">
                {format.dateTime(e.time)} {e.actor?.displayName ?? ""}
              </p>
            </li>
          ))}
        </ol>
      </section>
    </div>
  );
}
