import { Button } from "antd-mobile";
import { useEffect } from "react";
import { useTranslation } from "react-i18next";
import { useRegisterSW } from "virtual:pwa-register/react";

/**
 * Registers the service worker. When a new version of the app has been downloaded and is
 * waiting, offers to reload into it; never reloads by itself, since the farmer may be typing.
 * The first time the app is saved for offline use it says so briefly, without blocking anything.
 */
export function UpdatePrompt() {
  const { t } = useTranslation();
  const {
    needRefresh: [needRefresh, setNeedRefresh],
    offlineReady: [offlineReady, setOfflineReady],
    updateServiceWorker,
  } = useRegisterSW();

  useEffect(() => {
    if (!offlineReady) return;
    const timer = setTimeout(() => setOfflineReady(false), 6000);
    return () => clearTimeout(timer);
  }, [offlineReady, setOfflineReady]);

  if (needRefresh) {
    return (
      <div className="update-prompt" role="alertdialog" aria-labelledby="update-prompt-text">
        <p id="update-prompt-text">{t("app.updateReady")}</p>
        <div className="update-prompt-actions">
          <Button color="primary" onClick={() => void updateServiceWorker(true)}>
            {t("app.updateReload")}
          </Button>
          <Button onClick={() => setNeedRefresh(false)}>{t("app.updateLater")}</Button>
        </div>
      </div>
    );
  }
  if (offlineReady) {
    return (
      <p className="offline-ready" role="status">
        {t("app.offlineReady")}
      </p>
    );
  }
  return null;
}
