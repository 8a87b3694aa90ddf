import { Code, describeError } from "@terrace/api";
import { RequestFieldType, type RequestType } from "@terrace/api/gen/terrace/governance/v1/service_requests_pb";
import { Role } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import {
  Alert,
  App,
  Button,
  Card,
  Checkbox,
  Flex,
  Form,
  Input,
  InputNumber,
  Modal,
  Radio,
  Select,
  Space,
  Switch,
  Table,
  Tag,
  Typography,
  type TableColumnsType,
} from "antd";
import { useEffect, useState } from "react";
import type { TFunction } from "i18next";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { useRequestId } from "../../components/intent";
import { Pager, useServerPages } from "../../components/paging";
import { errorMessage } from "../../errors";
import { roleLabel } from "../../identity/labels";
import { AreaName } from "../AreaName";
import { AreaSelect, withParam } from "../AreaSelect";
import { chosenArea, withLevel } from "../register/areas";
import { governance } from "../register/client";
import { useRegisterAreas } from "../register/useRegisterAreas";
import {
  FIELD_TYPES,
  hasOptions,
  localized,
  typeFromValues,
  typeMask,
  typeValues,
  typeViolationField,
  type TypeValues,
} from "./requests";

export function fieldTypeLabel(t: TFunction, type: RequestFieldType): string {
  return t(`requests.fieldTypes.${RequestFieldType[type] ?? "UNSPECIFIED"}` as "requests.fieldTypes.TEXT");
}

export function slaText(t: TFunction, type: RequestType): string {
  if (type.slaWorkingDays > 0) return t("requests.slaDaysText", { count: type.slaWorkingDays });
  if (type.slaHours > 0) return t("requests.slaHoursText", { count: type.slaHours });
  return t("requests.slaNone");
}

/**
 * The request-type catalogue of one of the official's areas (ListRequestTypes `defined_in`,
 * inactive ones on request): code, name, group, responsible role, time limit, extra fields; a
 * type is created or edited in a dialog (CreateRequestType, UpdateRequestType with a mask of
 * what changed), the server's violations beside their fields.
 */
export default function TypesPage() {
  const { t, i18n } = useTranslation();
  const areas = useRegisterAreas();
  const [params, setParams] = useSearchParams();
  const area = areas ? chosenArea(params.get("area"), areas) : undefined;
  const inactive = params.get("inactive") === "1";
  const [editing, setEditing] = useState<RequestType | "new">();
  const { message } = App.useApp();

  const pages = useServerPages<RequestType>(
    async (page, signal) => {
      const answer = await governance.listRequestTypes(
        { page, definedIn: area && withLevel(area), includeInactive: inactive },
        { signal },
      );
      return { items: answer.requestTypes, nextToken: answer.page?.nextPageToken ?? "", total: answer.page?.totalSize };
    },
    [area?.code, inactive],
    area !== undefined,
  );

  function change(name: string, value: string) {
    setParams(withParam(params, name, value), { replace: true });
    pages.restart();
  }

  const columns: TableColumnsType<RequestType> = [
    { title: t("requests.code"), dataIndex: "code", key: "code" },
    {
      title: t("requests.name"),
      key: "name",
      render: (_, r) => (
        <Space size={4} wrap>
          {localized(r.name, i18n.language)}
          {!r.active && <Tag>{t("requests.inactive")}</Tag>}
        </Space>
      ),
    },
    { title: t("requests.group"), dataIndex: "group", key: "group" },
    { title: t("requests.area"), key: "area", render: (_, r) => <AreaName area={r.area?.code ?? ""} short /> },
    { title: t("requests.role"), key: "role", render: (_, r) => roleLabel(t, r.responsibleRole) },
    { title: t("requests.sla"), key: "sla", render: (_, r) => slaText(t, r) },
    {
      title: t("requests.fields"),
      key: "fields",
      render: (_, r) => r.fields.map((f) => localized(f.label, i18n.language) || f.key).join("、"),
    },
    {
      title: t("requests.actions"),
      key: "edit",
      render: (_, r) => (
        <Button onClick={() => setEditing(r)} aria-label={t("requests.editOf", { name: localized(r.name, i18n.language) })}>
          {t("requests.edit")}
        </Button>
      ),
    },
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("requests.types")}
      </Typography.Title>
      <Typography.Paragraph type="secondary" style={{ margin: 0, maxWidth: 880 }}>
        {t("requests.typesIntro")}
      </Typography.Paragraph>
      <Flex wrap gap={12} align="center" role="search">
        <AreaSelect areas={areas} area={area} label={t("requests.area")} onChange={(code) => change("area", code)} />
        <Checkbox checked={inactive} onChange={(e) => change("inactive", e.target.checked ? "1" : "")}>
          {t("requests.includeInactive")}
        </Checkbox>
        <Button type="primary" icon={<PlusOutlined />} disabled={!area} onClick={() => setEditing("new")}>
          {t("requests.newType")}
        </Button>
      </Flex>
      {areas && areas.length === 0 && <Alert type="info" showIcon message={t("people.areaRequired")} />}
      {pages.problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, pages.problem)} />}
      <Table<RequestType>
        rowKey="id"
        columns={columns}
        dataSource={pages.items}
        loading={pages.loading}
        pagination={false}
        locale={{ emptyText: t("requests.noTypes") }}
      />
      <Pager pages={pages} />
      {editing !== undefined && area && areas && (
        <TypeDialog
          type={editing === "new" ? undefined : editing}
          area={area.code}
          areas={areas.map((a) => a.code)}
          onClose={() => setEditing(undefined)}
          onSaved={() => {
            setEditing(undefined);
            void message.success(t("requests.saved"));
            pages.reload();
          }}
        />
      )}
    </Space>
  );
}

