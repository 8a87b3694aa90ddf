import type { AdminCode } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { ResidentSchema, type Resident } from "@terrace/api/gen/terrace/governance/v1/registry_pb";
import type { User } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { create } from "@bufbuild/protobuf";
import { Code, describeError, normalizePhone } from "@terrace/api";
import { Alert, Form, Input, Modal, Radio, Space, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useRequestId } from "../../components/intent";
import { errorMessage } from "../../errors";
import { villageArea } from "./areas";
import { governance, identity } from "./client";

/**
 * The accounts with this phone number among the people of `area` (identity's ListUsers takes a
 * whole E.164 number as its query, as the people page searches). A number that is not a mobile
 * is sent as typed, for the server to refuse.
 */
export async function findAccount(phone: string, area: AdminCode): Promise<User[]> {
  const answer = await identity.listUsers({ page: { pageSize: 5, pageToken: "" }, area, query: normalizePhone(phone.trim()) });
  return answer.users;
}

/**
 * Links a resident's record to the account of the person it describes (UpdateResident, mask
 * `user_id`), so that they can read their record and who looked at it. The account is found by
 * phone number among the people of the resident's village, and confirmed by its name.
 */
export function LinkAccountDialog({
  resident,
  open,
  onClose,
  onLinked,
}: {
  resident: Resident;
  open: boolean;
  onClose: () => void;
  onLinked: (resident: Resident) => void;
}) {
  const { t } = useTranslation();
  const [form] = Form.useForm<{ phone: string }>();
  const [found, setFound] = useState<User[]>();
  const [chosen, setChosen] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string>();
  const requestId = useRequestId();

  async function look({ phone }: { phone: string }) {
    setBusy(true);
    setProblem(undefined);
    setFound(undefined);
    try {
      const users = await findAccount(phone, villageArea(resident.villageCode));
      setFound(users);
      setChosen(users.length === 1 ? users[0]?.id : undefined);
    } catch (err) {
      const e = describeError(err);
      if (e.code === Code.InvalidArgument) {
        form.setFields([{ name: "phone", errors: [Object.values(e.fieldViolations).join("; ") || e.message] }]);
      } else {
        setProblem(errorMessage(t, err));
      }
    } finally {
      setBusy(false);
    }
  }

  async function link() {
    if (!chosen) return;
    setBusy(true);
    setProblem(undefined);
    try {
      const answer = await governance.updateResident({
        requestId: requestId.get(),
        resident: create(ResidentSchema, { id: resident.id, userId: chosen }),
        updateMask: { paths: ["user_id"] },
      });
      requestId.answered();
      close();
      if (answer.resident) onLinked(answer.resident);
    } catch (err) {
      requestId.answered(err);
      setProblem(describeError(err).reason === "ACCOUNT_ALREADY_LINKED" ? t("register.accountTaken") : errorMessage(t, err));
    } finally {
      setBusy(false);
    }
  }

  function close() {
    setFound(undefined);
    setChosen(undefined);
    setProblem(undefined);
    form.resetFields();
    onClose();
  }

  return (
    <Modal
      open={open}
      title={t("register.linkTitle", { name: resident.name })}
      okText={t("register.link")}
      okButtonProps={{ disabled: !chosen }}
      cancelText={t("create.cancel")}
      onOk={() => void link()}
      onCancel={close}
      confirmLoading={busy && found !== undefined}
      forceRender
    >
      <Typography.Paragraph>{t("register.linkHint")}</Typography.Paragraph>
      {problem && <Alert type="error" showIcon role="alert" message={problem} style={{ marginBottom: 16 }} />}
      <Form form={form} name="link-account" layout="vertical" onFinish={look}>
        <Form.Item
          name="phone"
          label={t("register.accountPhone")}
          rules={[{ required: true, whitespace: true, message: t("login.phoneRequired") }]}
        >
          <Input.Search
            type="tel"
            inputMode="tel"
            autoComplete="off"
            enterButton={t("register.findAccount")}
            loading={busy && found === undefined}
            onSearch={() => form.submit()}
          />
        </Form.Item>
      </Form>
      {found && found.length === 0 && <Alert type="warning" showIcon message={t("register.noAccount")} />}
      {found && found.length > 0 && (
        <Radio.Group
          aria-label={t("register.accountFound")}
          value={chosen}
          onChange={(e) => setChosen(e.target.value as string)}
        >
          <Space direction="vertical">
            {found.map((user) => (
              <Radio key={user.id} value={user.id}>
                {user.displayName} · {user.phoneNumber}
              </Radio>
            ))}
          </Space>
        </Radio.Group>
      )}
    </Modal>
  );
}
