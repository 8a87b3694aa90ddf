import { Code, describeError, newRequestId } from "@terrace/api";
import { IdentityService } from "@terrace/api/gen/terrace/identity/v1/identity_service_pb";
import { Role, type User } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { Button, Dialog, Form, Input, Radio, Space, Toast } from "antd-mobile";
import { CheckOutline, CloseCircleOutline, FileOutline } from "antd-mobile-icons";
import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router";
import { explainError, errorMessage } from "../errors";
import { useFormat } from "../format";
import { LANGUAGES, currentLanguage, setLanguage, type Language } from "../i18n";
import { displayPhone } from "../phone";
import { session } from "../session";

type Field = "displayName" | "locale";
const VIOLATION_FIELDS: Record<string, Field> = {
  "user.display_name": "displayName",
  "user.locale": "locale",
};

const identity = session.client(IdentityService);

/**
 * My profile: GetCurrentUser; the name and language are editable (UpdateUser allows the user
 * themself to change display_name, locale, time_zone and email). The account number is shown so
 * that this person can be named as someone's helper (consents name helpers by user id).
 */
export default function ProfilePage() {
  const { t } = useTranslation();
  const format = useFormat();
  const navigate = useNavigate();
  const [form] = Form.useForm<{ displayName: string; locale: string }>();
  const [user, setUser] = useState<User>();
  const [problem, setProblem] = useState<string>();
  const [saving, setSaving] = useState(false);
  // One id per intent: kept when the same save is retried after a network failure.
  const requestId = useRef<string>(undefined);

  useEffect(() => {
    let cancelled = false;
    identity
      .getCurrentUser({})
      .then((response) => {
        if (!cancelled && response.user) {
          setUser(response.user);
          session.updateAccount(response.user);
          form.setFieldsValue({
            displayName: response.user.displayName,
            locale: response.user.locale === "en" ? "en" : "zh-CN",
          });
        }
      })
      .catch((err: unknown) => !cancelled && setProblem(errorMessage(t, err)));
    return () => {
      cancelled = true;
    };
  }, [form, t]);

  async function save(values: { displayName: string; locale: string }) {
    if (!user) {
      return;
    }
    const paths: string[] = [];
    if (values.displayName.trim() !== user.displayName) paths.push("display_name");
    if (values.locale !== user.locale) paths.push("locale");
    if (paths.length === 0) {
      Toast.show({ content: t("profile.saved") });
      return;
    }
    setSaving(true);
    setProblem(undefined);
    requestId.current ??= newRequestId();
    try {
      const response = await identity.updateUser({
        requestId: requestId.current,
        user: { id: user.id, displayName: values.displayName.trim(), locale: values.locale },
        updateMask: { paths },
      });
      requestId.current = undefined;
      if (response.user) {
        setUser(response.user);
        session.updateAccount(response.user);
      }
      if (paths.includes("locale")) {
        setLanguage(values.locale as Language);
      }
      Toast.show({ icon: "success", content: t("profile.saved") });
    } catch (err) {
      if (describeError(err).code !== Code.Unavailable) {
        requestId.current = undefined; // the server answered: the next save is a new intent
      }
      const { byField, message } = explainError(t, err, VIOLATION_FIELDS);
      form.setFields(
        (Object.entries(byField) as [Field, string][]).map(([name, error]) => ({ name, errors: [error] })),
      );
      setProblem(message);
    } finally {
      setSaving(false);
    }
  }

  async function copyId() {
    if (!accountId) return;
    try {
      await navigator.clipboard.writeText(accountId);
      Toast.show({ content: t("profile.copied") });
    } catch {
      // No clipboard (old browser, no permission): the number stays selectable on screen.
    }
  }

  async function logout() {
    const name = session.getSnapshot().account?.displayName ?? "";
    const ok = await Dialog.confirm({
      content: t("profile.logoutConfirm", { name }),
      confirmText: t("profile.confirm"),
      cancelText: t("profile.cancel"),
    });
    if (ok) {
      await session.logout();
      navigate("/login", { replace: true });
    }
  }

  const roles = [...new Set(user?.roleGrants.map((g) => g.role) ?? [])];
  // Before GetCurrentUser answers (or with no network) what this phone remembers of the account.
  const account = session.getSnapshot().account;
  const phoneNumber = user?.phoneNumber ?? account?.phoneNumber;
  const accountId = user?.id ?? account?.userId;

  return (
    <div className="page">
      <h1>{t("profile.title")}</h1>
      {problem && (
        <p className="problem" role="alert">
          {problem}
        </p>
      )}
      <Form
        form={form}
        name="profile"
        layout="vertical"
        requiredMarkStyle="none"
        initialValues={{ displayName: account?.displayName ?? "", locale: currentLanguage() }}
        onFinish={save}
        footer={
          <Button block type="submit" color="primary" size="large" loading={saving} disabled={!user}>
            <CheckOutline aria-hidden /> {t("profile.save")}
          </Button>
        }
      >
        <Form.Item
          name="displayName"
          label={t("profile.name")}
          rules={[
            { required: true, whitespace: true, message: t("profile.nameRequired") },
            { max: 64, message: t("profile.nameTooLong") },
          ]}
        >
          <Input autoComplete="name" />
        </Form.Item>
        <Form.Item name="locale" label={t("profile.language")}>
          <Radio.Group>
            <Space direction="vertical">
              {LANGUAGES.map((language) => (
                <Radio key={language} value={language}>
                  <span lang={language}>{t(`lang.${language}`)}</span>
                </Radio>
              ))}
            </Space>
          </Radio.Group>
        </Form.Item>
      </Form>
      {accountId && (
        <dl className="facts">
          <dt>{t("profile.phone")}</dt>
          <dd>{phoneNumber ? displayPhone(phoneNumber) : ""}</dd>
          {user && (
            <>
              <dt>{t("profile.roles")}</dt>
              <dd>{roles.length > 0 ? roles.map((r) => t(`role.ROLE_${Role[r]}` as "role.ROLE_FARMER")).join("、") : t("profile.noRoles")}</dd>
              <dt>{t("profile.lastLogin")}</dt>
              <dd>{format.dateTime(user.lastLoginTime)}</dd>
            </>
          )}
          <dt id="account-id-label">{t("profile.accountId")}</dt>
          <dd>
            <code className="account-id" aria-labelledby="account-id-label">
              {accountId}
            </code>
            <span className="muted">{t("profile.accountIdHelp")}</span>
            <Button size="middle" onClick={() => void copyId()}>
              <FileOutline aria-hidden /> {t("profile.copy")}
            </Button>
          </dd>
        </dl>
      )}
      <Button block size="large" color="danger" fill="outline" onClick={() => void logout()}>
        <CloseCircleOutline aria-hidden /> {t("profile.logout")}
      </Button>
    </div>
  );
}
