import { Code, describeError } from "@terrace/api";
import { Button } from "antd-mobile";
import { MessageOutline, PhoneFill, UserAddOutline, UserOutline } from "antd-mobile-icons";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, Navigate, useNavigate } from "react-router";
import { Field } from "../components/Field";
import { LanguageSwitch } from "../components/LanguageSwitch";
import { explainError } from "../errors";
import { useResendTimer } from "../hooks/useResendTimer";
import { cleanPhoneInput, displayPhone, phoneProblem } from "../phone";
import { session, useSession } from "../session";

type FieldName = "phone" | "code";
/** Request fields of RequestOtp and LoginWithOtp, as the server names them in violations. */
const VIOLATION_FIELDS: Record<string, FieldName> = { phone_number: "phone", otp_code: "code" };
const CODE = /^\d{6}$/;

/**
 * Login with a one-time code: phone, "send code" (then a countdown from the server's retry time),
 * the code, log in. Below it, the accounts this phone remembers: one tap continues as that person
 * with their refresh cookie, no code needed.
 */
export default function LoginPage() {
  const { t, i18n } = useTranslation();
  const snapshot = useSession();
  const navigate = useNavigate();
  const accounts = session.accounts();
  const lostAccount = snapshot.lost ? snapshot.account : undefined;
  const [phone, setPhone] = useState(() => {
    const initial = snapshot.account?.phoneNumber ?? accounts[0]?.phoneNumber;
    return initial ? displayPhone(initial) : "";
  });
  const [code, setCode] = useState("");
  const [errors, setErrors] = useState<Partial<Record<FieldName, string>>>({});
  const [busy, setBusy] = useState(false);
  const [sending, setSending] = useState(false);
  const [problem, setProblem] = useState<string>();
  const [sentTo, setSentTo] = useState<string>();
  const resend = useResendTimer();

  if (snapshot.authenticated) {
    return <Navigate to="/" replace />;
  }

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
      document.getElementById("login-phone")?.focus();
      return;
    }
    setSending(true);
    try {
      const retryAt = await session.requestLoginCode(phone, i18n.language);
      setSentTo(displayPhone(phone));
      resend.sent(retryAt);
      document.getElementById("login-code")?.focus();
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
      document.getElementById(phoneOk ? "login-code" : "login-phone")?.focus();
      return;
    }
    setBusy(true);
    try {
      await session.loginWithOtp(phone, code);
      navigate("/", { replace: true });
    } catch (err) {
      showError(err);
    } finally {
      setBusy(false);
    }
  }

  async function continueAs(userId: string, phoneNumber: string) {
    // Restoring (no network yet): the shell shows that account and keeps trying by itself.
    if ((await session.switchAccount(userId)) || session.getSnapshot().restoring) {
      navigate("/", { replace: true });
    } else {
      setPhone(displayPhone(phoneNumber));
    }
  }

  const wait = resend.wait;

  return (
    <div className="page login-page">
      <header className="login-header">
        <img src={`${import.meta.env.BASE_URL}icon.svg`} alt="" width={56} height={56} />
        <div>
          <h1>{t("app.fullName")}</h1>
          <p className="muted">{t("login.subtitle")}</p>
        </div>
      </header>
      <LanguageSwitch />
      <main>
        <h2>{t("login.title")}</h2>
        {lostAccount && (
          <p className="notice" role="status">
            {t("login.sessionLost", { name: lostAccount.displayName })}
          </p>
        )}
        {problem && (
          <p className="problem" role="alert">
            {problem}
          </p>
        )}
        <form onSubmit={(e) => void login(e)} noValidate>
          <Field
            id="login-phone"
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
            id="login-code"
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
                <MessageOutline aria-hidden />{" "}
                {wait > 0 ? t("login.resendIn", { seconds: wait }) : t("login.sendCode")}
              </Button>
            }
          />
          <Button block type="submit" color="primary" size="large" loading={busy}>
            {t("login.submit")}
          </Button>
        </form>
        <p className="signup-offer">
          {t("login.noAccount")}
          <Link to="/signup" className="link-button">
            <UserAddOutline aria-hidden /> {t("login.signUp")}
          </Link>
        </p>
        {accounts.length > 0 && (
          <section aria-labelledby="remembered-title" className="remembered">
            <h2 id="remembered-title">{t("login.remembered")}</h2>
            <ul>
              {accounts.map((account) => (
                <li key={account.userId}>
                  <Button
                    block
                    size="large"
                    onClick={() => void continueAs(account.userId, account.phoneNumber)}
                    loading={snapshot.restoring && snapshot.account?.userId === account.userId}
                  >
                    <UserOutline aria-hidden /> {t("login.continueAs", { name: account.displayName })}
                    <span className="muted phone-line">
                      <PhoneFill aria-hidden /> {displayPhone(account.phoneNumber)}
                    </span>
                  </Button>
                </li>
              ))}
            </ul>
          </section>
        )}
      </main>
    </div>
  );
}
