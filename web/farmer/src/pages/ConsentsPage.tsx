import { newRequestId } from "@terrace/api";
import { IdentityService } from "@terrace/api/gen/terrace/identity/v1/identity_service_pb";
import { ConsentStatus, type Consent } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { Button, Checkbox, Dialog, Toast } from "antd-mobile";
import { AddOutline, CloseOutline } from "antd-mobile-icons";
import { useCallback, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { CONSENT_SCOPES } from "../consent";
import { errorMessage } from "../errors";
import { useFormat } from "../format";
import { session, useSession } from "../session";

const identity = session.client(IdentityService);

/** The words for a scope; an unknown scope (granted elsewhere) shows as its string. */
export function useScopeLabel() {
  const { t } = useTranslation();
  return (scope: string) => {
    switch (scope) {
      case CONSENT_SCOPES[0]:
        return t("consent.scope.listings");
      case CONSENT_SCOPES[1]:
        return t("consent.scope.requests");
      default:
        return scope;
    }
  };
}

/**
 * The consents this villager gave (ListConsents with grantor = me), newest first, each with its
 * helper, what they may do and until when; an active or pending one can be withdrawn.
 */
export default function ConsentsPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const scopeLabel = useScopeLabel();
  const snapshot = useSession();
  const userId = snapshot.account?.userId ?? "";
  const [consents, setConsents] = useState<Consent[]>();
  const [includeInactive, setIncludeInactive] = useState(false);
  const [problem, setProblem] = useState<string>();

  const load = useCallback(async () => {
    try {
      const response = await identity.listConsents({
        page: { pageSize: 100 },
        grantorUserId: userId,
        includeInactive,
      });
      setConsents(response.consents);
      setProblem(undefined);
    } catch (err) {
      setProblem(errorMessage(t, err));
    }
  }, [userId, includeInactive, t]);

  useEffect(() => {
    void load();
  }, [load]);

  async function withdraw(consent: Consent) {
    const ok = await Dialog.confirm({
      content: t("consent.withdrawConfirm"),
      confirmText: t("consent.withdraw"),
      cancelText: t("profile.cancel"),
    });
    if (!ok) return;
    try {
      await identity.withdrawConsent({ requestId: newRequestId(), consentId: consent.id, reason: "" });
      Toast.show({ icon: "success", content: t("consent.withdrawn") });
      await load();
    } catch (err) {
      setProblem(errorMessage(t, err));
    }
  }

  return (
    <div className="page">
      <h1>{t("consent.title")}</h1>
      <p className="muted">{t("consent.intro")}</p>
      <Link to="/consents/new" className="adm-button adm-button-primary adm-button-block adm-button-large link-button">
        <AddOutline aria-hidden /> {t("consent.add")}
      </Link>
      <Checkbox checked={includeInactive} onChange={setIncludeInactive} className="inactive-toggle">
        {t("consent.includeInactive")}
      </Checkbox>
      {problem && (
        <p className="problem" role="alert">
          {problem}
        </p>
      )}
      {consents && consents.length === 0 && <p className="empty">{t("consent.empty")}</p>}
      <ul className="cards">
        {consents?.map((consent) => {
          const active =
            consent.status === ConsentStatus.ACTIVE || consent.status === ConsentStatus.PENDING;
          return (
            <li key={consent.id} className="card">
              <p>
                <strong>{t("consent.helper")}</strong>{" "}
                <code className="account-id">{consent.helperUserId}</code>
              </p>
              <p>
                <span className={`status status-${ConsentStatus[consent.status]?.toLowerCase()}`}>
                  {t(`consent.status.CONSENT_STATUS_${ConsentStatus[consent.status]}` as "consent.status.CONSENT_STATUS_ACTIVE")}
                </span>{" "}
                {t("consent.until", { date: format.date(consent.endTime) })}
              </p>
              <ul className="scopes">
                {consent.scopes.map((scope) => (
                  <li key={scope}>{scopeLabel(scope)}</li>
                ))}
              </ul>
              {consent.note && <p className="muted">{consent.note}</p>}
              {active && (
                <Button color="danger" fill="outline" onClick={() => void withdraw(consent)}>
                  <CloseOutline aria-hidden /> {t("consent.withdraw")}
                </Button>
              )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}
