import { clone, create } from "@bufbuild/protobuf";
import { describeError } from "@terrace/api";
import {
  Channel,
  NotificationCategory,
  TemplateSchema,
  TemplateVariableSchema,
  VariableType,
  type Template,
  type TemplateValue,
} from "@terrace/api/gen/terrace/notify/v1/notify_pb";
import type { PreviewTemplateResponse } from "@terrace/api/gen/terrace/notify/v1/notify_service_pb";
import { DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import {
  Alert,
  App,
  Button,
  Card,
  Checkbox,
  Col,
  Descriptions,
  Flex,
  Input,
  Row,
  Select,
  Space,
  Spin,
  Table,
  Tag,
  Typography,
  type TableColumnsType,
} from "antd";
import { useCallback, useEffect, useState } from "react";
import type { TFunction } from "i18next";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";
import { useRequestId } from "../components/intent";
import { errorMessage } from "../errors";
import { useFormat } from "../format";
import { notify } from "./client";
import { categoryLabel, channelLabel } from "./labels";
import { blankTemplate, CHANNELS, newText, templateMask, titled, typedValue, VARIABLE_TYPES } from "./templates";
import { useTemplateEditor } from "./useTemplateEditor";

/** Categories a template may have, in the order the editor offers them. */
const CATEGORIES = Object.values(NotificationCategory).filter(
  (c): c is NotificationCategory => typeof c === "number" && c !== NotificationCategory.UNSPECIFIED,
);

/** A variable type in words. */
function typeLabel(t: TFunction, type: VariableType): string {
  const name = VariableType[type] ?? "UNSPECIFIED";
  return t(`templates.type.${name}`, { defaultValue: name });
}

/**
 * One template: its texts per language and channel and its variables, editable by platform
 * admins (a save is a new version, active at once; the server judges it whole and its
 * violations are listed by field); a preview beside it renders the draft as it stands with
 * values typed in, in the language and on the channel chosen, and counts an SMS's segments;
 * the versions below, any of which can be made active again.
 */
export default function TemplatePage() {
  const { t } = useTranslation();
  const { key: routeKey = "new" } = useParams();
  const isNew = routeKey === "new";
  const editor = useTemplateEditor();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const [saved, setSaved] = useState<Template>();
  const [draft, setDraft] = useState<Template>(blankTemplate);
  const [versions, setVersions] = useState<Template[]>([]);
  const [problem, setProblem] = useState<unknown>();
  const [violations, setViolations] = useState<[string, string][]>([]);
  const [busy, setBusy] = useState(false);
  const requestId = useRequestId();

  const load = useCallback(async () => {
    if (isNew) return;
    try {
      const [got, listed] = await Promise.all([
        notify.getTemplate({ templateKey: routeKey }),
        notify.listTemplateVersions({ templateKey: routeKey, page: { pageSize: 50 } }),
      ]);
      if (got.template) {
        setSaved(got.template);
        setDraft(clone(TemplateSchema, got.template));
      }
      setVersions(listed.versions);
    } catch (err) {
      setProblem(err);
    }
  }, [isNew, routeKey]);

  useEffect(() => {
    void load();
  }, [load]);

  function change(edit: (t: Template) => void) {
    setDraft((before) => {
      const next = clone(TemplateSchema, before);
      edit(next);
      return next;
    });
  }

  async function save() {
    setBusy(true);
    setViolations([]);
    setProblem(undefined);
    try {
      if (isNew) {
        await notify.createTemplate({ requestId: requestId.get(), template: draft });
      } else if (saved) {
        const paths = templateMask(saved, draft);
        if (paths.length === 0) return;
        const latest = versions[0]?.version ?? saved.version;
        await notify.updateTemplate({ requestId: requestId.get(), template: draft, updateMask: { paths }, expectedVersion: latest });
      }
      requestId.answered();
      void message.success(t("templates.saved"));
      if (isNew) {
        void navigate(`/notify/templates/${encodeURIComponent(draft.key)}`, { replace: true });
      } else {
        await load();
      }
    } catch (err) {
      requestId.answered(err);
      const found = Object.entries(describeError(err).fieldViolations);
      if (found.length > 0) setViolations(found);
      else setProblem(err);
    } finally {
      setBusy(false);
    }
  }

  async function activate(version: number) {
    try {
      await notify.activateTemplateVersion({ requestId: crypto.randomUUID(), templateKey: routeKey, version });
      void message.success(t("templates.activated", { n: version }));
      await load();
    } catch (err) {
      setProblem(err);
    }
  }

  if (!isNew && !saved && problem === undefined) return <Spin />;
  const readOnly = !editor;

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Link to="/notify/templates">{t("templates.back")}</Link>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {isNew ? t("templates.new") : t("templates.titleOf", { key: routeKey })}
      </Typography.Title>
      {problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, problem)} />}
      {violations.length > 0 && (
        <Alert
          type="error"
          showIcon
          role="alert"
          message={t("templates.refused")}
          description={
            <ul style={{ margin: 0, paddingInlineStart: 20 }}>
              {violations.map(([field, text]) => (
                <li key={field + text}>
                  <Typography.Text code>{field}</Typography.Text> {text}
                </li>
              ))}
            </ul>
          }
        />
      )}
      <Row gutter={[24, 24]}>
        <Col xs={24} xl={14}>
          <Editor draft={draft} isNew={isNew} readOnly={readOnly} change={change} />
          {!readOnly && (
            <Button type="primary" loading={busy} onClick={() => void save()} style={{ marginTop: 16 }}>
              {isNew ? t("templates.create") : t("templates.saveVersion")}
            </Button>
          )}
        </Col>
        <Col xs={24} xl={10}>
          <Preview draft={draft} />
        </Col>
      </Row>
      {!isNew && <Versions versions={versions} editor={editor} activate={(v) => void activate(v)} />}
    </Space>
  );
}

