import { ConfigProvider, Spin, type ThemeConfig } from "antd";
import enUS from "antd/es/locale/en_US";
import zhCN from "antd/es/locale/zh_CN";
import { useTranslation } from "react-i18next";
import { createBrowserRouter } from "react-router";
import { RouterProvider } from "react-router/dom";
import LoginPage from "./pages/LoginPage";

/**
 * Routes. The login page is part of the entry chunk (it is what a logged-out official sees
 * first, and it needs only identity's client); the shell and every service's screens are loaded
 * when first visited, one chunk per service, so that adding a service does not slow the login.
 */
const router = createBrowserRouter(
  [
    { path: "/login", element: <LoginPage /> },
    {
      path: "/",
      lazy: async () => ({ Component: (await import("./shell/Shell")).default }),
      HydrateFallback: Loading,
      children: [
        { index: true, lazy: async () => ({ Component: (await import("./shell/Home")).default }) },
        {
          path: "identity/people",
          lazy: async () => ({ Component: (await import("./identity/PeoplePage")).default }),
        },
        {
          path: "identity/grants",
          lazy: async () => ({ Component: (await import("./identity/GrantsPage")).default }),
        },
        {
          path: "identity/consents",
          lazy: async () => ({ Component: (await import("./identity/ConsentsPage")).default }),
        },
        {
          path: "identity/agencies",
          lazy: async () => ({ Component: (await import("./identity/AgenciesPage")).default }),
        },
        {
          path: "identity/sessions",
          lazy: async () => ({ Component: (await import("./identity/SessionsPage")).default }),
        },
        {
          path: "identity/audit",
          lazy: async () => ({ Component: (await import("./identity/AuditPage")).default }),
        },
        // The village register: one chunk for all its screens.
        {
          path: "governance/households",
          lazy: async () => ({ Component: (await import("./governance/register/screens")).HouseholdsPage }),
        },
        {
          path: "governance/households/:householdId",
          lazy: async () => ({ Component: (await import("./governance/register/screens")).HouseholdPage }),
        },
        {
          path: "governance/residents/:residentId",
          lazy: async () => ({ Component: (await import("./governance/register/screens")).ResidentPage }),
        },
        // Villagers' claims of their records: a chunk of its own (an official opens it now and
        // then; the register's chunk stays as it was).
        {
          path: "governance/claims",
          lazy: async () => ({ Component: (await import("./governance/claims/ClaimsPage")).default }),
        },
        {
          path: "governance/divisions",
          lazy: async () => ({ Component: (await import("./governance/register/screens")).DivisionsPage }),
        },
        // Service requests: one chunk for the catalogue, the inbox and a request's page.
        {
          path: "governance/requests",
          lazy: async () => ({ Component: (await import("./governance/requests/screens")).InboxPage }),
        },
        // The dashboard: a chunk of its own, the only one that loads the chart library.
        {
          path: "governance/requests/dashboard",
          lazy: async () => ({ Component: (await import("./governance/requests/dashboard/DashboardPage")).default }),
        },
        {
          path: "governance/requests/new",
          lazy: async () => ({ Component: (await import("./governance/requests/screens")).FilePage }),
        },
        {
          path: "governance/requests/:requestId",
          lazy: async () => ({ Component: (await import("./governance/requests/screens")).RequestPage }),
        },
        {
          path: "governance/request-types",
          lazy: async () => ({ Component: (await import("./governance/requests/screens")).TypesPage }),
        },
        // The market (listings to hide, orders, the price reference): a chunk of its own.
        {
          path: "market/listings",
          lazy: async () => ({ Component: (await import("./market/screens")).ListingsPage }),
        },
        {
          path: "market/orders",
          lazy: async () => ({ Component: (await import("./market/screens")).OrdersPage }),
        },
        {
          path: "market/prices",
          lazy: async () => ({ Component: (await import("./market/screens")).PricesPage }),
        },
        // Notify (what was sent about the official's areas): a chunk of its own.
        {
          path: "notify/deliveries",
          lazy: async () => ({ Component: (await import("./notify/DeliveriesPage")).default }),
        },
        {
          path: "notify/inbox",
          lazy: async () => ({ Component: (await import("./notify/InboxPage")).default }),
        },
        {
          path: "notify/preferences",
          lazy: async () => ({ Component: (await import("./notify/PreferencesPage")).default }),
        },
        {
          path: "notify/templates",
          lazy: async () => ({ Component: (await import("./notify/screens")).TemplatesPage }),
        },
        {
          path: "notify/templates/:key",
          lazy: async () => ({ Component: (await import("./notify/screens")).TemplatePage }),
        },
        {
          path: "governance/audit",
          lazy: async () => ({ Component: (await import("./governance/register/screens")).AuditChainPage }),
        },
      ],
    },
  ],
  { basename: "/console" },
);

/**
 * Ant Design's default blue (#1677ff) on white is 4.1:1, under WCAG AA's 4.5:1 for text; one
 * step darker is 6:1. Secondary and placeholder text are darkened for the same reason, and the
 * error red (#ff4d4f, 3.3:1, the colour of a field's error message) is red-7, 5.6:1. Green tags
 * (a user's status "正常") write in green-7 on green-1, 3.4:1; green-8 there is 5.4:1.
 */
const theme: ThemeConfig = {
  token: {
    colorPrimary: "#0958d9",
    // Hovered and pressed buttons keep their white text readable (antd's derived hover blue is
    // lighter than the base, 3.9:1); blue-8 and blue-9 are darker instead.
    colorPrimaryHover: "#003eb3",
    colorPrimaryActive: "#002c8c",
    colorLink: "#0958d9",
    colorError: "#cf1322",
    green7: "#237804",
    colorTextSecondary: "rgba(0, 0, 0, 0.65)",
    colorTextDescription: "rgba(0, 0, 0, 0.65)",
    colorTextPlaceholder: "rgba(0, 0, 0, 0.5)",
  },
};

export function Loading() {
  const { t } = useTranslation();
  return (
    <div style={{ display: "grid", placeItems: "center", minHeight: "50vh" }}>
      <Spin tip={t("app.loading")} size="large">
        <div style={{ padding: 48 }} />
      </Spin>
    </div>
  );
}

export default function App() {
  const { i18n } = useTranslation();
  return (
    <ConfigProvider locale={i18n.language === "en" ? enUS : zhCN} theme={theme}>
      <RouterProvider router={router} />
    </ConfigProvider>
  );
}
