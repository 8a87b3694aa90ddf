import { Button, Card, Divider, Flex } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Navigate, useNavigate, useSearchParams } from "react-router";
import { LanguageSwitch } from "../LanguageSwitch";
import { session, useSession } from "../session";
import { LoginForm } from "./LoginForm";

/** Where to go after login: a path inside the console, never another site. */
function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export default function LoginPage() {
  const { t } = useTranslation();
  const snapshot = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const accounts = session.accounts();
  const [phone, setPhone] = useState(snapshot.account?.phoneNumber ?? accounts[0]?.phoneNumber);
  // Remounts the form when a remembered account is picked, so it starts with that phone.
  const [formKey, setFormKey] = useState(0);

  if (snapshot.authenticated) {
    return <Navigate to={next} replace />;
  }

  async function continueAs(userId: string, phoneNumber: string) {
    // Restoring (the server unreachable for now): the shell waits for it, retrying by itself.
    if ((await session.switchAccount(userId)) || session.getSnapshot().restoring) {
      navigate(next, { replace: true });
    } else {
      setPhone(phoneNumber);
      setFormKey((k) => k + 1);
    }
  }

  return (
    <Flex vertical align="center" style={{ minHeight: "100vh", padding: "48px 16px", background: "#f0f2f5" }}>
      <Flex justify="flex-end" style={{ width: "100%", maxWidth: 420, marginBottom: 16 }}>
        <LanguageSwitch />
      </Flex>
      <main style={{ width: "100%", maxWidth: 420 }}>
        <Card>
          <h1 style={{ fontSize: 24, marginTop: 0 }}>
            {t("app.name")} · {t("app.console")}
          </h1>
          <h2 style={{ fontSize: 18 }}>{t("login.title")}</h2>
          <LoginForm key={formKey} initialPhone={phone} onDone={() => navigate(next, { replace: true })} />
          {accounts.length > 0 && (
            <>
              <Divider plain>{t("login.remembered")}</Divider>
              <ul style={{ listStyle: "none", padding: 0, margin: 0 }}>
                {accounts.map((account) => (
                  <li key={account.userId}>
                    <Button
                      type="link"
                      onClick={() => void continueAs(account.userId, account.phoneNumber)}
                      loading={snapshot.restoring && snapshot.account?.userId === account.userId}
                    >
                      {t("login.continueAs", { name: account.displayName })}
                    </Button>
                    <span style={{ color: "rgba(0, 0, 0, 0.65)" }}>{account.phoneNumber}</span>
                  </li>
                ))}
              </ul>
            </>
          )}
        </Card>
      </main>
    </Flex>
  );
}
