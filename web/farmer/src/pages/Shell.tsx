import { Popup } from "antd-mobile";
import { BellOutline, ContentOutline, FileOutline, ShopbagOutline, TeamOutline, UserCircleOutline, UserOutline } from "antd-mobile-icons";
import { Suspense, useEffect, useRef } from "react";
import { useTranslation } from "react-i18next";
import { Link, NavLink, Navigate, Outlet, useLocation, useNavigate } from "react-router";
import { Loading } from "../App";
import { CodeLoginForm } from "../components/CodeLoginForm";
import { LanguageSwitch } from "../components/LanguageSwitch";
import { InboxContext, useInboxFeed } from "../hooks/useInboxFeed";
import { useOnline } from "../hooks/useOnline";
import { errorMessage } from "../errors";
import { canBuy, canSell } from "../market";
import { sendOutbox } from "../sendOutbox";
import { useSession } from "../session";

/**
 * The logged-in frame: who is using the app now (a shared phone must always say whose account
 * it is), the screen, and a bottom tab bar of links, each an icon with its word, 56 px tall.
 * Also shown while the login is being restored, so an offline start opens the app, not login.
 *
 * When the session is lost while in use (the server refused a refresh), the screen stays mounted
 * and a login sheet opens over it, prefilled with the account's phone, so what the farmer was
 * typing survives the new login.
 */
export default function ShellForAccount() {
  // A new account (switched here, logged in over a lost session, or in another tab) gets a fresh
  // frame and screens: nothing typed or loaded for the previous person may stay on screen.
  const userId = useSession().account?.userId;
  return <Shell key={userId ?? ""} />;
}

function Shell() {
  const { t } = useTranslation();
  const snapshot = useSession();
  const online = useOnline();
  const navigate = useNavigate();
  const location = useLocation();
  const everAuthenticated = useRef(false);
  if (snapshot.authenticated) {
    everAuthenticated.current = true;
  }
  const relogin = snapshot.lost && everAuthenticated.current;
  const userId = snapshot.account?.userId ?? "";

  // What waits in the outbox (requests filed, produce put up for sale offline) is sent once the
  // phone is back online, whichever screen is open (the clients are loaded only when something
  // waits). The page's own `online` event (useOnline) starts it: a browser's offline switch does
  // not reach the service worker.
  useEffect(() => {
    if (!online || !snapshot.authenticated) return;
    void sendOutbox(userId, (err) => errorMessage(t, err));
  }, [online, snapshot.authenticated, userId, t]);

  // The inbox, live while the app is open, signed in and online (the bell and 消息 read it).
  const inbox = useInboxFeed(snapshot.authenticated && online);

  if (!snapshot.authenticated && !snapshot.restoring && !relogin) {
    // Logged out, or the session was refused before this frame ever had it (the login page then
    // says whose and prefills it).
    return <Navigate to="/login" replace />;
  }
  // While restoring (start-up, or no network: the refresh is retried until the server answers)
  // the frame is shown with the remembered account: the farmer is still who they were. With no
  // network the screen is shown too (what needs the network says so there); online, it waits
  // the moment the refresh takes, so that it loads once, with a token. A lost session keeps its
  // screen, under the login sheet.
  const screenShown = snapshot.authenticated || !online || relogin;

  const tabs = [
    { to: "/me", label: t("nav.me"), icon: <UserOutline aria-hidden /> },
    { to: "/record", label: t("nav.record"), icon: <ContentOutline aria-hidden /> },
    { to: "/requests", label: t("nav.requests"), icon: <FileOutline aria-hidden /> },
    // The market: buyers and farmers (a buyer lands on search, a farmer on what she sells).
    ...(canBuy(snapshot.claims?.roles)
      ? [{ to: canSell(snapshot.claims?.roles) ? "/market/mine" : "/market", match: "/market", label: t("nav.market"), icon: <ShopbagOutline aria-hidden /> }]
      : []),
    { to: "/consents", label: t("nav.consents"), icon: <UserCircleOutline aria-hidden /> },
    { to: "/accounts", label: t("nav.accounts"), icon: <TeamOutline aria-hidden /> },
  ];
  return (
    <div className="shell">
      <header className="shell-header">
        <span className="shell-user" aria-live="polite">
          <UserOutline aria-hidden /> {snapshot.account?.displayName}
        </span>
        <Link to="/inbox" className="shell-bell" aria-label={t("inbox.bell", { count: inbox.unread })}>
          <BellOutline aria-hidden />
          {inbox.unread > 0 && <span className="badge" aria-hidden>{inbox.unread > 99 ? "99+" : inbox.unread}</span>}
        </Link>
        <LanguageSwitch />
      </header>
      <main className="shell-main">
        {screenShown ? (
          <Suspense fallback={<Loading />}>
            {/* Remounted when the login is restored, so a screen shown offline loads again with a token
                (not after a lost session's new login: that would throw away what was typed). */}
            <InboxContext.Provider value={inbox}>
              <Outlet key={snapshot.restoring ? "restoring" : "signed-in"} />
            </InboxContext.Provider>
          </Suspense>
        ) : (
          <Loading />
        )}
      </main>
      <nav className="tab-bar" aria-label={t("nav.main")}>
        {tabs.map((tab) => (
          <NavLink
            key={tab.to}
            to={tab.to}
            className={({ isActive }) => (isActive || ("match" in tab && location.pathname.startsWith(tab.match ?? tab.to)) ? "tab active" : "tab")}
          >
            {tab.icon}
            <span>{tab.label}</span>
          </NavLink>
        ))}
      </nav>
      <Popup
        visible={relogin}
        position="bottom"
        destroyOnClose
        bodyClassName="relogin-sheet"
        // The phone is filled in already: what is left to type is the code.
        afterShow={() => document.getElementById("relogin-code")?.focus()}
      >
        <section role="dialog" aria-modal="true" aria-labelledby="relogin-title">
          <h2 id="relogin-title">{t("login.sessionLostTitle")}</h2>
          <p>{t("login.sessionLostHint", { name: snapshot.account?.displayName ?? "" })}</p>
          <CodeLoginForm
            idPrefix="relogin"
            initialPhone={snapshot.account?.phoneNumber}
            onDone={(user) => {
              if (user.id !== snapshot.account?.userId) {
                // Someone else logged in: this frame is remounted for them (its key), from the start.
                navigate("/", { replace: true });
              }
            }}
          />
        </section>
      </Popup>
    </div>
  );
}