/** The template's fields, its variables and its texts. */
function Editor({
  draft,
  isNew,
  readOnly,
  change,
}: {
  draft: Template;
  isNew: boolean;
  readOnly: boolean;
  change: (edit: (t: Template) => void) => void;
}) {
  const { t } = useTranslation();
  const [adding, setAdding] = useState<{ locale: string; channel: Channel }>({ locale: "en", channel: Channel.IN_APP });
  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Descriptions column={1} bordered size="small">
        <Descriptions.Item label={t("templates.key")}>
          {isNew ? (
            <Input
              aria-label={t("templates.key")}
              placeholder="notices.water_cut"
              value={draft.key}
              onChange={(e) => change((d) => void (d.key = e.target.value.trim()))}
            />
          ) : (
            <Space>
              <Typography.Text code>{draft.key}</Typography.Text>
              {draft.builtIn && <Tag>{t("templates.builtIn")}</Tag>}
            </Space>
          )}
        </Descriptions.Item>
        <Descriptions.Item label={t("templates.description")}>
          <Input
            aria-label={t("templates.description")}
            value={draft.description}
            readOnly={readOnly}
            onChange={(e) => change((d) => void (d.description = e.target.value))}
          />
        </Descriptions.Item>
        <Descriptions.Item label={t("notify.categoryTitle")}>
          {draft.builtIn || readOnly ? (
            categoryLabel(t, draft.category)
          ) : (
            <Select
              aria-label={t("notify.categoryTitle")}
              style={{ minWidth: 200 }}
              value={draft.category}
              onChange={(value: NotificationCategory) => change((d) => void (d.category = value))}
              options={CATEGORIES.map((c) => ({ value: c, label: categoryLabel(t, c) }))}
            />
          )}
        </Descriptions.Item>
      </Descriptions>

      <Card size="small" title={t("templates.variables")}>
        <Space direction="vertical" style={{ width: "100%" }}>
          {draft.variables.map((variable, index) => (
            <Flex key={index} gap={8} wrap align="center">
              <Input
                aria-label={t("templates.variableName", { n: index + 1 })}
                style={{ width: 160 }}
                value={variable.name}
                readOnly={readOnly}
                onChange={(e) => change((d) => {
                    const v = d.variables[index];
                    if (v) v.name = e.target.value.trim();
                  })
                }
              />
              <Select
                aria-label={t("templates.variableType", { n: index + 1 })}
                style={{ width: 150 }}
                value={variable.type}
                disabled={readOnly}
                onChange={(value: VariableType) => change((d) => {
                    const v = d.variables[index];
                    if (v) v.type = value;
                  })}
                options={VARIABLE_TYPES.map((type) => ({ value: type, label: typeLabel(t, type) }))}
              />
              <Checkbox
                checked={variable.required}
                disabled={readOnly}
                onChange={(e) => change((d) => {
                    const v = d.variables[index];
                    if (v) v.required = e.target.checked;
                  })}
              >
                {t("templates.required")}
              </Checkbox>
              <Typography.Text type="secondary" style={{ flex: 1, minWidth: 160 }}>
                {variable.description}
              </Typography.Text>
              {!readOnly && (
                <Button
                  icon={<DeleteOutlined />}
                  aria-label={t("templates.removeVariable", { name: variable.name })}
                  onClick={() => change((d) => void d.variables.splice(index, 1))}
                />
              )}
            </Flex>
          ))}
          {!readOnly && (
            <Button
              icon={<PlusOutlined />}
              onClick={() =>
                change((d) => void d.variables.push(create(TemplateVariableSchema, { type: VariableType.STRING, required: true })))
              }
            >
              {t("templates.addVariable")}
            </Button>
          )}
        </Space>
      </Card>

      {draft.contents.map((content, index) => (
        <Card
          key={index}
          size="small"
          title={`${channelLabel(t, content.channel)} · ${content.locale}`}
          extra={
            !readOnly && (
              <Button
                icon={<DeleteOutlined />}
                aria-label={t("templates.removeText", { text: `${channelLabel(t, content.channel)} ${content.locale}` })}
                onClick={() => change((d) => void d.contents.splice(index, 1))}
              />
            )
          }
        >
          <Space direction="vertical" style={{ width: "100%" }}>
            {titled(content.channel) && (
              <Input
                aria-label={t("templates.subjectOf", { text: `${channelLabel(t, content.channel)} ${content.locale}` })}
                addonBefore={t("templates.subject")}
                value={content.subject}
                readOnly={readOnly}
                onChange={(e) => change((d) => {
                    const c = d.contents[index];
                    if (c) c.subject = e.target.value;
                  })}
              />
            )}
            <Input.TextArea
              aria-label={t("templates.bodyOf", { text: `${channelLabel(t, content.channel)} ${content.locale}` })}
              autoSize={{ minRows: 2, maxRows: 8 }}
              value={content.body}
              readOnly={readOnly}
              onChange={(e) => change((d) => {
                    const c = d.contents[index];
                    if (c) c.body = e.target.value;
                  })}
            />
            {content.channel === Channel.SMS && (
              <Flex gap={8} wrap>
                <Input
                  aria-label={t("templates.providerTemplateId")}
                  addonBefore={t("templates.providerTemplateId")}
                  style={{ maxWidth: 360 }}
                  value={content.providerTemplateId}
                  readOnly={readOnly}
                  onChange={(e) => change((d) => {
                    const c = d.contents[index];
                    if (c) c.providerTemplateId = e.target.value.trim();
                  })
                }
                />
                <Input
                  aria-label={t("templates.signature")}
                  addonBefore={t("templates.signature")}
                  placeholder={t("templates.signatureDefault")}
                  style={{ maxWidth: 280 }}
                  value={content.signature}
                  readOnly={readOnly}
                  onChange={(e) => change((d) => {
                    const c = d.contents[index];
                    if (c) c.signature = e.target.value.trim();
                  })
                }
                />
              </Flex>
            )}
          </Space>
        </Card>
      ))}
      {!readOnly && (
        <Flex gap={8} wrap align="center">
          <Select
            aria-label={t("templates.newTextLocale")}
            style={{ width: 120 }}
            value={adding.locale}
            onChange={(locale: string) => setAdding({ ...adding, locale })}
            options={["zh-CN", "en"].map((l) => ({ value: l, label: l }))}
          />
          <Select
            aria-label={t("templates.newTextChannel")}
            style={{ width: 140 }}
            value={adding.channel}
            onChange={(channel: Channel) => setAdding({ ...adding, channel })}
            options={CHANNELS.map((c) => ({ value: c, label: channelLabel(t, c) }))}
          />
          <Button icon={<PlusOutlined />} onClick={() => change((d) => void d.contents.push(newText(adding.locale, adding.channel)))}>
            {t("templates.addText")}
          </Button>
        </Flex>
      )}
    </Space>
  );
}

