import { Button } from "antd-mobile";
import { useTranslation } from "react-i18next";
import { useRegisterSW } from "virtual:pwa-register/react";

/**
 * Registers the service worker and, when a new version of the app has been downloaded and is
 * waiting, offers to reload into it. Never reloads by itself: the farmer may be typing.
 */
export function UpdatePrompt() {
  const { t } = useTranslation();
  const {
    needRefresh: [needRefresh, setNeedRefresh],
    offlineReady: [offlineReady, setOfflineReady],
    updateServiceWorker,
  } = useRegisterSW();

  if (!needRefresh && !offlineReady) {
    return null;
  }
  return (
    <div className="update-prompt" role="alertdialog" aria-labelledby="update-prompt-text">
      <p id="update-prompt-text">{needRefresh ? t("app.updateReady") : t("app.offlineReady")}</p>
      <div className="update-prompt-actions">
        {needRefresh && (
          <Button color="primary" onClick={() => void updateServiceWorker(true)}>
            {t("app.updateReload")}
          </Button>
        )}
        <Button
          onClick={() => {
            setNeedRefresh(false);
            setOfflineReady(false);
          }}
        >
          {needRefresh ? t("app.updateLater") : t("app.close")}
        </Button>
      </div>
    </div>
  );
}
