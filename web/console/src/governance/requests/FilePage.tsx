import { describeError, normalizePhone } from "@terrace/api";
import { checkFieldValue, fieldValueKey, type FieldProblem } from "@terrace/api/requestFields";
import { AdminLevel } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import type { CreateServiceRequestResponse } from "@terrace/api/gen/terrace/governance/v1/governance_service_pb";
import {
  RequestChannel,
  RequestFieldType,
  type RequestFieldDefinition,
  type RequestType,
} from "@terrace/api/gen/terrace/governance/v1/service_requests_pb";
import { Alert, Button, Card, Flex, Form, Input, Radio, Result, Select, Space, Typography } from "antd";
import type { TFunction } from "i18next";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { RequiredSelect } from "../../components/RequiredSelect";
import { useRequestId } from "../../components/intent";
import { errorMessage, formErrors } from "../../errors";
import { AreaInput } from "../AreaField";
import { isVillage } from "../register/areas";
import { governance } from "../register/client";
import { useRegisterAreas } from "../register/useRegisterAreas";
import { useTypes } from "./InboxPage";
import { StatusTag } from "./labels";
import { localized, rawValue } from "./requests";

interface Values {
  village: string;
  typeId?: string;
  description: string;
  address?: string;
  extra?: Record<string, unknown>;
  contactName: string;
  contactPhone: string;
  consent: string;
  channel: RequestChannel;
}

const FIELDS: [string | RegExp, keyof Values][] = [
  ["service_request.village_code", "village"],
  ["service_request.type_id", "typeId"],
  ["service_request.description", "description"],
  ["service_request.location", "address"],
  ["service_request.contact_name", "contactName"],
  ["service_request.contact_phone", "contactPhone"],
  ["service_request.on_behalf_consent", "consent"],
  ["service_request.channel", "channel"],
];

export function problemText(t: TFunction, p: FieldProblem): string {
  return t(`requests.problems.${p.problem}` as "requests.problems.required", { limit: "limit" in p ? p.limit : "" });
}

/** One extra field of a type, as its kind is typed in; checked as the server checks it. */
export function ExtraField({ definition }: { definition: RequestFieldDefinition }) {
  const { t, i18n } = useTranslation();
  const label = localized(definition.label, i18n.language) || definition.key;
  const help = localized(definition.help, i18n.language);
  const options = definition.options.map((o) => ({ value: o.value, label: localized(o.label, i18n.language) || o.value }));
  let input;
  switch (definition.type) {
    case RequestFieldType.NUMBER:
      input = <Input inputMode="decimal" autoComplete="off" />;
      break;
    case RequestFieldType.BOOLEAN:
      input = (
        <Select
          allowClear
          options={[
            { value: "true", label: t("requests.yes") },
            { value: "false", label: t("requests.no") },
          ]}
        />
      );
      break;
    case RequestFieldType.DATE:
      input = <Input type="date" />;
      break;
    case RequestFieldType.DATETIME:
      input = <Input type="datetime-local" />;
      break;
    case RequestFieldType.CHOICE:
      input = <Select allowClear options={options} />;
      break;
    case RequestFieldType.MULTI_CHOICE:
      input = <Select mode="multiple" options={options} />;
      break;
    case RequestFieldType.PHONE:
      input = <Input inputMode="tel" autoComplete="off" />;
      break;
    default:
      input = <Input maxLength={definition.maxLength || 2000} autoComplete="off" />;
  }
  return (
    <Form.Item
      name={["extra", definition.key]}
      label={label}
      extra={help || undefined}
      required={definition.required}
      rules={[
        {
          validator: async (_, value) => {
            const checked = checkFieldValue(definition, rawValue(definition.type, value));
            if ("problem" in checked) throw new Error(problemText(t, checked));
          },
        },
      ]}
    >
      {input}
    </Form.Item>
  );
}

/**
 * Files a request for a walk-in or a caller without an account (CreateServiceRequest with
 * contact name and phone, how they agreed to it, and the channel): a type offered in the village,
 * what and where, the type's extra fields (checked as the server checks them; the server still
 * decides). The answer's possible duplicates are shown with the new request.
 */
