import { Code, describeError, newRequestId } from "@terrace/api";
import { IdentityService } from "@terrace/api/gen/terrace/identity/v1/identity_service_pb";
import { Button, Checkbox, Form, Input, Radio, Space, TextArea, Toast } from "antd-mobile";
import { CheckOutline, LeftOutline } from "antd-mobile-icons";
import { useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";
import {
  CONSENT_SCOPES,
  CONSENT_VIOLATION_FIELDS,
  DURATIONS,
  MAX_NOTE_CHARS,
  grantConsentRequest,
  validateConsent,
  type ConsentField,
  type ConsentForm as Values,
  type Duration,
} from "../consent";
import { explainError } from "../errors";
import { session, useSession } from "../session";
import { useScopeLabel } from "./ConsentsPage";

const identity = session.client(IdentityService);

/** GrantConsent: the helper's account number, what they may do, for how long, a note. */
export default function ConsentForm() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const scopeLabel = useScopeLabel();
  const snapshot = useSession();
  const [form] = Form.useForm<Values>();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string>();
  // One id per intent: kept when the same consent is retried after a network failure.
  const requestId = useRef<string>(undefined);

  async function submit(values: Values) {
    setProblem(undefined);
    const form_ = { helperId: values.helperId ?? "", scopes: values.scopes ?? [], duration: values.duration, note: values.note ?? "" };
    const problems = validateConsent(form_, snapshot.account?.userId);
    const names = Object.keys(problems) as ConsentField[];
    form.setFields(
      (["helperId", "scopes", "duration", "note"] as ConsentField[]).map((name) => ({
        name,
        errors: problems[name] ? [t(`consent.errors.${problems[name]}`)] : [],
      })),
    );
    if (names.length > 0 || form_.duration === undefined) {
      return;
    }
    setBusy(true);
    requestId.current ??= newRequestId();
    try {
      await identity.grantConsent(
        grantConsentRequest({ ...form_, duration: form_.duration }, requestId.current, Date.now()),
      );
      requestId.current = undefined;
      Toast.show({ icon: "success", content: t("consent.granted") });
      navigate("/consents");
    } catch (err) {
      if (describeError(err).code !== Code.Unavailable) {
        requestId.current = undefined;
      }
      const { byField, message } = explainError(t, err, CONSENT_VIOLATION_FIELDS);
      form.setFields(
        (Object.entries(byField) as [ConsentField, string][]).map(([name, error]) => ({ name, errors: [error] })),
      );
      setProblem(message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="page">
      <Link to="/consents" className="back-link">
        <LeftOutline aria-hidden /> {t("consent.title")}
      </Link>
      <h1>{t("consent.add")}</h1>
      {problem && (
        <p className="problem" role="alert">
          {problem}
        </p>
      )}
      <Form
        form={form}
        name="consent"
        layout="vertical"
        requiredMarkStyle="none"
        initialValues={{ helperId: "", scopes: [], duration: "month", note: "" }}
        onFinish={submit}
        footer={
          <Button block type="submit" color="primary" size="large" loading={busy}>
            <CheckOutline aria-hidden /> {t("consent.submit")}
          </Button>
        }
      >
        <Form.Item name="helperId" label={t("consent.helperId")} description={t("consent.helperIdHelp")}>
          <Input autoComplete="off" autoCapitalize="off" placeholder={t("consent.helperIdPlaceholder")} />
        </Form.Item>
        <Form.Item name="scopes" label={t("consent.scopes")}>
          <Checkbox.Group>
            <Space direction="vertical">
              {CONSENT_SCOPES.map((scope) => (
                <Checkbox key={scope} value={scope}>
                  {scopeLabel(scope)}
                </Checkbox>
              ))}
            </Space>
          </Checkbox.Group>
        </Form.Item>
        <Form.Item name="duration" label={t("consent.duration")}>
          <Radio.Group>
            <Space direction="vertical">
              {DURATIONS.map((duration: Duration) => (
                <Radio key={duration} value={duration}>
                  {t(`consent.${duration}`)}
                </Radio>
              ))}
            </Space>
          </Radio.Group>
        </Form.Item>
        <Form.Item name="note" label={t("consent.note")}>
          <TextArea rows={2} maxLength={MAX_NOTE_CHARS} showCount placeholder={t("consent.notePlaceholder")} />
        </Form.Item>
      </Form>
    </div>
  );
}
