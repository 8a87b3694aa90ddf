import { describeError } from "@terrace/api";
import { Alert, Form, Input, Modal } from "antd";
import { useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { errorMessage } from "../errors";
import { useRequestId } from "./intent";

interface Props {
  open: boolean;
  /** The form's name (ids of its fields). */
  name: string;
  title: string;
  /** What is about to happen, in words, above the reason. */
  children?: ReactNode;
  okText: string;
  /** Whether the contract requires a reason. */
  required: boolean;
  /** The fewest characters the contract accepts in the reason, checked before sending. */
  minLength?: number;
  /** The request field the reason is sent in, as the server names it in a violation. */
  reasonField?: string;
  /** Whether the action destroys or takes something away (a red button); default true. */
  danger?: boolean;
  /** A sentence of its own for a refusal this action words better than the server's message. */
  explain?: (err: unknown) => string | undefined;
  /** Does it, with this request id and reason; throws what the server answered. */
  action: (requestId: string, reason: string) => Promise<void>;
  onClose: () => void;
  onDone: () => void;
}

/**
 * Confirms a destructive action with a reason (kept in the audit log). A violation on `reason`
 * is shown beside the field; anything else above the form.
 */
export function ReasonDialog({
  open,
  name,
  title,
  children,
  okText,
  required,
  minLength,
  reasonField = "reason",
  danger = true,
  explain,
  action,
  onClose,
  onDone,
}: Props) {
  const { t } = useTranslation();
  const [form] = Form.useForm<{ reason?: string }>();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>();
  const requestId = useRequestId();

  async function submit({ reason }: { reason?: string }) {
    setBusy(true);
    setProblem(undefined);
    try {
      await action(requestId.get(), reason?.trim() ?? "");
      requestId.answered();
      form.resetFields();
      onDone();
    } catch (err) {
      requestId.answered(err);
      const reasonError = describeError(err).fieldViolations[reasonField];
      if (reasonError) {
        form.setFields([{ name: "reason", errors: [reasonError] }]);
      } else {
        setProblem(err);
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal
      open={open}
      title={title}
      onOk={() => form.submit()}
      onCancel={() => {
        setProblem(undefined);
        onClose();
      }}
      okText={okText}
      okButtonProps={{ danger }}
      cancelText={t("create.cancel")}
      confirmLoading={busy}
      forceRender
    >
      {children}
      {problem !== undefined && (
        <Alert type="error" showIcon role="alert" message={explain?.(problem) ?? errorMessage(t, problem)} style={{ marginBottom: 16 }} />
      )}
      <Form form={form} layout="vertical" onFinish={submit} name={name}>
        <Form.Item
          name="reason"
          label={required ? t("common.reason") : t("common.reasonOptional")}
          rules={[
            ...(required ? [{ required: true, whitespace: true, message: t("common.reasonRequired") }] : []),
            ...(minLength ? [{ min: minLength, message: t("common.reasonMin", { count: minLength }) }] : []),
          ]}
        >
          <Input.TextArea rows={3} maxLength={500} />
        </Form.Item>
      </Form>
    </Modal>
  );
}
