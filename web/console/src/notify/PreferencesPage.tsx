import { Channel, NotificationCategory, type Preferences } from "@terrace/api/gen/terrace/notify/v1/notify_pb";
import { minutesOfTime, timeOfMinutes } from "@terrace/api/preferences";
import { Alert, App, Button, Checkbox, Flex, Input, Space, Spin, Switch, Table, Typography, type TableColumnsType } from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { useRequestId } from "../components/intent";
import { errorMessage } from "../errors";
import { notify } from "./client";
import { categoryLabel, channelLabel } from "./labels";

/** The channels a person sets per category (webhooks are an agency's). */
const CHANNELS = [Channel.IN_APP, Channel.SMS, Channel.EMAIL];

/**
 * 提醒设置: which categories reach the official on which channel, and quiet hours that hold texts
 * and mails (never the inbox, never codes). Security notices cannot be turned off; the server
 * says so if asked.
 */
export default function PreferencesPage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [saved, setSaved] = useState<Preferences>();
  const [settings, setSettings] = useState<Map<string, boolean>>(new Map());
  const [quiet, setQuiet] = useState({ enabled: false, start: "22:00", end: "07:00" });
  const [problem, setProblem] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const requestId = useRequestId();

  function show(preferences: Preferences) {
    setSaved(preferences);
    setSettings(new Map(preferences.channelSettings.map((s) => [`${s.category}:${s.channel}`, s.enabled])));
    setQuiet({
      enabled: preferences.quietHours?.enabled ?? false,
      start: timeOfMinutes(preferences.quietHours?.startMinute ?? 22 * 60),
      end: timeOfMinutes(preferences.quietHours?.endMinute ?? 7 * 60),
    });
  }

  useEffect(() => {
    notify.getPreferences({}).then((answer) => answer.preferences && show(answer.preferences), setProblem);
  }, []);

  async function save() {
    const start = minutesOfTime(quiet.start);
    const end = minutesOfTime(quiet.end);
    if (start === undefined || end === undefined) {
      setProblem(new Error(t("preferences.badTime")));
      return;
    }
    setBusy(true);
    setProblem(undefined);
    try {
      const channelSettings = [...settings]
        .map(([key, enabled]) => {
          const [category, channel] = key.split(":").map(Number);
          return { category: category as NotificationCategory, channel: channel as Channel, enabled };
        })
        .filter((s) => CHANNELS.includes(s.channel));
      const answer = await notify.updatePreferences({
        requestId: requestId.get(),
        preferences: { channelSettings, quietHours: { enabled: quiet.enabled, startMinute: start, endMinute: end } },
        updateMask: { paths: ["channel_settings", "quiet_hours"] },
      });
      requestId.answered();
      if (answer.preferences) show(answer.preferences);
      void message.success(t("preferences.saved"));
    } catch (err) {
      requestId.answered(err);
      setProblem(err);
    } finally {
      setBusy(false);
    }
  }

  if (!saved) return problem ? <Alert type="error" showIcon role="alert" message={errorMessage(t, problem)} /> : <Spin />;
  const categories = [...new Set(saved.channelSettings.map((s) => s.category))];
  const columns: TableColumnsType<NotificationCategory> = [
    { title: t("notify.categoryTitle"), key: "category", render: (_, c) => categoryLabel(t, c) },
    ...CHANNELS.map((channel) => ({
      title: channelLabel(t, channel),
      key: String(channel),
      render: (_: unknown, category: NotificationCategory) => {
        const key = `${category}:${channel}`;
        if (!settings.has(key)) return "—";
        return (
          <Checkbox
            aria-label={t("preferences.setting", { category: categoryLabel(t, category), channel: channelLabel(t, channel) })}
            checked={settings.get(key)}
            disabled={category === NotificationCategory.SECURITY}
            onChange={(e) => setSettings(new Map(settings).set(key, e.target.checked))}
          />
        );
      },
    })),
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%", maxWidth: 880 }}>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("preferences.title")}
      </Typography.Title>
      {problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, problem)} />}
      <Table<NotificationCategory> rowKey={(c) => String(c)} columns={columns} dataSource={categories} pagination={false} size="small" />
      <Flex gap={12} align="center" wrap>
        <Switch
          aria-label={t("preferences.quiet")}
          checked={quiet.enabled}
          onChange={(enabled) => setQuiet({ ...quiet, enabled })}
        />
        <span>{t("preferences.quiet")}</span>
        <Input
          aria-label={t("preferences.quietStart")}
          style={{ width: 90 }}
          value={quiet.start}
          onChange={(e) => setQuiet({ ...quiet, start: e.target.value })}
        />
        <span>–</span>
        <Input
          aria-label={t("preferences.quietEnd")}
          style={{ width: 90 }}
          value={quiet.end}
          onChange={(e) => setQuiet({ ...quiet, end: e.target.value })}
        />
      </Flex>
      <Typography.Text type="secondary">{t("preferences.quietExplain")}</Typography.Text>
      <Button type="primary" loading={busy} onClick={() => void save()} style={{ alignSelf: "flex-start" }}>
        {t("preferences.save")}
      </Button>
    </Space>
  );
}
