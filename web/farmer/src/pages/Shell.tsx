import { ContentOutline, TeamOutline, UserCircleOutline, UserOutline } from "antd-mobile-icons";
import { Suspense } from "react";
import { useTranslation } from "react-i18next";
import { NavLink, Navigate, Outlet } from "react-router";
import { Loading } from "../App";
import { LanguageSwitch } from "../components/LanguageSwitch";
import { useOnline } from "../hooks/useOnline";
import { useSession } from "../session";

/**
 * The logged-in frame: who is using the app now (a shared phone must always say whose account
 * it is), the screen, and a bottom tab bar of links, each an icon with its word, 56 px tall.
 * Also shown while the login is being restored, so an offline start opens the app, not login.
 */
export default function Shell() {
  const { t } = useTranslation();
  const snapshot = useSession();
  const online = useOnline();

  if (!snapshot.authenticated && !snapshot.restoring) {
    // Logged out, or the session was refused (the login page then says whose and prefills it).
    return <Navigate to="/login" replace />;
  }
  // While restoring (start-up, or no network: the refresh is retried until the server answers)
  // the frame is shown with the remembered account: the farmer is still who they were. With no
  // network the screen is shown too (what needs the network says so there); online, it waits
  // the moment the refresh takes, so that it loads once, with a token.
  const screenShown = snapshot.authenticated || !online;

  const tabs = [
    { to: "/me", label: t("nav.me"), icon: <UserOutline aria-hidden /> },
    { to: "/record", label: t("nav.record"), icon: <ContentOutline aria-hidden /> },
    { to: "/consents", label: t("nav.consents"), icon: <UserCircleOutline aria-hidden /> },
    { to: "/accounts", label: t("nav.accounts"), icon: <TeamOutline aria-hidden /> },
  ];
  return (
    <div className="shell">
      <header className="shell-header">
        <span className="shell-user" aria-live="polite">
          <UserOutline aria-hidden /> {snapshot.account?.displayName}
        </span>
        <LanguageSwitch />
      </header>
      <main className="shell-main">
        {screenShown ? (
          <Suspense fallback={<Loading />}>
            {/* Remounted when the login is restored, so a screen shown offline loads again with a token. */}
            <Outlet key={snapshot.authenticated ? "signed-in" : "restoring"} />
          </Suspense>
        ) : (
          <Loading />
        )}
      </main>
      <nav className="tab-bar" aria-label={t("nav.main")}>
        {tabs.map((tab) => (
          <NavLink key={tab.to} to={tab.to} className={({ isActive }) => (isActive ? "tab active" : "tab")}>
            {tab.icon}
            <span>{tab.label}</span>
          </NavLink>
        ))}
      </nav>
    </div>
  );
}
