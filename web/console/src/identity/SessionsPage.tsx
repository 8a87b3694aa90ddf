import { type Session as LoginSession } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { IdentityService } from "@terrace/api/gen/terrace/identity/v1/identity_service_pb";
import { Alert, App, Button, Flex, Space, Table, Tag, Typography, type TableColumnsType } from "antd";
import { useTranslation } from "react-i18next";
import { Pager, useServerPages } from "../components/paging";
import { errorMessage } from "../errors";
import { useFormat } from "../format";
import { session } from "../session";
import { loginMethodLabel } from "./labels";

const identity = session.client(IdentityService);

/**
 * The caller's own sessions (ListSessions, newest first) and logging out everywhere
 * (RevokeAllSessions, then Logout). The contract lists only one's own sessions; an official
 * logs a user out everywhere from the user's details (RevokeAllSessions with user_id).
 */
export default function SessionsPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const { message, modal } = App.useApp();

  const pages = useServerPages<LoginSession>(async (page, signal) => {
    const response = await identity.listSessions({ page }, { signal });
    return { items: response.sessions, nextToken: response.page?.nextPageToken ?? "", total: response.page?.totalSize };
  }, []);

  const columns: TableColumnsType<LoginSession> = [
    {
      title: t("sessions.device"),
      key: "device",
      render: (_, s) => (
        <>
          {s.clientDescription || t("sessions.unknownDevice")}
          {s.current && (
            <Tag color="blue" style={{ marginInlineStart: 8 }}>
              {t("sessions.current")}
            </Tag>
          )}
        </>
      ),
    },
    { title: t("sessions.method"), key: "method", render: (_, s) => loginMethodLabel(t, s.loginMethod) },
    { title: t("sessions.address"), dataIndex: "clientAddress", key: "address" },
    { title: t("sessions.started"), key: "started", render: (_, s) => format.dateTime(s.createTime) },
    { title: t("sessions.lastUsed"), key: "lastUsed", render: (_, s) => format.dateTime(s.lastRefreshTime) },
    { title: t("sessions.expires"), key: "expires", render: (_, s) => format.dateTime(s.expireTime) },
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Flex justify="space-between" align="center" wrap gap={12}>
        <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
          {t("sessions.title")}
        </Typography.Title>
        <Button
          danger
          onClick={() =>
            modal.confirm({
              title: t("shell.logoutEverywhere"),
              content: t("shell.logoutEverywhereConfirm"),
              okText: t("shell.logoutEverywhere"),
              cancelText: t("create.cancel"),
              okButtonProps: { danger: true },
              onOk: async () => {
                try {
                  await session.logoutEverywhere();
                } catch (err) {
                  void message.error(errorMessage(t, err));
                }
              },
            })
          }
        >
          {t("shell.logoutEverywhere")}
        </Button>
      </Flex>
      <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
        {t("sessions.hint")}
      </Typography.Paragraph>
      {pages.problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, pages.problem)} />}
      <Table<LoginSession>
        rowKey="id"
        columns={columns}
        dataSource={pages.items}
        loading={pages.loading}
        pagination={false}
        locale={{ emptyText: t("sessions.empty") }}
        scroll={{ x: true }}
      />
      <Pager pages={pages} />
    </Space>
  );
}
