import { create } from "@bufbuild/protobuf";
import { HouseholdStatus } from "@terrace/api/gen/terrace/governance/v1/registry_pb";
import { ResidentSchema, type Resident, type ResidentStatus } from "@terrace/api/gen/terrace/governance/v1/registry_pb";
import { Code, describeError, normalizePhone } from "@terrace/api";
import { Alert, Form, Input, Modal, Select } from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { useRequestId } from "../../components/intent";
import { errorMessage, formErrors } from "../../errors";
import { villageArea } from "./areas";
import { governance } from "./client";
import { changedPaths } from "./edits";
import { RESIDENT_STATUSES, residentStatusLabel } from "./labels";

interface Values {
  status: ResidentStatus;
  phone: string;
  remarks: string;
  household: string;
}

const PATHS = { status: "status", phone: "phone_number", remarks: "remarks", household: "household_id" } as const;

const FIELDS: [string | RegExp, keyof Values][] = [
  ["resident.status", "status"],
  ["resident.phone_number", "phone"],
  ["resident.remarks", "remarks"],
  ["resident.household_id", "household"],
];

/**
 * Edits a resident's status (in the village, away, moved out, deceased), phone, remarks, and
 * household within the village (UpdateResident with a mask of what changed); the server's
 * violations beside their fields.
 */
export function EditResidentDialog({
  resident,
  open,
  onClose,
  onSaved,
}: {
  resident: Resident;
  open: boolean;
  onClose: () => void;
  onSaved: (resident: Resident) => void;
}) {
  const { t } = useTranslation();
  const [form] = Form.useForm<Values>();
  const [busy, setBusy] = useState(false);
  const [problems, setProblems] = useState<string[]>([]);
  const requestId = useRequestId();
  const [search, setSearch] = useState("");
  const [households, setHouseholds] = useState<{ value: string; label: string }[]>([]);
  const initial: Values = {
    status: resident.status,
    phone: resident.phoneNumber,
    remarks: resident.remarks,
    household: resident.householdId,
  };

  useEffect(() => {
    if (open) {
      form.setFieldsValue(initial);
      setProblems([]);
    }
    // The record's values when the dialog opens.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [open, resident]);

  // The village's active households, found by the start of their number or address.
  useEffect(() => {
    if (!open) return;
    const abort = new AbortController();
    const timer = setTimeout(() => {
      governance
        .listHouseholds(
          { area: villageArea(resident.villageCode), query: search.trim(), status: HouseholdStatus.ACTIVE, page: { pageSize: 50, pageToken: "" } },
          { signal: abort.signal },
        )
        .then((answer) =>
          setHouseholds(
            answer.households.map((h) => ({ value: h.id, label: h.address ? `${h.householdNumber} · ${h.address}` : h.householdNumber })),
          ),
        )
        .catch(() => setHouseholds([]));
    }, 250);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [open, search, resident.villageCode]);

  async function submit(values: Values) {
    const after: Values = {
      status: values.status,
      phone: values.phone?.trim() ? normalizePhone(values.phone) : "",
      remarks: values.remarks?.trim() ?? "",
      household: values.household,
    };
    const paths = changedPaths(initial, after, PATHS);
    if (paths.length === 0) {
      onClose();
      return;
    }
    setBusy(true);
    setProblems([]);
    try {
      const answer = await governance.updateResident({
        requestId: requestId.get(),
        resident: create(ResidentSchema, {
          id: resident.id,
          status: after.status,
          phoneNumber: after.phone,
          remarks: after.remarks,
          householdId: after.household,
        }),
        updateMask: { paths },
      });
      requestId.answered();
      if (answer.resident) onSaved(answer.resident);
    } catch (err) {
      requestId.answered(err);
      const e = describeError(err);
      const { fields, rest } = formErrors(e.fieldViolations, FIELDS);
      if (fields.length > 0 || rest.length > 0) {
        form.setFields(fields);
        setProblems(rest);
      } else if (e.code === Code.NotFound && paths.includes("household_id")) {
        form.setFields([{ name: "household", errors: [errorMessage(t, err)] }]);
      } else {
        setProblems([errorMessage(t, err)]);
      }
    } finally {
      setBusy(false);
    }
  }

  const householdOptions = households.some((h) => h.value === resident.householdId)
    ? households
    : [{ value: resident.householdId, label: t("register.currentHousehold") }, ...households];

  return (
    <Modal
      open={open}
      title={t("register.editResidentTitle", { name: resident.name })}
      okText={t("register.save")}
      cancelText={t("create.cancel")}
      onOk={() => form.submit()}
      onCancel={onClose}
      confirmLoading={busy}
      forceRender
    >
      {problems.length > 0 && <Alert type="error" showIcon role="alert" message={problems.join("; ")} style={{ marginBottom: 16 }} />}
      <Form<Values> form={form} name="edit-resident" layout="vertical" onFinish={submit}>
        <Form.Item name="status" label={t("register.status")} extra={t("register.statusHelp")}>
          <Select options={RESIDENT_STATUSES.map((s) => ({ value: s, label: residentStatusLabel(t, s) }))} />
        </Form.Item>
        <Form.Item name="phone" label={t("register.phone")}>
          <Input autoComplete="off" inputMode="tel" maxLength={20} />
        </Form.Item>
        <Form.Item name="remarks" label={t("register.remarks")}>
          <Input.TextArea rows={2} maxLength={500} />
        </Form.Item>
        <Form.Item name="household" label={t("register.moveHousehold")} extra={t("register.moveHouseholdHelp")}>
          <Select showSearch filterOption={false} onSearch={setSearch} options={householdOptions} />
        </Form.Item>
      </Form>
    </Modal>
  );
}
