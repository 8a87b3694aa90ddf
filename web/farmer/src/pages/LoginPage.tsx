import { Button } from "antd-mobile";
import { PhoneFill, UserAddOutline, UserOutline } from "antd-mobile-icons";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, Navigate, useNavigate } from "react-router";
import { CodeLoginForm } from "../components/CodeLoginForm";
import { LanguageSwitch } from "../components/LanguageSwitch";
import { displayPhone } from "../phone";
import { session, useSession } from "../session";

/**
 * Login with a one-time code (CodeLoginForm). Below it, the accounts this phone remembers: one
 * tap continues as that person with their refresh cookie, no code needed.
 */
export default function LoginPage() {
  const { t } = useTranslation();
  const snapshot = useSession();
  const navigate = useNavigate();
  const accounts = session.accounts();
  const lostAccount = snapshot.lost ? snapshot.account : undefined;
  // The form starts with the account whose login was lost or the last one used; a remembered
  // account whose cookie was refused puts its number in (a new form, so no stale code stays).
  const [formPhone, setFormPhone] = useState(() => snapshot.account?.phoneNumber ?? accounts[0]?.phoneNumber);

  if (snapshot.authenticated) {
    return <Navigate to="/" replace />;
  }

  async function continueAs(userId: string, phoneNumber: string) {
    // Restoring (no network yet): the shell shows that account and keeps trying by itself.
    if ((await session.switchAccount(userId)) || session.getSnapshot().restoring) {
      navigate("/", { replace: true });
    } else {
      setFormPhone(phoneNumber);
    }
  }

  return (
    <div className="page login-page">
      <header className="login-header">
        <img src={`${import.meta.env.BASE_URL}icon.svg`} alt="" width={56} height={56} />
        <div>
          <h1>{t("app.fullName")}</h1>
          <p className="muted">{t("login.subtitle")}</p>
        </div>
      </header>
      <LanguageSwitch />
      <main>
        <h2>{t("login.title")}</h2>
        {lostAccount && (
          <p className="notice" role="status">
            {t("login.sessionLost", { name: lostAccount.displayName })}
          </p>
        )}
        <CodeLoginForm key={formPhone} initialPhone={formPhone} onDone={() => navigate("/", { replace: true })} />
        <p className="signup-offer">
          {t("login.noAccount")}
          <Link to="/signup" className="link-button">
            <UserAddOutline aria-hidden /> {t("login.signUp")}
          </Link>
        </p>
        {accounts.length > 0 && (
          <section aria-labelledby="remembered-title" className="remembered">
            <h2 id="remembered-title">{t("login.remembered")}</h2>
            <ul>
              {accounts.map((account) => (
                <li key={account.userId}>
                  <Button
                    block
                    size="large"
                    onClick={() => void continueAs(account.userId, account.phoneNumber)}
                    loading={snapshot.restoring && snapshot.account?.userId === account.userId}
                  >
                    <UserOutline aria-hidden /> {t("login.continueAs", { name: account.displayName })}
                    <span className="muted phone-line">
                      <PhoneFill aria-hidden /> {displayPhone(account.phoneNumber)}
                    </span>
                  </Button>
                </li>
              ))}
            </ul>
          </section>
        )}
      </main>
    </div>
  );
}
