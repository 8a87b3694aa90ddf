import { create } from "@bufbuild/protobuf";
import { DateSchema } from "@terrace/api/gen/terrace/common/v1/date_pb";
import {
  Gender,
  HouseholdRelationship,
  ResidentSchema,
  ResidentStatus,
  type Household,
  type Resident,
} from "@terrace/api/gen/terrace/governance/v1/registry_pb";
import { Code, describeError, normalizePhone } from "@terrace/api";
import { Alert, App, DatePicker, Form, Input, Modal, Select } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useRequestId } from "../../components/intent";
import { errorMessage, formErrors } from "../../errors";
import { calendarDay } from "../../identity/access";
import { nationalIdProblem, normalizeNationalId } from "../nationalId";
import { villageArea } from "./areas";
import { governance } from "./client";
import { RELATIONSHIPS, RESIDENT_STATUSES, genderLabel, relationshipLabel, residentStatusLabel } from "./labels";
import { findAccount } from "./LinkAccount";

interface Values {
  name: string;
  relationship?: HouseholdRelationship;
  gender?: Gender;
  birthDate?: { year(): number; month(): number; date(): number };
  nationalId?: string;
  phone?: string;
  account?: string;
  status: ResidentStatus;
  remarks?: string;
}

/** CreateResident's fields, as the server names them in violations, to this form's fields. */
const FIELDS: [string | RegExp, keyof Values][] = [
  ["resident.name", "name"],
  ["resident.relationship", "relationship"],
  ["resident.gender", "gender"],
  ["resident.birth_date", "birthDate"],
  ["resident.national_id", "nationalId"],
  ["resident.phone_number", "phone"],
  ["resident.user_id", "account"],
  ["resident.status", "status"],
  ["resident.remarks", "remarks"],
];

/**
 * Adds a resident to a household (CreateResident), every field of the contract. The ID number
 * gets a hint while typed (length, check digit) but is sent as typed: the server's check decides,
 * and its violation is shown beside the field. An account is named by its phone number and looked
 * up in the village (identity's ListUsers). Gender and birth date may be left for the server to
 * read from the ID number.
 */
