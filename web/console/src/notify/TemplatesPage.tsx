import type { Template } from "@terrace/api/gen/terrace/notify/v1/notify_pb";
import { PlusOutlined } from "@ant-design/icons";
import { Alert, Button, Flex, Input, Space, Table, Tag, Typography, type TableColumnsType } from "antd";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useSearchParams } from "react-router";
import { Pager, useServerPages } from "../components/paging";
import { errorMessage } from "../errors";
import { withParam } from "../governance/AreaSelect";
import { notify } from "./client";
import { categoryLabel, channelLabel } from "./labels";
import { useTemplateEditor } from "./useTemplateEditor";

/**
 * 通知模板: what each notification says, per language and channel — the platform's own texts
 * (an order placed, a request escalated, a one-time code) and those platform admins add. Every
 * official reads them; platform admins open one to edit, preview and roll back.
 */
export default function TemplatesPage() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const prefix = params.get("prefix") ?? "";
  const editor = useTemplateEditor();
  const navigate = useNavigate();

  const pages = useServerPages<Template>(
    async (page, signal) => {
      const answer = await notify.listTemplates({ page, keyPrefix: prefix }, { signal });
      return { items: answer.templates, nextToken: answer.page?.nextPageToken ?? "" };
    },
    [prefix],
  );

  const columns: TableColumnsType<Template> = [
    {
      title: t("templates.key"),
      key: "key",
      render: (_, tpl) => (
        <Link to={`/notify/templates/${encodeURIComponent(tpl.key)}`}>
          <Typography.Text code>{tpl.key}</Typography.Text>
        </Link>
      ),
    },
    {
      title: t("templates.description"),
      key: "description",
      render: (_, tpl) => (
        <Space size={4} wrap>
          {tpl.description}
          {tpl.builtIn && <Tag>{t("templates.builtIn")}</Tag>}
          {tpl.critical && <Tag color="red">{t("templates.critical")}</Tag>}
        </Space>
      ),
    },
    { title: t("notify.categoryTitle"), key: "category", render: (_, tpl) => categoryLabel(t, tpl.category) },
    {
      title: t("templates.texts"),
      key: "texts",
      render: (_, tpl) => tpl.contents.map((c) => `${channelLabel(t, c.channel)} ${c.locale}`).join("、"),
    },
    { title: t("templates.version"), key: "version", render: (_, tpl) => t("templates.versionN", { n: tpl.version }) },
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("templates.title")}
      </Typography.Title>
      <Typography.Paragraph type="secondary" style={{ margin: 0, maxWidth: 880 }}>
        {t("templates.intro")}
      </Typography.Paragraph>
      <Flex wrap gap={12} align="center" role="search">
        <Input.Search
          aria-label={t("templates.keyPrefix")}
          placeholder={t("templates.keyPrefix")}
          defaultValue={prefix}
          allowClear
          style={{ maxWidth: 320 }}
          onSearch={(value) => {
            setParams(withParam(params, "prefix", value.trim()), { replace: true });
            pages.restart();
          }}
        />
        {editor && (
          <Button type="primary" icon={<PlusOutlined />} onClick={() => void navigate("/notify/templates/new")}>
            {t("templates.new")}
          </Button>
        )}
      </Flex>
      {pages.problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, pages.problem)} />}
      <Table<Template>
        rowKey="key"
        columns={columns}
        dataSource={pages.items}
        loading={pages.loading}
        pagination={false}
        locale={{ emptyText: t("templates.none") }}
      />
      <Pager pages={pages} />
    </Space>
  );
}
