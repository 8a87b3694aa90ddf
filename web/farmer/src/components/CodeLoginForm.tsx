import { Code, describeError } from "@terrace/api";
import type { User } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { Button } from "antd-mobile";
import { MessageOutline } from "antd-mobile-icons";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { explainError } from "../errors";
import { useResendTimer } from "../hooks/useResendTimer";
import { cleanPhoneInput, displayPhone, phoneProblem } from "../phone";
import { session } from "../session";
import { Field } from "./Field";

type FieldName = "phone" | "code";
/** Request fields of RequestOtp and LoginWithOtp, as the server names them in violations. */
const VIOLATION_FIELDS: Record<string, FieldName> = { phone_number: "phone", otp_code: "code" };
const CODE = /^\d{6}$/;

interface Props {
  /** The phone number to start with (E.164 or as typed): the account whose login expired, or the last one used. */
  initialPhone?: string;
  /** Called once logged in. */
  onDone: (user: User) => void;
  /** Prefix of the inputs' ids, so the login page and the expired-login sheet never share one. */
  idPrefix?: string;
}

/**
 * Phone, "send code" (then a countdown from the server's retry time), the code, log in. Used by
 * the login page and by the sheet the shell opens over the page when the session is lost.
 */
export function CodeLoginForm({ initialPhone, onDone, idPrefix = "login" }: Props) {
  const { t, i18n } = useTranslation();
  const phoneId = `${idPrefix}-phone`;
  const codeId = `${idPrefix}-code`;
  const [phone, setPhone] = useState(() => (initialPhone ? displayPhone(initialPhone) : ""));
  const [code, setCode] = useState("");
  const [errors, setErrors] = useState<Partial<Record<FieldName, string>>>({});
  const [busy, setBusy] = useState(false);
  const [sending, setSending] = useState(false);
  const [problem, setProblem] = useState<string>();
  const [sentTo, setSentTo] = useState<string>();
  const resend = useResendTimer();

  function showError(err: unknown) {
    const e = describeError(err);
    const { byField, message } = explainError(t, err, VIOLATION_FIELDS);
    setErrors(byField);
    if (e.code === Code.Unauthenticated) {
      setProblem(t("login.codeFailed"));
    } else if (e.code === Code.PermissionDenied && e.reason === "USER_LOCKED") {
      setProblem(t("login.locked"));
    } else if (e.code === Code.PermissionDenied && e.reason === "USER_DISABLED") {
      setProblem(t("login.disabled"));
    } else if (e.code === Code.ResourceExhausted && e.retryAfterMs) {
      setProblem(t("login.throttled", { seconds: Math.ceil(e.retryAfterMs / 1000) }));
    } else {
      setProblem(message);
    }
  }

  /** Checks the phone here first; answers whether it may be sent. */
  function checkPhone(): boolean {
    const local = phoneProblem(phone);
    setErrors((e) => ({ ...e, phone: local && t(local === "empty" ? "login.phoneRequired" : "login.phoneInvalid") }));
    return local === undefined;
  }

  async function sendCode() {
    setProblem(undefined);
    if (!checkPhone()) {
      document.getElementById(phoneId)?.focus();
      return;
    }
    setSending(true);
    try {
      const retryAt = await session.requestLoginCode(phone, i18n.language);
      setSentTo(displayPhone(phone));
      resend.sent(retryAt);
      document.getElementById(codeId)?.focus();
    } catch (err) {
      const e = describeError(err);
      if (e.code === Code.ResourceExhausted && e.retryAfterMs) {
        resend.refused(e.retryAfterMs);
      }
      showError(err);
    } finally {
      setSending(false);
    }
  }

  async function login(event: FormEvent) {
    event.preventDefault();
    setProblem(undefined);
    const phoneOk = checkPhone();
    const codeOk = CODE.test(code.trim());
    setErrors((e) => ({ ...e, code: codeOk ? undefined : t("login.codeRequired") }));
    if (!phoneOk || !codeOk) {
      document.getElementById(phoneOk ? codeId : phoneId)?.focus();
      return;
    }
    setBusy(true);
    try {
      onDone(await session.loginWithOtp(phone, code));
    } catch (err) {
      showError(err);
    } finally {
      setBusy(false);
    }
  }

  const wait = resend.wait;
  return (
    <>
      {problem && (
        <p className="problem" role="alert">
          {problem}
        </p>
      )}
      <form onSubmit={(e) => void login(e)} noValidate>
        <Field
          id={phoneId}
          label={t("login.phone")}
          type="tel"
          inputMode="tel"
          autoComplete="tel"
          enterKeyHint="next"
          placeholder={t("login.phonePlaceholder")}
          value={phone}
          error={errors.phone}
          onChange={(e) => {
            setPhone(cleanPhoneInput(e.target.value));
            setErrors((x) => ({ ...x, phone: undefined }));
            setProblem(undefined);
          }}
        />
        <Field
          id={codeId}
          label={t("login.code")}
          inputMode="numeric"
          autoComplete="one-time-code"
          enterKeyHint="go"
          maxLength={6}
          placeholder={t("login.codePlaceholder")}
          value={code}
          error={errors.code}
          hint={sentTo ? t("login.codeSent", { phone: sentTo }) : undefined}
          onChange={(e) => {
            setCode(e.target.value.replace(/\D/g, "").slice(0, 6));
            setErrors((x) => ({ ...x, code: undefined }));
            setProblem(undefined);
          }}
          action={
            <Button
              type="button"
              color="primary"
              fill="outline"
              className="send-code"
              onClick={() => void sendCode()}
              disabled={wait > 0}
              loading={sending}
            >
              <MessageOutline aria-hidden /> {wait > 0 ? t("login.resendIn", { seconds: wait }) : t("login.sendCode")}
            </Button>
          }
        />
        <Button block type="submit" color="primary" size="large" loading={busy}>
          {t("login.submit")}
        </Button>
      </form>
    </>
  );
}
