import { ConfigProvider, DotLoading } from "antd-mobile";
import enUS from "antd-mobile/es/locales/en-US";
import zhCN from "antd-mobile/es/locales/zh-CN";
import { useTranslation } from "react-i18next";
import { Navigate, createBrowserRouter } from "react-router";
import { RouterProvider } from "react-router/dom";
import { OfflineBanner } from "./components/OfflineBanner";
import { UpdatePrompt } from "./components/UpdatePrompt";
import LoginPage from "./pages/LoginPage";

/**
 * Routes. The login page is in the entry chunk (it is what a farmer sees first, often on a slow
 * mobile network, and it needs only identity's client); the shell and each screen behind it are
 * loaded when first visited. The service worker precaches every chunk, so after the first visit
 * all of them open without a network.
 */
const router = createBrowserRouter(
  [
    { path: "/login", element: <LoginPage /> },
    {
      path: "/signup",
      lazy: async () => ({ Component: (await import("./pages/SignUpPage")).default }),
      HydrateFallback: Loading,
    },
    {
      path: "/",
      lazy: async () => ({ Component: (await import("./pages/Shell")).default }),
      HydrateFallback: Loading,
      children: [
        { index: true, element: <Navigate to="/me" replace /> },
        { path: "me", lazy: async () => ({ Component: (await import("./pages/ProfilePage")).default }) },
        { path: "inbox", lazy: async () => ({ Component: (await import("./pages/InboxPage")).default }) },
        {
          path: "inbox/settings",
          lazy: async () => ({ Component: (await import("./pages/NotifySettingsPage")).default }),
        },
        { path: "record", lazy: async () => ({ Component: (await import("./pages/RecordPage")).default }) },
        {
          path: "consents",
          lazy: async () => ({ Component: (await import("./pages/ConsentsPage")).default }),
        },
        {
          path: "consents/new",
          lazy: async () => ({ Component: (await import("./pages/ConsentForm")).default }),
        },
        // Service requests: one chunk for the list, the form and a request's page.
        { path: "requests", lazy: async () => ({ Component: (await import("./pages/Requests")).RequestsPage }) },
        { path: "requests/new", lazy: async () => ({ Component: (await import("./pages/Requests")).NewRequestPage }) },
        {
          path: "requests/:requestId",
          lazy: async () => ({ Component: (await import("./pages/Requests")).RequestDetailPage }),
        },
        // The market: one chunk for buying and selling.
        { path: "market", lazy: async () => ({ Component: (await import("./pages/Market")).BuyPage }) },
        { path: "market/listings/:listingId", lazy: async () => ({ Component: (await import("./pages/Market")).ListingPage }) },
        { path: "market/orders", lazy: async () => ({ Component: (await import("./pages/Market")).MyOrdersPage }) },
        { path: "market/sell", lazy: async () => ({ Component: (await import("./pages/Market")).SellPage }) },
        { path: "market/mine", lazy: async () => ({ Component: (await import("./pages/Market")).MyListingsPage }) },
        { path: "market/incoming", lazy: async () => ({ Component: (await import("./pages/Market")).IncomingOrdersPage }) },
        {
          path: "accounts",
          lazy: async () => ({ Component: (await import("./pages/AccountsPage")).default }),
        },
      ],
    },
    { path: "*", element: <Navigate to="/" replace /> },
  ],
  { basename: "/farmer" },
);

export function Loading() {
  const { t } = useTranslation();
  return (
    <div className="loading" role="status">
      <DotLoading color="primary" aria-hidden />
      <span>{t("app.loading")}</span>
    </div>
  );
}

export default function App() {
  const { i18n } = useTranslation();
  return (
    <ConfigProvider locale={i18n.language === "en" ? enUS : zhCN}>
      <OfflineBanner />
      <RouterProvider router={router} />
      <UpdatePrompt />
    </ConfigProvider>
  );
}
