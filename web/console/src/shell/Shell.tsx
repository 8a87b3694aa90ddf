import { IdentityService, type GetCurrentUserResponse } from "@terrace/api/gen/terrace/identity/v1/identity_service_pb";
import {
  ApiOutlined,
  ApartmentOutlined,
  AreaChartOutlined,
  AuditOutlined,
  DesktopOutlined,
  FormOutlined,
  HomeOutlined,
  InboxOutlined,
  IdcardOutlined,
  SafetyOutlined,
  ShopOutlined,
  ShoppingCartOutlined,
  LineChartOutlined,
  BellOutlined,
  FileTextOutlined,
  NotificationOutlined,
  DownOutlined,
  SafetyCertificateOutlined,
  SolutionOutlined,
  TeamOutlined,
} from "@ant-design/icons";
import { App, Badge, Button, Dropdown, Flex, Layout, Menu, Modal, Tag, Typography, type MenuProps } from "antd";
import { useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Navigate, Outlet, useLocation, useNavigate } from "react-router";
import { Loading } from "../App";
import { errorMessage } from "../errors";
import { InboxContext, useInboxFeed } from "../notify/inbox";
import {
  registerScreensFor,
  requestScreensFor,
  roleFromClaim,
  screensFor,
  type RegisterScreen,
  type RequestScreen,
  type Screen,
} from "../identity/access";
import { claimRoleLabel, roleLabel } from "../identity/labels";
import { AreaName } from "../governance/AreaName";
import { LanguageSwitch } from "../LanguageSwitch";
import { LoginForm } from "../pages/LoginForm";
import { session, useSession } from "../session";
import { CurrentUserContext } from "./CurrentUser";

const identity = session.client(IdentityService);

const MENU_ICONS: Record<Screen, React.ReactNode> = {
  people: <TeamOutlined />,
  grants: <SafetyCertificateOutlined />,
  consents: <SolutionOutlined />,
  agencies: <ApiOutlined />,
  sessions: <DesktopOutlined />,
  audit: <AuditOutlined />,
};

const REGISTER_ICONS: Record<RegisterScreen, React.ReactNode> = {
  households: <HomeOutlined />,
  claims: <IdcardOutlined />,
  divisions: <ApartmentOutlined />,
  chain: <SafetyOutlined />,
};

/** Where each register screen lives; a household's and a resident's pages count as "households". */
const REGISTER_PATHS: Record<RegisterScreen, string[]> = {
  households: ["/governance/households", "/governance/residents"],
  claims: ["/governance/claims"],
  divisions: ["/governance/divisions"],
  chain: ["/governance/audit"],
};

const REQUEST_ICONS: Record<RequestScreen, React.ReactNode> = {
  inbox: <InboxOutlined />,
  dashboard: <AreaChartOutlined />,
  types: <FormOutlined />,
};

/**
 * Where each service-request screen lives; a request's page counts as the inbox. The dashboard's
 * path starts like the inbox's: the longest match wins (`requestScreenAt`).
 */
const REQUEST_PATHS: Record<RequestScreen, string[]> = {
  inbox: ["/governance/requests"],
  dashboard: ["/governance/requests/dashboard"],
  types: ["/governance/request-types"],
};

/** The market's screens for officials of an area: its listings (hide, unhide), its orders and the price reference. */
const MARKET_PATHS: Record<string, string> = { marketListings: "/market/listings", marketOrders: "/market/orders", marketPrices: "/market/prices" };
const MARKET_ICONS: Record<string, React.ReactNode> = { marketListings: <ShopOutlined />, marketOrders: <ShoppingCartOutlined />, marketPrices: <LineChartOutlined /> };

/** Notify's screens for officials: what was sent about their areas, and what notifications say. */
const NOTIFY_PATHS: Record<string, string> = { notifyDeliveries: "/notify/deliveries", notifyTemplates: "/notify/templates" };

/** Every grouped screen's path by menu key, for the selected item and navigation. */
const GROUP_PATHS: Record<string, string> = { ...MARKET_PATHS, ...NOTIFY_PATHS };

function requestScreenAt(pathname: string, screens: RequestScreen[]): RequestScreen | undefined {
  let best: [RequestScreen, number] | undefined;
  for (const screen of screens) {
    for (const path of REQUEST_PATHS[screen]) {
      if (pathname.startsWith(path) && path.length > (best?.[1] ?? -1)) best = [screen, path.length];
    }
  }
  return best?.[0];
}

/**
 * The frame around every logged-in page: who is logged in with which roles in which areas
 * (always visible: an official must know in whose name and where they act), navigation, language,
 * and the account menu.
 *
 * When the session is lost (the server refused a refresh), the page stays mounted and a login
 * dialog opens over it, so that what the official was typing survives.
 */