/** Renders the draft as it stands with the values typed in. */
function Preview({ draft }: { draft: Template }) {
  const { t } = useTranslation();
  const channels = [...new Set(draft.contents.map((c) => c.channel))];
  const [locale, setLocale] = useState("zh-CN");
  const [channel, setChannel] = useState<Channel>(channels[0] ?? Channel.IN_APP);
  const [typed, setTyped] = useState<Record<string, string>>({});
  const [answer, setAnswer] = useState<PreviewTemplateResponse>();
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function preview() {
    setBusy(true);
    setProblem(undefined);
    try {
      const values: Record<string, TemplateValue> = {};
      for (const variable of draft.variables) {
        const value = typedValue(variable.type, typed[variable.name] ?? "");
        if (value) values[variable.name] = value;
      }
      setAnswer(await notify.previewTemplate({ draft, locale, channel, values }));
    } catch (err) {
      setAnswer(undefined);
      const found = Object.entries(describeError(err).fieldViolations);
      setProblem(found.length > 0 ? found.map(([f, d]) => `${f}: ${d}`).join("; ") : errorMessage(t, err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Card title={t("templates.preview")} size="small">
      <Space direction="vertical" style={{ width: "100%" }}>
        <Flex gap={8} wrap>
          <Select
            aria-label={t("templates.previewLocale")}
            style={{ width: 120 }}
            value={locale}
            onChange={setLocale}
            options={["zh-CN", "en"].map((l) => ({ value: l, label: l }))}
          />
          <Select
            aria-label={t("templates.previewChannel")}
            style={{ width: 140 }}
            value={channel}
            onChange={setChannel}
            options={(channels.length > 0 ? channels : [Channel.IN_APP]).map((c) => ({ value: c, label: channelLabel(t, c) }))}
          />
        </Flex>
        {draft.variables.map((variable) => (
          <Input
            key={variable.name}
            aria-label={t("templates.valueOf", { name: variable.name })}
            addonBefore={variable.name}
            placeholder={t(`templates.hint.${VariableType[variable.type] ?? "STRING"}`, { defaultValue: typeLabel(t, variable.type) })}
            value={typed[variable.name] ?? ""}
            onChange={(e) => setTyped({ ...typed, [variable.name]: e.target.value })}
          />
        ))}
        <Button loading={busy} onClick={() => void preview()}>
          {t("templates.render")}
        </Button>
        {problem && <Alert type="error" showIcon role="alert" message={problem} />}
        {answer && (
          <div role="region" aria-label={t("templates.rendered")}>
            {answer.subject && (
              <Typography.Paragraph strong style={{ marginBottom: 4 }}>
                {answer.subject}
              </Typography.Paragraph>
            )}
            <Typography.Paragraph style={{ whiteSpace: "pre-wrap" }}>{answer.body}</Typography.Paragraph>
            <Typography.Text type="secondary">
              {t("templates.renderedIn", { locale: answer.locale })}
              {channel === Channel.SMS && ` · ${t("templates.segments", { n: answer.smsSegments })}`}
            </Typography.Text>
          </div>
        )}
      </Space>
    </Card>
  );
}

/** The versions, newest first, each activatable by an editor. */
function Versions({ versions, editor, activate }: { versions: Template[]; editor: boolean; activate: (version: number) => void }) {
  const { t } = useTranslation();
  const format = useFormat();
  const columns: TableColumnsType<Template> = [
    {
      title: t("templates.version"),
      key: "version",
      render: (_, v) => (
        <Space>
          {t("templates.versionN", { n: v.version })}
          {v.version === v.activeVersion && <Tag color="green">{t("templates.active")}</Tag>}
        </Space>
      ),
    },
    { title: t("templates.savedAt"), key: "at", render: (_, v) => format.dateTime(v.audit?.createTime) },
    {
      title: t("templates.savedBy"),
      key: "by",
      render: (_, v) => (v.audit?.creator?.userId ? v.audit.creator.userId.slice(0, 8) : t("templates.platform")),
    },
    {
      title: t("requests.actions"),
      key: "activate",
      render: (_, v) =>
        editor &&
        v.version !== v.activeVersion && (
          <Button onClick={() => activate(v.version)} aria-label={t("templates.activateN", { n: v.version })}>
            {t("templates.activate")}
          </Button>
        ),
    },
  ];
  return (
    <Card title={t("templates.versions")} size="small">
      <Table<Template> rowKey="version" columns={columns} dataSource={versions} pagination={false} size="small" />
    </Card>
  );
}
