import { useTranslation } from "react-i18next";
import { useOnline } from "../hooks/useOnline";

/** Says so when the phone has no network, so a failed action is not a mystery. */
export function OfflineBanner() {
  const { t } = useTranslation();
  const online = useOnline();
  if (online) {
    return null;
  }
  return (
    <div className="offline-banner" role="status">
      {t("app.offline")}
    </div>
  );
}
