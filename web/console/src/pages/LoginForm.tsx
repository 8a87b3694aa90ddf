import { Code, describeError } from "@terrace/api";
import type { User } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { Alert, Button, Form, Input, Space, Tabs } from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { errorMessage, formErrors } from "../errors";
import { session } from "../session";

interface Props {
  /** Phone number to start with (the account whose login expired, or the last one used). */
  initialPhone?: string;
  onDone: (user: User) => void;
  /** Distinguishes the form ids when the page and a dialog could both hold one. */
  idPrefix?: string;
}

/** Fields of the login requests, as the server names them in violations, to form fields. */
const FIELD_RULES: [string, "phone" | "password" | "code"][] = [
  ["phone_number", "phone"],
  ["password", "password"],
  ["otp_code", "code"],
];

/** Phone and password, or phone and SMS code. Used by the login page and the expired-login dialog. */
export function LoginForm({ initialPhone, onDone, idPrefix = "login" }: Props) {
  const { t, i18n } = useTranslation();
  const [passwordForm] = Form.useForm();
  const [otpForm] = Form.useForm();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string>();
  const [codeSent, setCodeSent] = useState(false);
  const [resendAt, setResendAt] = useState(0);
  const [now, setNow] = useState(Date.now());

  useEffect(() => {
    if (resendAt <= now) {
      return;
    }
    const timer = setTimeout(() => setNow(Date.now()), 1000);
    return () => clearTimeout(timer);
  }, [resendAt, now]);

  function explain(form: ReturnType<typeof Form.useForm>[0], err: unknown, wrong: string) {
    const e = describeError(err);
    if (e.code === Code.InvalidArgument) {
      const { fields, rest } = formErrors(e.fieldViolations, FIELD_RULES);
      form.setFields(fields);
      setProblem(rest.length > 0 ? rest.join("; ") : undefined);
    } else if (e.code === Code.Unauthenticated) {
      setProblem(wrong);
    } else if (e.code === Code.PermissionDenied && e.reason === "USER_LOCKED") {
      setProblem(t("login.locked"));
    } else if (e.code === Code.PermissionDenied && e.reason === "USER_DISABLED") {
      setProblem(t("login.disabled"));
    } else if (e.code === Code.ResourceExhausted && e.retryAfterMs) {
      setProblem(t("login.throttled", { seconds: Math.ceil(e.retryAfterMs / 1000) }));
    } else {
      setProblem(errorMessage(t, err));
    }
  }

  async function withPassword(values: { phone: string; password: string }) {
    setBusy(true);
    setProblem(undefined);
    try {
      onDone(await session.loginWithPassword(values.phone, values.password));
    } catch (err) {
      explain(passwordForm, err, t("login.failed"));
    } finally {
      setBusy(false);
    }
  }

  async function withCode(values: { phone: string; code: string }) {
    setBusy(true);
    setProblem(undefined);
    try {
      onDone(await session.loginWithOtp(values.phone, values.code));
    } catch (err) {
      explain(otpForm, err, t("login.codeFailed"));
    } finally {
      setBusy(false);
    }
  }

  async function sendCode() {
    setProblem(undefined);
    try {
      const phone: string = await otpForm.validateFields(["phone"]).then((v) => v.phone);
      const retryAt = await session.requestLoginCode(phone, i18n.language);
      // The server's clock may differ from ours; only its wait is trusted, capped to 5 minutes.
      const wait = retryAt ? Math.min(Math.max(retryAt - Date.now(), 30_000), 300_000) : 60_000;
      setCodeSent(true);
      setResendAt(Date.now() + wait);
      setNow(Date.now());
    } catch (err) {
      if (err && typeof err === "object" && "errorFields" in err) {
        return; // the form shows what is missing
      }
      const e = describeError(err);
      if (e.code === Code.ResourceExhausted && e.retryAfterMs) {
        setResendAt(Date.now() + e.retryAfterMs);
        setNow(Date.now());
      }
      explain(otpForm, err, t("login.codeFailed"));
    }
  }

  const phoneItem = (
    <Form.Item
      name="phone"
      label={t("login.phone")}
      rules={[{ required: true, whitespace: true, message: t("login.phoneRequired") }]}
    >
      <Input type="tel" inputMode="tel" autoComplete="username" placeholder={t("login.phonePlaceholder")} />
    </Form.Item>
  );
  const waitSeconds = Math.ceil((resendAt - now) / 1000);

  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      {problem && <Alert type="error" showIcon message={problem} role="alert" />}
      <Tabs
        items={[
          {
            key: "password",
            label: t("login.tabPassword"),
            children: (
              <Form
                form={passwordForm}
                name={`${idPrefix}-password`}
                layout="vertical"
                initialValues={{ phone: initialPhone }}
                onFinish={withPassword}
                onValuesChange={() => setProblem(undefined)}
                requiredMark={false}
              >
                {phoneItem}
                <Form.Item
                  name="password"
                  label={t("login.password")}
                  rules={[{ required: true, message: t("login.passwordRequired") }]}
                >
                  <Input.Password autoComplete="current-password" />
                </Form.Item>
                <Button type="primary" htmlType="submit" block loading={busy}>
                  {t("login.submit")}
                </Button>
              </Form>
            ),
          },
          {
            key: "otp",
            label: t("login.tabOtp"),
            children: (
              <Form
                form={otpForm}
                name={`${idPrefix}-otp`}
                layout="vertical"
                initialValues={{ phone: initialPhone }}
                onFinish={withCode}
                requiredMark={false}
              >
                {phoneItem}
                <Form.Item
                  label={t("login.code")}
                  required
                  extra={codeSent ? t("login.codeSent") : undefined}
                >
                  <Space.Compact style={{ width: "100%" }}>
                    <Form.Item
                      name="code"
                      noStyle
                      rules={[{ required: true, pattern: /^\s*\d{6}\s*$/, message: t("login.codeRequired") }]}
                    >
                      <Input
                        id={`${idPrefix}-otp_code`}
                        aria-label={t("login.code")}
                        inputMode="numeric"
                        autoComplete="one-time-code"
                        maxLength={6}
                      />
                    </Form.Item>
                    <Button onClick={sendCode} disabled={waitSeconds > 0}>
                      {waitSeconds > 0 ? t("login.resendIn", { seconds: waitSeconds }) : t("login.sendCode")}
                    </Button>
                  </Space.Compact>
                </Form.Item>
                <Button type="primary" htmlType="submit" block loading={busy}>
                  {t("login.submit")}
                </Button>
              </Form>
            ),
          },
        ]}
      />
    </Space>
  );
}
