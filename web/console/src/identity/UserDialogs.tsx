import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { OtpPurpose, UserStatus, type User } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { IdentityService } from "@terrace/api/gen/terrace/identity/v1/identity_service_pb";
import { Code, describeError } from "@terrace/api";
import {
  Alert,
  App,
  Button,
  DatePicker,
  Descriptions,
  Drawer,
  Flex,
  Form,
  Input,
  Modal,
  Spin,
  Tag,
  Typography,
} from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { ReasonDialog } from "../components/ReasonDialog";
import { useRequestId } from "../components/intent";
import { errorMessage, formErrors } from "../errors";
import { useFormat } from "../format";
import { session } from "../session";
import { roleLabel, statusLabel } from "./labels";
import { AreaName } from "../governance/AreaName";
import { statusColor, targetStatus, type StatusAction } from "./status";

const identity = session.client(IdentityService);
/** ResetPassword and RequestOtp are public: a wrong code must not be taken for a lost session. */
const publicIdentity = session.publicClient(IdentityService);

interface StatusValues {
  reason: string;
  lockedUntil?: { toDate(): Date };
}

/** Locks, unlocks, disables or re-enables a user (SetUserStatus), with the required reason. */
export function StatusDialog({
  user,
  action,
  onClose,
  onDone,
}: {
  user: User | undefined;
  action: StatusAction | undefined;
  onClose: () => void;
  onDone: (user: User | undefined) => void;
}) {
  const { t } = useTranslation();
  const [form] = Form.useForm<StatusValues>();
  const [busy, setBusy] = useState(false);
  const [problems, setProblems] = useState<string[]>([]);
  const requestId = useRequestId();
  const open = user !== undefined && action !== undefined;

  async function submit(values: StatusValues) {
    if (!user || !action) {
      return;
    }
    setBusy(true);
    setProblems([]);
    try {
      const response = await identity.setUserStatus({
        requestId: requestId.get(),
        userId: user.id,
        status: targetStatus(action),
        reason: values.reason.trim(),
        lockedUntil: action === "lock" && values.lockedUntil ? timestampFromDate(values.lockedUntil.toDate()) : undefined,
      });
      requestId.answered();
      form.resetFields();
      onDone(response.user);
    } catch (err) {
      requestId.answered(err);
      const e = describeError(err);
      const { fields, rest } = formErrors(e.fieldViolations, [
        ["reason", "reason"],
        ["locked_until", "lockedUntil"],
      ]);
      form.setFields(fields);
      if (e.code === Code.FailedPrecondition && e.reason === "PHONE_TAKEN") {
        setProblems([t("userStatus.phoneTaken")]);
      } else {
        setProblems(e.code === Code.InvalidArgument && fields.length > 0 ? rest : [errorMessage(t, err)]);
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal
      open={open}
      title={action ? t(`userStatus.${action}Title`) : ""}
      onOk={() => form.submit()}
      onCancel={() => {
        setProblems([]);
        onClose();
      }}
      okText={action ? t(`userStatus.${action}`) : ""}
      okButtonProps={{ danger: action === "lock" || action === "disable" }}
      cancelText={t("create.cancel")}
      confirmLoading={busy}
      forceRender
    >
      {user && action && (
        <Typography.Paragraph>
          {t(`userStatus.${action}Hint`, { name: user.displayName, phone: user.phoneNumber })}
        </Typography.Paragraph>
      )}
      {problems.length > 0 && (
        <Alert type="error" showIcon role="alert" message={problems.join("; ")} style={{ marginBottom: 16 }} />
      )}
      <Form<StatusValues> form={form} name="user-status" layout="vertical" onFinish={submit}>
        <Form.Item
          name="reason"
          label={t("common.reason")}
          rules={[{ required: true, whitespace: true, message: t("common.reasonRequired") }]}
        >
          <Input.TextArea rows={3} maxLength={500} />
        </Form.Item>
        {action === "lock" && (
          <Form.Item name="lockedUntil" label={t("userStatus.lockedUntil")} extra={t("userStatus.lockedUntilHelp")}>
            <DatePicker
              showTime={{ format: "HH:mm" }}
              format="YYYY-MM-DD HH:mm"
              disabledDate={(d) => d.toDate().getTime() < Date.now() - 86_400_000}
              style={{ width: "100%" }}
            />
          </Form.Item>
        )}
      </Form>
    </Modal>
  );
}

interface ResetValues {
  code: string;
  newPassword: string;
}

/**
 * Sets a villager's new password at the desk. The contract has no official-side reset:
 * ResetPassword takes an OTP_PURPOSE_RESET_PASSWORD code sent to the villager's phone, which
 * the villager reads out to the official, who types it with the new password.
 */
export function ResetPasswordDialog({ user, onClose }: { user: User | undefined; onClose: () => void }) {
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<ResetValues>();
  const [busy, setBusy] = useState(false);
  const [sending, setSending] = useState(false);
  const [problems, setProblems] = useState<string[]>([]);
  const [retryAt, setRetryAt] = useState(0);
  const [now, setNow] = useState(Date.now());
  const otpRequestId = useRequestId();
  const resetRequestId = useRequestId();

  useEffect(() => {
    if (retryAt <= now) {
      return;
    }
    const timer = setTimeout(() => setNow(Date.now()), 1000);
    return () => clearTimeout(timer);
  }, [retryAt, now]);

  useEffect(() => {
    // A different villager: start over.
    form.resetFields();
    setProblems([]);
    setRetryAt(0);
  }, [user?.id, form]);

  async function sendCode() {
    if (!user) {
      return;
    }
    setSending(true);
    setProblems([]);
    try {
      const response = await publicIdentity.requestOtp({
        requestId: otpRequestId.get(),
        phoneNumber: user.phoneNumber,
        purpose: OtpPurpose.RESET_PASSWORD,
        locale: user.locale || i18n.language,
      });
      otpRequestId.answered();
      // Between 30 s and 5 min, whatever the browser's clock says.
      const wait = response.retryTime ? timestampDate(response.retryTime).getTime() - Date.now() : 60_000;
      setRetryAt(Date.now() + Math.min(Math.max(wait, 30_000), 300_000));
      setNow(Date.now());
      void message.success(t("reset.codeSent", { phone: user.phoneNumber }));
    } catch (err) {
      otpRequestId.answered(err);
      const e = describeError(err);
      if (e.retryAfterMs) {
        setRetryAt(Date.now() + e.retryAfterMs);
        setNow(Date.now());
      }
      setProblems([errorMessage(t, err)]);
    } finally {
      setSending(false);
    }
  }

  async function submit(values: ResetValues) {
    if (!user) {
      return;
    }
    setBusy(true);
    setProblems([]);
    try {
      await publicIdentity.resetPassword({
        requestId: resetRequestId.get(),
        phoneNumber: user.phoneNumber,
        otpCode: values.code.trim(),
        newPassword: values.newPassword,
      });
      resetRequestId.answered();
      void message.success(t("reset.done", { name: user.displayName }));
      form.resetFields();
      onClose();
    } catch (err) {
      resetRequestId.answered(err);
      const e = describeError(err);
      if (e.code === Code.Unauthenticated) {
        form.setFields([{ name: "code", errors: [t("reset.codeFailed")] }]);
      } else {
        const { fields, rest } = formErrors(e.fieldViolations, [
          ["otp_code", "code"],
          ["new_password", "newPassword"],
        ]);
        form.setFields(fields);
        setProblems(e.code === Code.InvalidArgument && fields.length > 0 ? rest : [errorMessage(t, err)]);
      }
    } finally {
      setBusy(false);
    }
  }

  const wait = Math.ceil((retryAt - now) / 1000);
  return (
    <Modal
      open={user !== undefined}
      title={t("reset.title")}
      onOk={() => form.submit()}
      onCancel={onClose}
      okText={t("reset.submit")}
      cancelText={t("create.cancel")}
      confirmLoading={busy}
      forceRender
    >
      {user && (
        <Typography.Paragraph>{t("reset.hint", { name: user.displayName, phone: user.phoneNumber })}</Typography.Paragraph>
      )}
      {problems.length > 0 && (
        <Alert type="error" showIcon role="alert" message={problems.join("; ")} style={{ marginBottom: 16 }} />
      )}
      <Form<ResetValues> form={form} name="reset-password" layout="vertical" onFinish={submit}>
        <Form.Item label={t("reset.code")} required>
          <Flex gap={8}>
            <Form.Item
              name="code"
              noStyle
              rules={[{ required: true, pattern: /^\s*\d{6}\s*$/, message: t("login.codeRequired") }]}
            >
              <Input inputMode="numeric" maxLength={6} autoComplete="off" aria-label={t("reset.code")} />
            </Form.Item>
            <Button onClick={() => void sendCode()} loading={sending} disabled={wait > 0}>
              {wait > 0 ? t("login.resendIn", { seconds: wait }) : t("reset.sendCode")}
            </Button>
          </Flex>
        </Form.Item>
        <Form.Item
          name="newPassword"
          label={t("reset.newPassword")}
          extra={t("reset.newPasswordHelp")}
          rules={[{ required: true, min: 8, message: t("reset.newPasswordHelp") }]}
        >
          <Input.Password autoComplete="new-password" />
        </Form.Item>
      </Form>
    </Modal>
  );
}

/** A user's details and current grants (GetUser), and logging them out everywhere. */
export function UserDrawer({ userId, onClose }: { userId: string | undefined; onClose: () => void }) {
  const { t } = useTranslation();
  const format = useFormat();
  const { message } = App.useApp();
  const [user, setUser] = useState<User>();
  const [problem, setProblem] = useState<unknown>();
  const [revoking, setRevoking] = useState(false);

  useEffect(() => {
    setUser(undefined);
    setProblem(undefined);
    if (!userId) {
      return;
    }
    const abort = new AbortController();
    identity
      .getUser({ userId }, { signal: abort.signal })
      .then((response) => setUser(response.user))
      .catch((err: unknown) => {
        if (!abort.signal.aborted) {
          setProblem(err);
        }
      });
    return () => abort.abort();
  }, [userId]);

  return (
    <Drawer open={userId !== undefined} onClose={onClose} title={user?.displayName ?? t("user.title")} width={520}>
      {problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, problem)} />}
      {!user && problem === undefined && <Spin />}
      {user && (
        <Flex vertical gap={16}>
          <Descriptions column={1} bordered size="small">
            <Descriptions.Item label={t("people.phone")}>{user.phoneNumber}</Descriptions.Item>
            <Descriptions.Item label={t("people.status")}>
              <Tag color={statusColor(user.status)}>{statusLabel(t, user.status)}</Tag>
              {user.status === UserStatus.LOCKED &&
                (user.lockedUntil
                  ? t("user.lockedUntil", { time: format.dateTime(user.lockedUntil) })
                  : t("user.lockedIndefinitely"))}
            </Descriptions.Item>
            <Descriptions.Item label={t("user.password")}>
              {user.hasPassword ? t("user.hasPassword") : t("user.noPassword")}
            </Descriptions.Item>
            <Descriptions.Item label={t("create.email")}>{user.email || "—"}</Descriptions.Item>
            <Descriptions.Item label={t("people.lastLogin")}>
              {user.lastLoginTime ? format.dateTime(user.lastLoginTime) : t("people.never")}
            </Descriptions.Item>
            <Descriptions.Item label={t("user.created")}>
              {format.dateTime(user.audit?.createTime)}
              {user.audit?.creator?.displayName ? ` · ${user.audit.creator.displayName}` : ""}
            </Descriptions.Item>
            <Descriptions.Item label={t("user.id")}>
              <Typography.Text copyable code>
                {user.id}
              </Typography.Text>
            </Descriptions.Item>
          </Descriptions>
          <Typography.Title level={2} style={{ fontSize: 16, margin: 0 }}>
            {t("user.grants")}
          </Typography.Title>
          {user.roleGrants.length === 0 ? (
            <Typography.Text type="secondary">{t("shell.noRoles")}</Typography.Text>
          ) : (
            <ul style={{ margin: 0, paddingInlineStart: 20 }}>
              {user.roleGrants.map((g) => (
                <li key={g.id}>
                  {roleLabel(t, g.role)} · <AreaName area={g.scope} />
                  {g.expireTime ? ` · ${t("grants.until", { time: format.dateTime(g.expireTime) })}` : ""}
                  {g.grantedBy?.displayName ? ` · ${t("user.grantedBy", { name: g.grantedBy.displayName })}` : ""}
                </li>
              ))}
            </ul>
          )}
          <div>
            <Button danger onClick={() => setRevoking(true)}>
              {t("user.revokeSessions")}
            </Button>
            <Typography.Paragraph type="secondary" style={{ marginTop: 8 }}>
              {t("user.revokeSessionsHelp")}
            </Typography.Paragraph>
          </div>
        </Flex>
      )}
      <ReasonDialog
        open={revoking}
        name="revoke-user-sessions"
        title={t("user.revokeSessions")}
        okText={t("user.revokeSessionsOk")}
        required
        action={async (requestId, reason) => {
          const response = await identity.revokeAllSessions({ requestId, userId: userId ?? "", reason });
          void message.success(t("user.revokedSessions", { count: response.revokedCount }));
        }}
        onClose={() => setRevoking(false)}
        onDone={() => setRevoking(false)}
      >
        <Typography.Paragraph>{t("user.revokeSessionsConfirm", { name: user?.displayName ?? "" })}</Typography.Paragraph>
      </ReasonDialog>
    </Drawer>
  );
}
