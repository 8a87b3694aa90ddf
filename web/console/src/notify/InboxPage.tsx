import type { InboxItem } from "@terrace/api/gen/terrace/notify/v1/notify_pb";
import { Badge, Button, Empty, Flex, List, Space, Spin, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";
import { useFormat } from "../format";
import { categoryLabel } from "./labels";
import { useInbox } from "./inbox";
import { consolePath } from "./links";

/**
 * 我的消息: what the platform told the official (a new request in their village, one escalated
 * to them, one assigned to them), newest first, live; opening one marks it read and goes to its
 * page.
 */
export default function InboxPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const inbox = useInbox();
  const navigate = useNavigate();

  async function open(item: InboxItem) {
    if (!item.readTime) await inbox.markRead([item.id]);
    const path = consolePath(item);
    if (path) void navigate(path);
  }

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%", maxWidth: 880 }}>
      <Flex justify="space-between" align="center" wrap gap={12}>
        <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
          {t("inbox.title")}
        </Typography.Title>
        <Space>
          <Link to="/notify/preferences">{t("preferences.title")}</Link>
          <Button disabled={inbox.unread === 0} onClick={() => void inbox.markRead([])}>
            {t("inbox.markAllRead")}
          </Button>
        </Space>
      </Flex>
      {!inbox.loaded ? (
        <Spin />
      ) : inbox.items.length === 0 ? (
        <Empty description={t("inbox.empty")} />
      ) : (
        <List<InboxItem>
          bordered
          dataSource={inbox.items}
          renderItem={(item) => (
            <List.Item
              actions={[
                <Button key="open" type="link" onClick={() => void open(item)} aria-label={t("inbox.openItem", { title: item.title })}>
                  {consolePath(item) ? t("inbox.open") : item.readTime ? "" : t("inbox.markRead")}
                </Button>,
              ]}
            >
              <List.Item.Meta
                title={
                  <Space>
                    {!item.readTime && <Badge status="processing" text={t("inbox.unread")} />}
                    <span>{item.title}</span>
                  </Space>
                }
                description={
                  <>
                    <Typography.Paragraph style={{ marginBottom: 4, whiteSpace: "pre-wrap" }}>{item.body}</Typography.Paragraph>
                    <Typography.Text type="secondary">
                      {format.dateTime(item.createTime)} · {categoryLabel(t, item.category)}
                    </Typography.Text>
                  </>
                }
              />
            </List.Item>
          )}
        />
      )}
    </Space>
  );
}