export default function FilePage() {
  const { t, i18n } = useTranslation();
  const areas = useRegisterAreas();
  const [form] = Form.useForm<Values>();
  const village = (Form.useWatch("village", form) ?? "").trim();
  const typeId = Form.useWatch("typeId", form);
  const types = useTypes(isVillage(village) ? village : undefined).filter((ty) => ty.active);
  const type: RequestType | undefined = types.find((ty) => ty.id === typeId);
  const [busy, setBusy] = useState(false);
  const [problems, setProblems] = useState<string[]>([]);
  const [filed, setFiled] = useState<CreateServiceRequestResponse>();
  const requestId = useRequestId();
  const ownVillage = areas?.find((a) => isVillage(a.code))?.code;

  async function submit(values: Values) {
    if (!type) return;
    setBusy(true);
    setProblems([]);
    const fieldValues: Record<string, string> = {};
    for (const definition of type.fields) {
      const checked = checkFieldValue(definition, rawValue(definition.type, values.extra?.[definition.key]));
      if (!("problem" in checked) && checked.value !== "") fieldValues[definition.key] = checked.value;
    }
    try {
      const answer = await governance.createServiceRequest({
        requestId: requestId.get(),
        serviceRequest: {
          typeId: type.id,
          villageCode: values.village.trim(),
          description: values.description.trim(),
          location: values.address?.trim() ? { address: values.address.trim() } : undefined,
          fieldValues,
          contactName: values.contactName.trim(),
          contactPhone: normalizePhone(values.contactPhone),
          onBehalfConsent: values.consent.trim(),
          channel: values.channel,
        },
      });
      requestId.answered();
      setFiled(answer);
    } catch (err) {
      requestId.answered(err);
      const violations = describeError(err).fieldViolations;
      const extra: { name: (string | number)[]; errors: string[] }[] = [];
      const others: Record<string, string> = {};
      for (const [path, text] of Object.entries(violations)) {
        const key = fieldValueKey(path);
        if (key && type.fields.some((f) => f.key === key)) extra.push({ name: ["extra", key], errors: [text] });
        else others[path] = text;
      }
      const { fields, rest } = formErrors(others, FIELDS);
      if (fields.length > 0 || rest.length > 0 || extra.length > 0) {
        form.setFields([...fields, ...extra] as Parameters<typeof form.setFields>[0]);
        setProblems(rest);
      } else {
        setProblems([errorMessage(t, err)]);
      }
    } finally {
      setBusy(false);
    }
  }

  if (filed?.serviceRequest) {
    const r = filed.serviceRequest;
    return (
      <Space direction="vertical" size="middle" style={{ width: "100%" }}>
        <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
          {t("requests.file")}
        </Typography.Title>
        <Result
          status="success"
          title={t("requests.filed", { reference: r.reference })}
          extra={[
            <Link key="open" to={`/governance/requests/${r.id}`}>
              {t("requests.openFiled")}
            </Link>,
            <Button
              key="again"
              onClick={() => {
                setFiled(undefined);
                form.resetFields();
              }}
            >
              {t("requests.fileAnother")}
            </Button>,
          ]}
        />
        <Card title={t("requests.duplicates")}>
          {filed.possibleDuplicates.length === 0 ? (
            <Typography.Text type="secondary">{t("requests.noDuplicates")}</Typography.Text>
          ) : (
            <Space direction="vertical">
              {filed.possibleDuplicates.map((d) =>
                d.request ? (
                  <Flex key={d.request.id} gap={12} wrap align="center">
                    <Link to={`/governance/requests/${d.request.id}`}>{d.request.reference}</Link>
                    <StatusTag status={d.request.status} />
                    <Typography.Text>{d.request.description}</Typography.Text>
                    {d.distanceMetres !== undefined && <span>{t("requests.metres", { count: Math.round(d.distanceMetres) })}</span>}
                    <span>{t("requests.daysApart", { count: d.daysApart })}</span>
                  </Flex>
                ) : null,
              )}
            </Space>
          )}
        </Card>
      </Space>
    );
  }

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%", maxWidth: 760 }}>
      <Link to="/governance/requests">{t("requests.back")}</Link>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("requests.file")}
      </Typography.Title>
      <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
        {t("requests.fileIntro")}
      </Typography.Paragraph>
      {problems.length > 0 && <Alert type="error" showIcon role="alert" message={problems.join("; ")} />}
      {areas && (
        <Form<Values>
          form={form}
          name="file-request"
          layout="vertical"
          onFinish={submit}
          initialValues={{ village: ownVillage ?? "", channel: RequestChannel.WALK_IN }}
        >
          <Form.Item name="village" label={t("requests.village")} rules={[{ required: true, message: t("register.villageRequired") }]}>
            <AreaInput within={areas} level={AdminLevel.VILLAGE} placeholder={t("register.villageSearchHelp")} />
          </Form.Item>
          <Form.Item name="typeId" label={t("requests.type")} rules={[{ required: true, message: t("requests.typeRequired") }]}>
            <RequiredSelect<string>
              options={types.map((ty) => ({ value: ty.id, label: localized(ty.name, i18n.language) }))}
              notFoundContent={t("requests.noTypesHere")}
            />
          </Form.Item>
          {type && localized(type.description, i18n.language) && (
            <Typography.Paragraph type="secondary">{localized(type.description, i18n.language)}</Typography.Paragraph>
          )}
          <Form.Item name="description" label={t("requests.description")} rules={[{ required: true, whitespace: true, message: t("requests.descriptionRequired") }]}>
            <Input.TextArea rows={4} maxLength={4000} showCount />
          </Form.Item>
          <Form.Item name="address" label={t("requests.address")}>
            <Input maxLength={200} autoComplete="off" />
          </Form.Item>
          {type?.fields.map((definition) => <ExtraField key={`${type.id}:${definition.key}`} definition={definition} />)}
          <Flex gap={16} wrap>
            <Form.Item name="contactName" label={t("requests.contactName")} style={{ flex: 1, minWidth: 200 }} rules={[{ required: true, whitespace: true, message: t("requests.contactName") }]}>
              <Input maxLength={60} autoComplete="off" />
            </Form.Item>
            <Form.Item name="contactPhone" label={t("requests.contactPhone")} style={{ flex: 1, minWidth: 200 }} rules={[{ required: true, whitespace: true, message: t("requests.contactPhone") }]}>
              <Input inputMode="tel" autoComplete="off" />
            </Form.Item>
          </Flex>
          <Form.Item name="consent" label={t("requests.consent")} extra={t("requests.consentHelp")} rules={[{ required: true, whitespace: true, message: t("requests.consent") }]}>
            <Input maxLength={200} autoComplete="off" />
          </Form.Item>
          <Form.Item name="channel" label={t("requests.channel")}>
            <Radio.Group
              options={[
                { value: RequestChannel.WALK_IN, label: t("requests.channels.WALK_IN") },
                { value: RequestChannel.PHONE, label: t("requests.channels.PHONE") },
              ]}
            />
          </Form.Item>
          <Button type="primary" htmlType="submit" loading={busy}>
            {t("requests.submit")}
          </Button>
        </Form>
      )}
    </Space>
  );
}
