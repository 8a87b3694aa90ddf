import { AdminLevel, type AdminCode } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { UserStatus, type User } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { IdentityService } from "@terrace/api/gen/terrace/identity/v1/identity_service_pb";
import { normalizePhone } from "@terrace/api";
import { PlusOutlined } from "@ant-design/icons";
import { Alert, Button, Dropdown, Flex, Input, Select, Space, Table, Tag, Typography, type TableColumnsType } from "antd";
import { useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { errorMessage } from "../errors";
import { useFormat } from "../format";
import { session } from "../session";
import { useCurrentUser, useMyGrants } from "../shell/CurrentUser";
import { CreateVillager } from "./CreateVillager";
import { OFFICIAL_ROLES, roleLabel, statusLabel } from "./labels";
import { AreaName } from "../governance/AreaName";
import { ResetPasswordDialog, StatusDialog, UserDrawer } from "./UserDialogs";
import { statusActions, statusColor, type StatusAction } from "./status";

const identity = session.client(IdentityService);

interface Page {
  users: User[];
  nextToken: string;
  total: bigint | undefined;
}

/**
 * People with a grant in one of the official's areas (ListUsers), paged by the server. Page
 * tokens are opaque cursors, so "previous" is a stack of the tokens that led here.
 */
export default function PeoplePage() {
  const { t } = useTranslation();
  const format = useFormat();
  const me = useCurrentUser();
  const myGrants = useMyGrants();
  const areas = useMemo(() => {
    const seen = new Map<string, AdminCode>();
    for (const grant of myGrants ?? []) {
      if (OFFICIAL_ROLES.has(grant.role) && grant.scope && !seen.has(grant.scope.code)) {
        seen.set(grant.scope.code, grant.scope);
      }
    }
    return [...seen.values()];
  }, [myGrants]);
  const [areaCode, setAreaCode] = useState<string>();
  const area = areas.find((a) => a.code === areaCode) ?? areas[0];
  const [query, setQuery] = useState("");
  const [pageSize, setPageSize] = useState(20);
  const [tokens, setTokens] = useState<string[]>([""]);
  const [page, setPage] = useState<Page>();
  const [loading, setLoading] = useState(false);
  // The error itself, translated when shown, so that switching language does not refetch.
  const [problem, setProblem] = useState<unknown>();
  const [creating, setCreating] = useState(false);
  const [reload, setReload] = useState(0);
  const [changing, setChanging] = useState<{ user: User; action: StatusAction }>();
  const [resetting, setResetting] = useState<User>();
  const [viewing, setViewing] = useState<string>();

  useEffect(() => {
    if (!me) {
      return; // the caller's areas are not known yet
    }
    const abort = new AbortController();
    setLoading(true);
    setProblem(undefined);
    const trimmed = query.trim();
    const asPhone = normalizePhone(trimmed);
    identity
      .listUsers(
        {
          page: { pageSize, pageToken: tokens[tokens.length - 1] ?? "" },
          area,
          // Exact phone numbers are looked up as E.164; anything else is a name prefix.
          query: /^\+\d+$/.test(asPhone) ? asPhone : trimmed,
        },
        { signal: abort.signal },
      )
      .then((response) =>
        setPage({
          users: response.users,
          nextToken: response.page?.nextPageToken ?? "",
          total: response.page?.totalSize,
        }),
      )
      .catch((err: unknown) => {
        if (!abort.signal.aborted) {
          setPage(undefined);
          setProblem(err);
        }
      })
      .finally(() => {
        if (!abort.signal.aborted) {
          setLoading(false);
        }
      });
    return () => abort.abort();
  }, [me, area, query, pageSize, tokens, reload]);

  const restart = () => setTokens([""]);

  const columns: TableColumnsType<User> = [
    { title: t("people.name"), dataIndex: "displayName", key: "name" },
    { title: t("people.phone"), dataIndex: "phoneNumber", key: "phone" },
    {
      title: t("people.roles"),
      key: "roles",
      render: (_, user) =>
        user.roleGrants.map((g) => (
          <Tag key={g.id}>
            {roleLabel(t, g.role)} · <AreaName area={g.scope} short />
          </Tag>
        )),
    },
    {
      title: t("people.status"),
      key: "status",
      render: (_, user) => (
        <Tag color={statusColor(user.status)}>{statusLabel(t, user.status)}</Tag>
      ),
    },
    {
      title: t("people.lastLogin"),
      key: "lastLogin",
      render: (_, user) => (user.lastLoginTime ? format.dateTime(user.lastLoginTime) : t("people.never")),
    },
    {
      title: t("people.actions"),
      key: "actions",
      render: (_, user) => {
        const villager = !user.roleGrants.some((g) => OFFICIAL_ROLES.has(g.role));
        const items = [
          ...statusActions(user.status).map((action) => ({
            key: action,
            label: t(`userStatus.${action}`),
            danger: action === "lock" || action === "disable",
          })),
          ...(villager && user.status === UserStatus.ACTIVE ? [{ key: "reset", label: t("reset.title") }] : []),
        ];
        return (
          <Space size={4}>
            <Button size="small" onClick={() => setViewing(user.id)}>
              {t("people.details")}
            </Button>
            {items.length > 0 && (
              <Dropdown
                trigger={["click"]}
                menu={{
                  items,
                  onClick: ({ key }) =>
                    key === "reset" ? setResetting(user) : setChanging({ user, action: key as StatusAction }),
                }}
              >
                <Button size="small" aria-haspopup="menu" aria-label={t("people.moreFor", { name: user.displayName })}>
                  {t("people.more")}
                </Button>
              </Dropdown>
            )}
          </Space>
        );
      },
    },
  ];

  const villages = areas.filter((a) => a.level === AdminLevel.VILLAGE);

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Flex justify="space-between" align="center" wrap gap={12}>
        <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
          {t("people.title")}
        </Typography.Title>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)}>
          {t("create.button")}
        </Button>
      </Flex>
      <Flex wrap gap={12} role="search">
        {areas.length > 0 && (
          <Select
            aria-label={t("people.area")}
            value={area?.code}
            onChange={(code: string) => {
              setAreaCode(code);
              restart();
            }}
            options={areas.map((a) => ({ value: a.code, label: <AreaName area={a} short /> }))}
            style={{ minWidth: 200 }}
          />
        )}
        <Input.Search
          aria-label={t("people.search")}
          placeholder={t("people.searchPlaceholder")}
          allowClear
          enterButton={t("people.search")}
          onSearch={(value) => {
            setQuery(value);
            restart();
          }}
          style={{ maxWidth: 360 }}
        />
      </Flex>
      {me && areas.length === 0 && <Alert type="info" showIcon message={t("people.areaRequired")} />}
      {problem !== undefined && <Alert type="error" showIcon message={errorMessage(t, problem)} role="alert" />}
      <Table<User>
        rowKey="id"
        columns={columns}
        dataSource={page?.users ?? []}
        loading={loading}
        pagination={false}
        locale={{ emptyText: t("people.empty") }}
      />
      <Flex justify="flex-end" align="center" gap={12} wrap>
        {page?.total !== undefined && <span>{t("people.total", { count: Number(page.total) })}</span>}
        <span aria-live="polite">{t("people.page", { page: tokens.length })}</span>
        <Button disabled={tokens.length <= 1 || loading} onClick={() => setTokens(tokens.slice(0, -1))}>
          {t("people.prev")}
        </Button>
        <Button disabled={!page?.nextToken || loading} onClick={() => page && setTokens([...tokens, page.nextToken])}>
          {t("people.next")}
        </Button>
        <Select
          aria-label={t("people.pageSize")}
          value={pageSize}
          onChange={(size: number) => {
            setPageSize(size);
            restart();
          }}
          options={[10, 20, 50, 100].map((n) => ({ value: n, label: t("people.perPage", { count: n }) }))}
        />
      </Flex>
      <CreateVillager
        open={creating}
        villages={villages}
        areas={areas}
        onClose={() => setCreating(false)}
        onCreated={() => {
          setCreating(false);
          restart();
          setReload((n) => n + 1);
        }}
      />
      <StatusDialog
        user={changing?.user}
        action={changing?.action}
        onClose={() => setChanging(undefined)}
        onDone={() => {
          setChanging(undefined);
          setReload((n) => n + 1);
        }}
      />
      <ResetPasswordDialog user={resetting} onClose={() => setResetting(undefined)} />
      <UserDrawer userId={viewing} onClose={() => setViewing(undefined)} />
    </Space>
  );
}
