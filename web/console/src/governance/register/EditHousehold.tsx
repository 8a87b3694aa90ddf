import { create } from "@bufbuild/protobuf";
import { HouseholdSchema, HouseholdStatus, type Household } from "@terrace/api/gen/terrace/governance/v1/registry_pb";
import { Code, describeError } from "@terrace/api";
import { Alert, Form, Input, Modal, Select } from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { useRequestId } from "../../components/intent";
import { errorMessage, formErrors } from "../../errors";
import { governance } from "./client";
import { changedPaths } from "./edits";
import { householdStatusLabel } from "./labels";

interface Values {
  number: string;
  address: string;
  status: HouseholdStatus;
}

const PATHS = { number: "household_number", address: "address", status: "status" } as const;

const FIELDS: [string | RegExp, keyof Values][] = [
  ["household.household_number", "number"],
  ["household.address", "address"],
  ["household.status", "status"],
];

/** Edits a household's number, address and status (UpdateHousehold with a mask of what changed). */
export function EditHouseholdDialog({
  household,
  open,
  onClose,
  onSaved,
}: {
  household: Household;
  open: boolean;
  onClose: () => void;
  onSaved: (household: Household) => void;
}) {
  const { t } = useTranslation();
  const [form] = Form.useForm<Values>();
  const [busy, setBusy] = useState(false);
  const [problems, setProblems] = useState<string[]>([]);
  const requestId = useRequestId();
  const initial: Values = { number: household.householdNumber, address: household.address, status: household.status };

  useEffect(() => {
    if (open) {
      form.setFieldsValue(initial);
      setProblems([]);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [open, household]);

  async function submit(values: Values) {
    const after: Values = { number: values.number.trim(), address: values.address?.trim() ?? "", status: values.status };
    const paths = changedPaths(initial, after, PATHS);
    if (paths.length === 0) {
      onClose();
      return;
    }
    setBusy(true);
    setProblems([]);
    try {
      const answer = await governance.updateHousehold({
        requestId: requestId.get(),
        household: create(HouseholdSchema, {
          id: household.id,
          householdNumber: after.number,
          address: after.address,
          status: after.status,
        }),
        updateMask: { paths },
      });
      requestId.answered();
      if (answer.household) onSaved(answer.household);
    } catch (err) {
      requestId.answered(err);
      const e = describeError(err);
      const { fields, rest } = formErrors(e.fieldViolations, FIELDS);
      if (fields.length > 0 || rest.length > 0) {
        form.setFields(fields);
        setProblems(rest);
      } else if (e.code === Code.AlreadyExists) {
        form.setFields([{ name: "number", errors: [t("register.numberTaken")] }]);
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
      title={t("register.editHouseholdTitle", { number: household.householdNumber })}
      okText={t("register.save")}
      cancelText={t("create.cancel")}
      onOk={() => form.submit()}
      onCancel={onClose}
      confirmLoading={busy}
      forceRender
    >
      {problems.length > 0 && <Alert type="error" showIcon role="alert" message={problems.join("; ")} style={{ marginBottom: 16 }} />}
      <Form<Values> form={form} name="edit-household" layout="vertical" onFinish={submit}>
        <Form.Item
          name="number"
          label={t("register.householdNumber")}
          extra={t("register.householdNumberHelp")}
          rules={[{ required: true, whitespace: true, message: t("register.householdNumberRequired") }]}
        >
          <Input autoComplete="off" maxLength={32} />
        </Form.Item>
        <Form.Item name="address" label={t("register.address")} extra={t("register.addressHelp")}>
          <Input autoComplete="off" maxLength={200} />
        </Form.Item>
        <Form.Item name="status" label={t("register.status")} extra={t("register.householdStatusHelp")}>
          <Select
            options={[HouseholdStatus.ACTIVE, HouseholdStatus.ARCHIVED].map((s) => ({ value: s, label: householdStatusLabel(t, s) }))}
          />
        </Form.Item>
      </Form>
    </Modal>
  );
}
