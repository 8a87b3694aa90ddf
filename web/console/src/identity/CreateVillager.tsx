import { create } from "@bufbuild/protobuf";
import { AdminCodeSchema, AdminLevel, type AdminCode } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { Role, RoleGrantSchema, UserSchema } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { IdentityService } from "@terrace/api/gen/terrace/identity/v1/identity_service_pb";
import { Code, describeError, newRequestId, normalizePhone } from "@terrace/api";
import { Alert, App, Checkbox, Form, Input, Modal } from "antd";
import { useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { errorMessage, formErrors } from "../errors";
import { AreaInput } from "../governance/AreaField";
import { session } from "../session";
import { roleLabel } from "./labels";

const identity = session.client(IdentityService);

interface Values {
  displayName: string;
  phone: string;
  password?: string;
  email?: string;
  roles: Role[];
  village: string;
}

/** CreateUser's request fields, as the server names them in violations, to this form's fields. */
const FIELD_RULES: [string | RegExp, keyof Values][] = [
  ["user.display_name", "displayName"],
  ["user.phone_number", "phone"],
  ["user.email", "email"],
  ["password", "password"],
  [/^initial_grants\[\d+\]\.role/, "roles"],
  [/^initial_grants\[\d+\]\.scope/, "village"],
];

/** Failures after which the same request may be sent again unchanged, under the same request id. */
const TRANSIENT = new Set([Code.Unavailable, Code.Unknown, Code.DeadlineExceeded, Code.Canceled]);

interface Props {
  open: boolean;
  /** The official's own villages, offered as the default village. */
  villages: AdminCode[];
  /** The official's areas: the village is found by name inside them. */
  areas: AdminCode[];
  onClose: () => void;
  onCreated: () => void;
}

/**
 * Registers a villager at the village desk (CreateUser), with resident/farmer roles in their
 * village. The dialog only hides on cancel, so what was typed is still there when it reopens.
 */
export function CreateVillager({ open, villages, areas, onClose, onCreated }: Props) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<Values>();
  const [busy, setBusy] = useState(false);
  const [problems, setProblems] = useState<string[]>([]);
  // One id per attempt to register this person: kept across retries after a network failure
  // (so a lost answer cannot register them twice), renewed after any answer from the server.
  const requestId = useRef(newRequestId());

  async function submit(values: Values) {
    setBusy(true);
    setProblems([]);
    const village = values.village.trim();
    try {
      const response = await identity.createUser({
        requestId: requestId.current,
        user: create(UserSchema, {
          displayName: values.displayName.trim(),
          phoneNumber: normalizePhone(values.phone),
          email: values.email?.trim() ?? "",
          locale: "zh-CN",
          timeZone: "Asia/Shanghai",
        }),
        password: values.password ?? "",
        initialGrants: values.roles.map((role) =>
          create(RoleGrantSchema, {
            role,
            scope: create(AdminCodeSchema, { code: village, level: AdminLevel.VILLAGE }),
          }),
        ),
      });
      requestId.current = newRequestId();
      void message.success(t("create.done", { name: response.user?.displayName ?? "" }));
      form.resetFields();
      onCreated();
    } catch (err) {
      const e = describeError(err);
      if (!TRANSIENT.has(e.code)) {
        requestId.current = newRequestId();
      }
      if (e.code === Code.InvalidArgument) {
        const { fields, rest } = formErrors(e.fieldViolations, FIELD_RULES);
        form.setFields(fields);
        setProblems(rest);
      } else if (e.code === Code.AlreadyExists) {
        form.setFields([{ name: "phone", errors: [t("create.phoneTaken")] }]);
      } else {
        setProblems([errorMessage(t, err)]);
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal
      open={open}
      title={t("create.title")}
      okText={t("create.submit")}
      cancelText={t("create.cancel")}
      onOk={() => form.submit()}
      onCancel={onClose}
      confirmLoading={busy}
      forceRender
    >
      {problems.length > 0 && (
        <Alert
          type="error"
          showIcon
          role="alert"
          message={t("create.otherErrors")}
          description={problems.join("; ")}
          style={{ marginBottom: 16 }}
        />
      )}
      <Form<Values>
        form={form}
        name="create-villager"
        layout="vertical"
        onFinish={submit}
        initialValues={{ roles: [Role.RESIDENT], village: villages[0]?.code ?? "" }}
      >
        <Form.Item
          name="displayName"
          label={t("create.displayName")}
          rules={[{ required: true, whitespace: true, message: t("create.displayNameRequired") }]}
        >
          <Input autoComplete="off" maxLength={64} />
        </Form.Item>
        <Form.Item
          name="phone"
          label={t("create.phone")}
          extra={t("create.phoneHelp")}
          rules={[{ required: true, whitespace: true, message: t("login.phoneRequired") }]}
        >
          <Input type="tel" inputMode="tel" autoComplete="off" />
        </Form.Item>
        <Form.Item name="password" label={t("create.password")} extra={t("create.passwordHelp")}>
          <Input.Password autoComplete="new-password" />
        </Form.Item>
        <Form.Item name="email" label={t("create.email")}>
          <Input type="email" autoComplete="off" />
        </Form.Item>
        <Form.Item name="roles" label={t("create.roles")}>
          <Checkbox.Group
            options={[Role.RESIDENT, Role.FARMER].map((role) => ({ value: role, label: roleLabel(t, role) }))}
          />
        </Form.Item>
        <Form.Item name="village" label={t("create.village")} extra={t("create.villageHelp")}>
          {/* Found by name among the villages of the official's areas; the field holds its code. */}
          <AreaInput within={areas} level={AdminLevel.VILLAGE} placeholder={t("create.villagePlaceholder")} />
        </Form.Item>
      </Form>
    </Modal>
  );
}