/** Creates a type in `area`, or edits `type`. */
function TypeDialog({
  type,
  area,
  areas,
  onClose,
  onSaved,
}: {
  type: RequestType | undefined;
  area: string;
  areas: string[];
  onClose: () => void;
  onSaved: () => void;
}) {
  const { t, i18n } = useTranslation();
  const [form] = Form.useForm<TypeValues>();
  const [busy, setBusy] = useState(false);
  const [problems, setProblems] = useState<string[]>([]);
  const requestId = useRequestId();
  const slaKind = Form.useWatch("slaKind", form);

  useEffect(() => {
    form.setFieldsValue(typeValues(type, area));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  async function submit(values: TypeValues) {
    setBusy(true);
    setProblems([]);
    try {
      const after = typeFromValues(values, type?.id ?? "");
      if (type) {
        const paths = typeMask(type, after);
        if (paths.length === 0) {
          onClose();
          return;
        }
        await governance.updateRequestType({ requestId: requestId.get(), requestType: after, updateMask: { paths } });
      } else {
        await governance.createRequestType({ requestId: requestId.get(), requestType: after });
      }
      requestId.answered();
      onSaved();
    } catch (err) {
      requestId.answered(err);
      const e = describeError(err);
      const fields: { name: (string | number)[]; errors: string[] }[] = [];
      const rest: string[] = [];
      for (const [path, text] of Object.entries(e.fieldViolations)) {
        const name = typeViolationField(path);
        if (name) fields.push({ name, errors: [text] });
        else rest.push(`${path}: ${text}`);
      }
      if (fields.length > 0 || rest.length > 0) {
        form.setFields(fields as Parameters<typeof form.setFields>[0]);
        setProblems(rest);
      } else if (e.code === Code.AlreadyExists) {
        form.setFields([{ name: ["code"], errors: [t("requests.codeTaken")] }]);
      } else {
        setProblems([errorMessage(t, err)]);
      }
    } finally {
      setBusy(false);
    }
  }

  const required = [{ required: true, whitespace: true, message: t("requests.noteRequired") }];
  return (
    <Modal
      open
      width={920}
      title={type ? t("requests.editType", { name: localized(type.name, i18n.language) }) : t("requests.newType")}
      okText={t("register.save")}
      cancelText={t("create.cancel")}
      onOk={() => form.submit()}
      onCancel={onClose}
      confirmLoading={busy}
    >
      {problems.length > 0 && <Alert type="error" showIcon role="alert" message={problems.join("; ")} style={{ marginBottom: 16 }} />}
      <Form<TypeValues> form={form} name="request-type" layout="vertical" onFinish={submit}>
        {type ? (
          // Area and code do not change: shown as text (a disabled control's grey fails contrast).
          <Flex gap={16} wrap>
            <Form.Item label={t("requests.area")} style={{ minWidth: 280, flex: 1 }}>
              <AreaName area={type.area?.code ?? area} />
            </Form.Item>
            <Form.Item label={t("requests.code")} style={{ minWidth: 280, flex: 1 }}>
              <Typography.Text code>{type.code}</Typography.Text>
            </Form.Item>
            <Form.Item name="area" hidden>
              <Input />
            </Form.Item>
            <Form.Item name="code" hidden>
              <Input />
            </Form.Item>
          </Flex>
        ) : (
          <Flex gap={16} wrap>
            <Form.Item name="area" label={t("requests.area")} style={{ minWidth: 280, flex: 1 }}>
              <Select options={areas.map((code) => ({ value: code, label: <AreaName area={code} /> }))} />
            </Form.Item>
            <Form.Item
              name="code"
              label={t("requests.code")}
              extra={t("requests.codeHelp")}
              style={{ minWidth: 280, flex: 1 }}
              rules={[{ required: true, message: t("requests.codeHelp") }]}
            >
              <Input autoComplete="off" maxLength={40} />
            </Form.Item>
          </Flex>
        )}
        <Flex gap={16} wrap>
          <Form.Item name="nameZh" label={t("requests.nameZh")} style={{ minWidth: 280, flex: 1 }} rules={required}>
            <Input autoComplete="off" maxLength={60} />
          </Form.Item>
          <Form.Item name="nameEn" label={t("requests.nameEn")} style={{ minWidth: 280, flex: 1 }}>
            <Input autoComplete="off" maxLength={60} />
          </Form.Item>
        </Flex>
        <Flex gap={16} wrap>
          <Form.Item name="descriptionZh" label={t("requests.descriptionZh")} style={{ minWidth: 280, flex: 1 }}>
            <Input.TextArea rows={2} maxLength={1000} />
          </Form.Item>
          <Form.Item name="descriptionEn" label={t("requests.descriptionEn")} style={{ minWidth: 280, flex: 1 }}>
            <Input.TextArea rows={2} maxLength={1000} />
          </Form.Item>
        </Flex>
        <Flex gap={16} wrap align="flex-start">
          <Form.Item name="group" label={t("requests.group")} extra={t("requests.groupHelp")} style={{ minWidth: 220, flex: 1 }}>
            <Input autoComplete="off" maxLength={40} />
          </Form.Item>
          <Form.Item name="role" label={t("requests.role")} style={{ minWidth: 200 }}>
            <Select options={[Role.VILLAGE_OFFICIAL, Role.TOWNSHIP_OFFICIAL].map((r) => ({ value: r, label: roleLabel(t, r) }))} />
          </Form.Item>
          <Form.Item name="active" label={t("requests.active")} valuePropName="checked">
            <Switch />
          </Form.Item>
          <Form.Item
            name="publicListing"
            label={t("requests.publicListing")}
            extra={t("requests.publicListingHelp")}
            valuePropName="checked"
            style={{ maxWidth: 320 }}
          >
            <Switch />
          </Form.Item>
        </Flex>
        <Flex gap={16} wrap align="flex-start">
          <Form.Item name="slaKind" label={t("requests.sla")}>
            <Radio.Group
              optionType="button"
              options={[
                { value: "none", label: t("requests.slaNone") },
                { value: "hours", label: t("requests.slaHours") },
                { value: "days", label: t("requests.slaDays") },
              ]}
            />
          </Form.Item>
          {slaKind !== "none" && (
            <Form.Item name="slaValue" label={t("requests.slaValue")} rules={[{ required: true, message: t("requests.slaValue") }]}>
              <InputNumber min={1} max={slaKind === "days" ? 60 : 8760} precision={0} />
            </Form.Item>
          )}
        </Flex>
        <Typography.Title level={2} style={{ fontSize: 16 }}>
          {t("requests.fields")}
        </Typography.Title>
        <Typography.Paragraph type="secondary">{t("requests.fieldsHelp")}</Typography.Paragraph>
        <Form.List name="fields">
          {(items, { add, remove }) => (
            <Space direction="vertical" style={{ width: "100%" }}>
              {items.map((item, index) => (
                <FieldCard key={item.key} index={index} name={item.name} onRemove={() => remove(item.name)} />
              ))}
              <Button icon={<PlusOutlined />} onClick={() => add({ key: "", labelZh: "", type: RequestFieldType.TEXT, required: false, options: [] })}>
                {t("requests.addField")}
              </Button>
            </Space>
          )}
        </Form.List>
      </Form>
    </Modal>
  );
}

/** One extra field's definition: what every type has, then what its type uses. */
function FieldCard({ index, name, onRemove }: { index: number; name: number; onRemove: () => void }) {
  const { t } = useTranslation();
  const form = Form.useFormInstance<TypeValues>();
  const type = Form.useWatch(["fields", name, "type"], form) as RequestFieldType | undefined;
  const n = index + 1;
  return (
    <Card
      size="small"
      title={t("requests.fieldN", { n })}
      extra={<Button type="text" danger icon={<DeleteOutlined />} onClick={onRemove} aria-label={t("requests.removeField", { n })} />}
    >
      <Flex gap={12} wrap align="flex-start">
        <Form.Item name={[name, "key"]} label={t("requests.key")} extra={t("requests.keyHelp")} style={{ minWidth: 180, flex: 1 }}>
          <Input autoComplete="off" maxLength={40} />
        </Form.Item>
        <Form.Item name={[name, "labelZh"]} label={t("requests.labelZh")} style={{ minWidth: 160, flex: 1 }}>
          <Input autoComplete="off" maxLength={60} />
        </Form.Item>
        <Form.Item name={[name, "labelEn"]} label={t("requests.labelEn")} style={{ minWidth: 160, flex: 1 }}>
          <Input autoComplete="off" maxLength={60} />
        </Form.Item>
        <Form.Item name={[name, "type"]} label={t("requests.fieldType")} style={{ minWidth: 140 }}>
          <Select options={FIELD_TYPES.map((ft) => ({ value: ft, label: fieldTypeLabel(t, ft) }))} />
        </Form.Item>
        <Form.Item name={[name, "required"]} label={t("requests.required")} valuePropName="checked">
          <Switch />
        </Form.Item>
      </Flex>
      {type === RequestFieldType.TEXT && (
        <Flex gap={12} wrap>
          <Form.Item name={[name, "maxLength"]} label={t("requests.maxLength")}>
            <InputNumber min={1} max={4000} precision={0} />
          </Form.Item>
          <Form.Item name={[name, "pattern"]} label={t("requests.pattern")} style={{ minWidth: 240, flex: 1 }}>
            <Input autoComplete="off" spellCheck={false} />
          </Form.Item>
        </Flex>
      )}
      {type === RequestFieldType.NUMBER && (
        <Flex gap={12} wrap>
          <Form.Item name={[name, "minValue"]} label={t("requests.minValue")}>
            <Input autoComplete="off" inputMode="decimal" />
          </Form.Item>
          <Form.Item name={[name, "maxValue"]} label={t("requests.maxValue")}>
            <Input autoComplete="off" inputMode="decimal" />
          </Form.Item>
        </Flex>
      )}
      {type === RequestFieldType.MULTI_CHOICE && (
        <Form.Item name={[name, "maxChoices"]} label={t("requests.maxChoices")}>
          <InputNumber min={1} max={50} precision={0} />
        </Form.Item>
      )}
      {hasOptions(type) && (
        <div role="group" aria-label={t("requests.options")} style={{ marginBottom: 16 }}>
          <Typography.Text>{t("requests.options")}</Typography.Text>
          <OptionsList fieldName={name} />
        </div>
      )}
      <Flex gap={12} wrap>
        <Form.Item name={[name, "helpZh"]} label={t("requests.helpZh")} style={{ minWidth: 200, flex: 1 }}>
          <Input autoComplete="off" maxLength={200} />
        </Form.Item>
        <Form.Item name={[name, "helpEn"]} label={t("requests.helpEn")} style={{ minWidth: 200, flex: 1 }}>
          <Input autoComplete="off" maxLength={200} />
        </Form.Item>
      </Flex>
    </Card>
  );
}

/** The options of a choice field: value and labels, each row labelled for screen readers. */
function OptionsList({ fieldName }: { fieldName: number }) {
  const { t } = useTranslation();
  return (
    <Form.List name={[fieldName, "options"]}>
      {(items, { add, remove }, { errors }) => (
        <Space direction="vertical" style={{ width: "100%" }}>
          {items.map((item, index) => (
            <Flex key={item.key} gap={8} align="flex-start" wrap>
              <Form.Item name={[item.name, "value"]} style={{ marginBottom: 0 }}>
                <Input aria-label={`${t("requests.optionValue")} ${index + 1}`} placeholder={t("requests.optionValue")} autoComplete="off" />
              </Form.Item>
              <Form.Item name={[item.name, "labelZh"]} style={{ marginBottom: 0 }}>
                <Input aria-label={`${t("requests.labelZh")} ${index + 1}`} placeholder={t("requests.labelZh")} autoComplete="off" />
              </Form.Item>
              <Form.Item name={[item.name, "labelEn"]} style={{ marginBottom: 0 }}>
                <Input aria-label={`${t("requests.labelEn")} ${index + 1}`} placeholder={t("requests.labelEn")} autoComplete="off" />
              </Form.Item>
              <Button
                type="text"
                danger
                icon={<DeleteOutlined />}
                onClick={() => remove(item.name)}
                aria-label={t("requests.removeOption", { n: index + 1 })}
              />
            </Flex>
          ))}
          <Button size="small" icon={<PlusOutlined />} onClick={() => add({ value: "", labelZh: "" })}>
            {t("requests.addOption")}
          </Button>
          <Form.ErrorList errors={errors} />
        </Space>
      )}
    </Form.List>
  );
}
