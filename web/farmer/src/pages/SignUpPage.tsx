import { Code, describeError } from "@terrace/api";
import { Button } from "antd-mobile";
import { LeftOutline, MessageOutline, UserAddOutline } from "antd-mobile-icons";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, Navigate, useNavigate } from "react-router";
import { Field } from "../components/Field";
import { LanguageSwitch } from "../components/LanguageSwitch";
import { explainError } from "../errors";
import { useResendTimer } from "../hooks/useResendTimer";
import { cleanPhoneInput, displayPhone, phoneProblem } from "../phone";
import { session, useSession } from "../session";
import { signUpProblem, type SignUpField } from "../signup";

/** Request fields of RequestOtp and SignUp, as the server names them in violations. */
const VIOLATION_FIELDS: Record<string, SignUpField> = {
  phone_number: "phone",
  otp_code: "code",
  display_name: "name",
};
const IDS: Record<SignUpField, string> = { name: "signup-name", phone: "signup-phone", code: "signup-code" };

/**
 * Sign-up for someone with no account: their name, their phone, a code sent to it
 * (OTP_PURPOSE_SIGN_UP), then SignUp, which creates the account and logs it in. No password:
 * farmers log in by code. The new account holds no roles; the village official grants them.
 * Loaded only when opened from the login screen, so the first screen stays small.
 */
export default function SignUpPage() {
  const { t, i18n } = useTranslation();
  const snapshot = useSession();
  const navigate = useNavigate();
  const [name, setName] = useState("");
  const [phone, setPhone] = useState("");
  const [code, setCode] = useState("");
  const [errors, setErrors] = useState<Partial<Record<SignUpField, string>>>({});
  const [problem, setProblem] = useState<string>();
  /** The phone already has an account: offer the login screen instead. */
  const [exists, setExists] = useState(false);
  const [sentTo, setSentTo] = useState<string>();
  const [sending, setSending] = useState(false);
  const [busy, setBusy] = useState(false);
  const resend = useResendTimer();

  if (snapshot.authenticated) {
    return <Navigate to="/" replace />;
  }

  function clear(field: SignUpField) {
    setErrors((e) => ({ ...e, [field]: undefined }));
    setProblem(undefined);
    setExists(false);
  }

  function showError(err: unknown) {
    const e = describeError(err);
    const { byField, message } = explainError(t, err, VIOLATION_FIELDS);
    setErrors(byField);
    const first = (["name", "phone", "code"] as const).find((f) => byField[f]);
    if (first) {
      document.getElementById(IDS[first])?.focus();
    }
    if (e.code === Code.Unauthenticated) {
      setErrors((x) => ({ ...x, code: t("login.codeFailed") }));
      document.getElementById(IDS.code)?.focus();
    } else if (e.code === Code.AlreadyExists) {
      setExists(true);
      setProblem(t("signup.exists"));
    } else if (e.code === Code.ResourceExhausted && e.retryAfterMs) {
      setProblem(t("login.throttled", { seconds: Math.ceil(e.retryAfterMs / 1000) }));
    } else {
      setProblem(message);
    }
  }

  function checkPhone(): boolean {
    const local = phoneProblem(phone);
    setErrors((e) => ({ ...e, phone: local && t(local === "empty" ? "login.phoneRequired" : "login.phoneInvalid") }));
    return local === undefined;
  }

  async function sendCode() {
    setProblem(undefined);
    setExists(false);
    if (!checkPhone()) {
      document.getElementById(IDS.phone)?.focus();
      return;
    }
    setSending(true);
    try {
      resend.sent(await session.requestSignUpCode(phone, i18n.language));
      setSentTo(displayPhone(phone));
      document.getElementById(IDS.code)?.focus();
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

  async function submit(event: FormEvent) {
    event.preventDefault();
    setProblem(undefined);
    setExists(false);
    const local = signUpProblem({ name, phone, code });
    setErrors(
      Object.fromEntries(Object.entries(local).map(([field, key]) => [field, t(key)])) as Partial<
        Record<SignUpField, string>
      >,
    );
    const first = (["name", "phone", "code"] as const).find((f) => local[f]);
    if (first) {
      document.getElementById(IDS[first])?.focus();
      return;
    }
    setBusy(true);
    try {
      await session.signUp({ phone, code, displayName: name.trim(), locale: i18n.language });
      navigate("/me", { replace: true });
    } catch (err) {
      showError(err);
    } finally {
      setBusy(false);
    }
  }

  const wait = resend.wait;
  return (
    <div className="page login-page">
      <header className="login-header">
        <img src={`${import.meta.env.BASE_URL}icon.svg`} alt="" width={56} height={56} />
        <div>
          <h1>{t("signup.title")}</h1>
          <p className="muted">{t("signup.subtitle")}</p>
        </div>
      </header>
      <LanguageSwitch />
      <main>
        {problem && (
          <p className="problem" role="alert">
            {problem}
            {exists && (
              <>
                {" "}
                <Link to="/login">{t("signup.toLogin")}</Link>
              </>
            )}
          </p>
        )}
        <form onSubmit={(e) => void submit(e)} noValidate>
          <Field
            id={IDS.name}
            label={t("signup.name")}
            autoComplete="name"
            enterKeyHint="next"
            placeholder={t("signup.namePlaceholder")}
            value={name}
            error={errors.name}
            onChange={(e) => {
              setName(e.target.value);
              clear("name");
            }}
          />
          <Field
            id={IDS.phone}
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
              clear("phone");
            }}
          />
          <Field
            id={IDS.code}
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
              clear("code");
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
                <MessageOutline aria-hidden />{" "}
                {wait > 0 ? t("login.resendIn", { seconds: wait }) : t("login.sendCode")}
              </Button>
            }
          />
          <p className="muted">{t("signup.noRoles")}</p>
          <Button block type="submit" color="primary" size="large" loading={busy}>
            <UserAddOutline aria-hidden /> {t("signup.submit")}
          </Button>
        </form>
        <p className="signup-offer">
          {t("signup.haveAccount")}
          <Link to="/login" className="link-button">
            <LeftOutline aria-hidden /> {t("signup.toLogin")}
          </Link>
        </p>
      </main>
    </div>
  );
}