export function AddResidentDialog({
  household,
  open,
  onClose,
  onAdded,
}: {
  household: Household;
  open: boolean;
  onClose: () => void;
  onAdded: (resident: Resident) => void;
}) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<Values>();
  const [busy, setBusy] = useState(false);
  const [problems, setProblems] = useState<string[]>([]);
  const requestId = useRequestId();

  async function submit(values: Values) {
    setBusy(true);
    setProblems([]);
    try {
      let userId = "";
      const accountPhone = values.account?.trim() ?? "";
      if (accountPhone !== "") {
        const found = await findAccount(accountPhone, villageArea(household.villageCode));
        const [only, ...more] = found;
        if (!only || more.length > 0) {
          form.setFields([{ name: "account", errors: [only ? t("register.manyAccounts") : t("register.noAccount")] }]);
          return;
        }
        userId = only.id;
      }
      const answer = await governance.createResident({
        requestId: requestId.get(),
        resident: create(ResidentSchema, {
          householdId: household.id,
          name: values.name.trim(),
          relationship: values.relationship ?? HouseholdRelationship.UNSPECIFIED,
          gender: values.gender ?? Gender.UNSPECIFIED,
          birthDate: values.birthDate
            ? create(DateSchema, (([year, month, day]) => ({ year, month, day }))(calendarDay(values.birthDate)))
            : undefined,
          nationalId: values.nationalId ? normalizeNationalId(values.nationalId) : "",
          phoneNumber: values.phone?.trim() ? normalizePhone(values.phone) : "",
          userId,
          status: values.status,
          remarks: values.remarks?.trim() ?? "",
        }),
      });
      requestId.answered();
      form.resetFields();
      void message.success(t("register.residentAdded", { name: answer.resident?.name ?? "" }));
      if (answer.resident) onAdded(answer.resident);
    } catch (err) {
      requestId.answered(err);
      const e = describeError(err);
      if (e.code === Code.InvalidArgument) {
        const { fields, rest } = formErrors(e.fieldViolations, FIELDS);
        // The server's word replaces the typing hint.
        form.setFields(fields.map((f) => ({ ...f, warnings: [] })));
        setProblems(rest);
      } else if (e.code === Code.AlreadyExists) {
        form.setFields([{ name: "nationalId", errors: [t("register.nationalIdTaken")], warnings: [] }]);
      } else if (e.reason === "ACCOUNT_ALREADY_LINKED") {
        form.setFields([{ name: "account", errors: [t("register.accountTaken")] }]);
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
      title={t("register.addResident")}
      okText={t("register.add")}
      cancelText={t("create.cancel")}
      onOk={() => form.submit()}
      onCancel={onClose}
      confirmLoading={busy}
      forceRender
      width={640}
    >
      {problems.length > 0 && (
        <Alert type="error" showIcon role="alert" message={problems.join("; ")} style={{ marginBottom: 16 }} />
      )}
      <Form<Values>
        form={form}
        name="add-resident"
        layout="vertical"
        onFinish={submit}
        initialValues={{ status: ResidentStatus.ACTIVE }}
      >
        <Form.Item
          name="name"
          label={t("register.name")}
          rules={[{ required: true, whitespace: true, message: t("register.nameRequired") }]}
        >
          <Input autoComplete="off" maxLength={50} />
        </Form.Item>
        <Form.Item name="relationship" label={t("register.relationshipToHead")}>
          <Select<HouseholdRelationship>
            allowClear
            options={RELATIONSHIPS.map((r) => ({ value: r, label: relationshipLabel(t, r) }))}
          />
        </Form.Item>
        <Form.Item
          name="nationalId"
          label={t("register.nationalId")}
          extra={t("register.nationalIdHelp")}
          rules={[
            {
              // A hint while typing; the server's check decides (and is shown as the error).
              warningOnly: true,
              validator: (_, value: string | undefined) => {
                const problem = value?.trim() ? nationalIdProblem(value) : undefined;
                if (!problem) return Promise.resolve();
                return Promise.reject(
                  new Error(
                    problem.kind === "checkDigit"
                      ? t("register.checkDigitHint", { expected: problem.expected })
                      : t("register.nationalIdShapeHint"),
                  ),
                );
              },
            },
          ]}
        >
          <Input autoComplete="off" maxLength={22} spellCheck={false} />
        </Form.Item>
        <Form.Item name="gender" label={t("register.gender.label")} extra={t("register.fromNationalId")}>
          <Select<Gender> allowClear options={[Gender.MALE, Gender.FEMALE].map((g) => ({ value: g, label: genderLabel(t, g) }))} />
        </Form.Item>
        <Form.Item name="birthDate" label={t("register.birthDate")} extra={t("register.fromNationalId")}>
          <DatePicker style={{ width: "100%" }} disabledDate={(d) => d.toDate().getTime() > Date.now()} placeholder="" />
        </Form.Item>
        <Form.Item name="phone" label={t("register.phone")}>
          <Input type="tel" inputMode="tel" autoComplete="off" />
        </Form.Item>
        <Form.Item name="account" label={t("register.accountPhone")} extra={t("register.accountPhoneHelp")}>
          <Input type="tel" inputMode="tel" autoComplete="off" />
        </Form.Item>
        <Form.Item name="status" label={t("register.status")}>
          <Select<ResidentStatus> options={RESIDENT_STATUSES.map((s) => ({ value: s, label: residentStatusLabel(t, s) }))} />
        </Form.Item>
        <Form.Item name="remarks" label={t("register.remarks")}>
          <Input.TextArea rows={2} maxLength={500} />
        </Form.Item>
      </Form>
    </Modal>
  );
}
