import { newRequestId } from "@terrace/api";
import type { Preferences } from "@terrace/api/gen/terrace/notify/v1/notify_pb";
import { Button, List, Switch } from "antd-mobile";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Loading } from "../App";
import { errorMessage } from "../errors";
import { notify } from "../hooks/useInboxFeed";
import { changesOf, draftOf, type SettingsDraft } from "../notifySettings";

/**
 * 提醒设置: whether orders and requests also come by text message, and quiet nights (texts wait
 * until morning; codes never wait). Everything else keeps the platform's defaults.
 */
export default function NotifySettingsPage() {
  const { t } = useTranslation();
  const [server, setServer] = useState<Preferences>();
  const [draft, setDraft] = useState<SettingsDraft>();
  const [problem, setProblem] = useState<string>();
  const [saved, setSaved] = useState(false);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    notify
      .getPreferences({})
      .then((answer) => {
        if (!answer.preferences) return;
        setServer(answer.preferences);
        setDraft(draftOf(answer.preferences));
      })
      .catch((err: unknown) => setProblem(errorMessage(t, err)));
  }, [t]);

  if (!server || !draft) return problem ? <p role="alert">{problem}</p> : <Loading />;
  const change = (next: Partial<SettingsDraft>) => {
    setSaved(false);
    setDraft({ ...draft, ...next });
  };
  const save = async () => {
    const changes = changesOf(server, draft);
    if (!changes) {
      setProblem(t("settings.badTime"));
      return;
    }
    setSaving(true);
    setProblem(undefined);
    try {
      const answer = await notify.updatePreferences({
        requestId: newRequestId(),
        preferences: { channelSettings: changes.channelSettings, quietHours: changes.quietHours },
        updateMask: { paths: changes.paths },
      });
      if (answer.preferences) {
        setServer(answer.preferences);
        setDraft(draftOf(answer.preferences));
      }
      setSaved(true);
    } catch (err) {
      setProblem(errorMessage(t, err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <div className="page">
      <h1>{t("settings.title")}</h1>
      <List header={t("settings.texts")}>
        <List.Item
          extra={<Switch aria-label={t("settings.ordersBySms")} checked={draft.ordersBySms} onChange={(on) => change({ ordersBySms: on })} />}
        >
          {t("settings.ordersBySms")}
        </List.Item>
        <List.Item
          extra={<Switch aria-label={t("settings.requestsBySms")} checked={draft.requestsBySms} onChange={(on) => change({ requestsBySms: on })} />}
        >
          {t("settings.requestsBySms")}
        </List.Item>
      </List>
      <List header={t("settings.quiet")}>
        <List.Item
          description={t("settings.quietHelp")}
          extra={<Switch aria-label={t("settings.quietOn")} checked={draft.quiet} onChange={(on) => change({ quiet: on })} />}
        >
          {t("settings.quietOn")}
        </List.Item>
        {draft.quiet && (
          <List.Item>
            <label className="time-range">
              {t("settings.from")}{" "}
              <input type="time" value={draft.quietStart} onChange={(e) => change({ quietStart: e.target.value })} />
            </label>{" "}
            <label className="time-range">
              {t("settings.until")}{" "}
              <input type="time" value={draft.quietEnd} onChange={(e) => change({ quietEnd: e.target.value })} />
            </label>
          </List.Item>
        )}
      </List>
      {problem && (
        <p className="field-error" role="alert">
          {problem}
        </p>
      )}
      <div className="actions">
        <Button color="primary" loading={saving} onClick={() => void save()}>
          {t("settings.save")}
        </Button>
      </div>
      {saved && (
        <p className="muted" role="status">
          {t("settings.saved")}
        </p>
      )}
    </div>
  );
}