/** antd's App (for message/modal hooks) lives here, so the login page's bundle does not carry it. */
export default function ShellWithApp() {
  // A new account (switched here or in another tab) gets a fresh frame: nothing of the
  // previous person's (their roles, an open dialog) may stay on screen.
  const userId = useSession().account?.userId;
  return (
    <App>
      <Shell key={userId ?? ""} />
    </App>
  );
}

function Shell() {
  const { t } = useTranslation();
  const snapshot = useSession();
  const location = useLocation();
  const navigate = useNavigate();
  const inbox = useInboxFeed();
  const { message, modal } = App.useApp();
  const [me, setMe] = useState<GetCurrentUserResponse>();
  const everAuthenticated = useRef(false);
  const userId = snapshot.account?.userId;
  if (snapshot.authenticated) {
    everAuthenticated.current = true;
  }

  useEffect(() => {
    if (!snapshot.authenticated || !userId) {
      return;
    }
    const abort = new AbortController();
    identity
      .getCurrentUser({}, { signal: abort.signal })
      .then(setMe)
      .catch((err: unknown) => {
        if (!abort.signal.aborted) {
          void message.error(errorMessage(t, err));
        }
      });
    return () => abort.abort();
    // Reload when the account changes, not on every refresh of its token.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [userId, snapshot.authenticated]);

  const accountMenu: MenuProps["items"] = useMemo(() => {
    const others = session.accounts().filter((a) => a.userId !== userId);
    return [
      ...others.map((a) => ({
        key: `switch:${a.userId}`,
        label: `${t("shell.switchAccount")}: ${a.displayName} (${a.phoneNumber})`,
      })),
      { key: "add", label: t("shell.addAccount") },
      { type: "divider" as const },
      { key: "logout", label: t("shell.logout") },
      { key: "logout-everywhere", label: t("shell.logoutEverywhere"), danger: true },
    ];
  }, [t, userId]);

  if (snapshot.restoring) {
    // Start-up or an account switch (here or in another tab); retried while the server is out of reach.
    return <Loading />;
  }
  if (!snapshot.authenticated && !(snapshot.lost && everAuthenticated.current)) {
    const next = encodeURIComponent(location.pathname + location.search);
    return <Navigate to={`/login?next=${next}`} replace />;
  }

  async function onAccountMenu({ key }: { key: string }) {
    try {
      if (key.startsWith("switch:")) {
        setMe(undefined);
        await session.switchAccount(key.slice("switch:".length));
        navigate("/");
      } else if (key === "add") {
        // The current account's cookie stays; it can be switched back to from the login page.
        session.leaveAccount();
        navigate("/login");
      } else if (key === "logout") {
        await session.logout();
      } else if (key === "logout-everywhere") {
        modal.confirm({
          title: t("shell.logoutEverywhere"),
          content: t("shell.logoutEverywhereConfirm"),
          okButtonProps: { danger: true },
          onOk: async () => {
            try {
              await session.logoutEverywhere();
            } catch (err) {
              void message.error(errorMessage(t, err));
            }
          },
        });
      }
    } catch (err) {
      void message.error(errorMessage(t, err));
    }
  }

  const grants = me?.user?.roleGrants;
  const roles =
    grants && grants.length > 0
      ? grants.map((g) => ({ key: g.id, role: roleLabel(t, g.role), area: g.scope?.code ?? "" }))
      : (snapshot.claims?.roles ?? []).map((g, i) => ({
          key: String(i),
          role: claimRoleLabel(t, g.role),
          area: g.scope,
        }));
  // Menu items for what the official's roles can use; the server still decides every call.
  const heldRoles =
    grants && grants.length > 0
      ? grants.map((g) => g.role)
      : (snapshot.claims?.roles ?? []).map((g) => roleFromClaim(g.role));
  const screens = screensFor(heldRoles);
  const registerScreens = registerScreensFor(heldRoles);
  const requestScreens = requestScreensFor(heldRoles);
  const selected =
    screens.find((s) => location.pathname.startsWith(`/identity/${s}`)) ??
    registerScreens.find((s) => REGISTER_PATHS[s].some((p) => location.pathname.startsWith(p))) ??
    requestScreenAt(location.pathname, requestScreens) ??
    Object.keys(GROUP_PATHS).find((k) => location.pathname.startsWith(GROUP_PATHS[k] ?? "-")) ??
    "";
  const menuItems: MenuProps["items"] = [
    ...screens.map((key) => ({ key, icon: MENU_ICONS[key], label: t(`shell.${key}`) })),
    ...(registerScreens.length > 0
      ? [
          {
            key: "register",
            type: "group" as const,
            label: t("shell.register"),
            children: registerScreens.map((key) => ({ key, icon: REGISTER_ICONS[key], label: t(`shell.${key}`) })),
          },
        ]
      : []),
    ...(requestScreens.length > 0
      ? [
          {
            key: "requests",
            type: "group" as const,
            label: t("shell.requestsGroup"),
            children: requestScreens.map((key) => ({ key, icon: REQUEST_ICONS[key], label: t(`shell.${key}`) })),
          },
          {
            key: "market",
            type: "group" as const,
            label: t("shell.marketGroup"),
            children: (["marketListings", "marketOrders", "marketPrices"] as const).map((key) => ({ key, icon: MARKET_ICONS[key], label: t(`shell.${key}`) })),
          },
          {
            key: "notify",
            type: "group" as const,
            label: t("shell.notifyGroup"),
            children: [
              { key: "notifyDeliveries", icon: <NotificationOutlined />, label: t("shell.notifyDeliveries") },
              { key: "notifyTemplates", icon: <FileTextOutlined />, label: t("shell.notifyTemplates") },
            ],
          },
        ]
      : []),
  ];

  return (
    <CurrentUserContext.Provider value={me}>
      <a href="#main" className="skip-link">
        {t("app.skipToContent")}
      </a>
      <Layout style={{ minHeight: "100vh" }}>
        <Layout.Header
          style={{ background: "#fff", borderBottom: "1px solid #d9d9d9", paddingInline: 24, height: "auto", lineHeight: 1.5 }}
        >
          <Flex align="center" justify="space-between" wrap gap={12} style={{ minHeight: 64 }}>
            <Typography.Text strong style={{ fontSize: 18 }}>
              {t("app.name")} · {t("app.console")}
            </Typography.Text>
            <Flex align="center" wrap gap={12}>
              <span role="group" aria-label={t("shell.roles")}>
                {roles.length === 0 ? (
                  <Tag>{t("shell.noRoles")}</Tag>
                ) : (
                  roles.map((r) => (
                    <Tag key={r.key} color="blue">
                      {r.role} · <AreaName area={r.area} short />
                    </Tag>
                  ))
                )}
              </span>
              <Badge count={inbox.unread} size="small">
                <Button
                  icon={<BellOutlined />}
                  aria-label={t("inbox.bell", { count: inbox.unread })}
                  onClick={() => void navigate("/notify/inbox")}
                />
              </Badge>
              <LanguageSwitch />
              <Dropdown menu={{ items: accountMenu, onClick: (info) => void onAccountMenu(info) }} trigger={["click"]}>
                <Button aria-label={t("shell.account")} aria-haspopup="menu">
                  {me?.user?.displayName ?? snapshot.account?.displayName} <DownOutlined />
                </Button>
              </Dropdown>
            </Flex>
          </Flex>
        </Layout.Header>
        <Layout>
          <Layout.Sider width={200} theme="light" breakpoint="lg" collapsedWidth={0}>
            <nav aria-label={t("shell.nav")}>
              <Menu
                mode="inline"
                selectedKeys={[selected]}
                onClick={({ key }) =>
                  navigate(
                    key in REGISTER_PATHS
                      ? (REGISTER_PATHS[key as RegisterScreen][0] ?? "/")
                      : key in REQUEST_PATHS
                        ? (REQUEST_PATHS[key as RequestScreen][0] ?? "/")
                        : (GROUP_PATHS[key] ?? `/identity/${key}`),
                  )
                }
                items={menuItems}
              />
            </nav>
          </Layout.Sider>
          <Layout.Content id="main" tabIndex={-1} style={{ padding: 24 }}>
            <InboxContext.Provider value={inbox}>
              <Outlet />
            </InboxContext.Provider>
          </Layout.Content>
        </Layout>
      </Layout>
      <Modal
        open={snapshot.lost && everAuthenticated.current}
        title={t("login.sessionLostTitle")}
        footer={null}
        closable={false}
        maskClosable={false}
        keyboard={false}
        destroyOnHidden
      >
        <Typography.Paragraph>{t("login.sessionLostHint")}</Typography.Paragraph>
        <LoginForm
          idPrefix="relogin"
          initialPhone={snapshot.account?.phoneNumber}
          onDone={(user) => {
            if (user.id !== userId) {
              // Someone else logged in: this page's data was the other account's.
              setMe(undefined);
              navigate("/");
            }
          }}
        />
      </Modal>
    </CurrentUserContext.Provider>
  );
}
