import { Button, Toast } from "antd-mobile";
import { CheckCircleFill, UserAddOutline, UserOutline } from "antd-mobile-icons";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router";
import { displayPhone } from "../phone";
import { session, useSession } from "../session";

/**
 * A family's shared phone: every account that logged in here (names and numbers only; the
 * refresh cookies are the server's, per account). Switching refreshes with that account's cookie,
 * no new code; adding one leaves the current account logged in for a later switch back.
 */
export default function AccountsPage() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const snapshot = useSession();
  const [switching, setSwitching] = useState<string>();
  const accounts = session.accounts();
  const currentId = snapshot.account?.userId;

  async function switchTo(userId: string, name: string) {
    setSwitching(userId);
    try {
      // Restoring (no network yet): the shell shows that account and keeps trying by itself.
      if ((await session.switchAccount(userId)) || session.getSnapshot().restoring) {
        navigate("/me");
      } else {
        Toast.show({ content: t("accounts.switchFailed", { name }) });
        navigate("/login");
      }
    } finally {
      setSwitching(undefined);
    }
  }

  function addAccount() {
    session.leaveAccount();
    navigate("/login");
  }

  return (
    <div className="page">
      <h1>{t("accounts.title")}</h1>
      <p className="muted">{t("accounts.intro")}</p>
      <ul className="cards">
        {accounts.map((account) => (
          <li key={account.userId} className="card account">
            <p>
              <UserOutline aria-hidden /> <strong>{account.displayName}</strong>
              <br />
              <span className="muted">{displayPhone(account.phoneNumber)}</span>
            </p>
            {account.userId === currentId ? (
              <span className="status status-active">
                <CheckCircleFill aria-hidden /> {t("accounts.current")}
              </span>
            ) : (
              <Button
                color="primary"
                fill="outline"
                loading={switching === account.userId}
                onClick={() => void switchTo(account.userId, account.displayName)}
              >
                {t("accounts.switchTo", { name: account.displayName })}
              </Button>
            )}
          </li>
        ))}
      </ul>
      {accounts.length <= 1 && <p className="empty">{t("accounts.empty")}</p>}
      <Button block size="large" onClick={addAccount}>
        <UserAddOutline aria-hidden /> {t("accounts.add")}
      </Button>
    </div>
  );
}
