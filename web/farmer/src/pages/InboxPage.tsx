import { Button } from "antd-mobile";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";
import { Loading } from "../App";
import { errorMessage } from "../errors";
import { useFormat } from "../format";
import { useInbox } from "../hooks/useInboxFeed";
import { linkPath } from "../inbox";
import { useState } from "react";

/**
 * 消息: what the platform told this person (a new order, an answer to one…), newest first, live
 * (the frame keeps the stream). An unread item says so; opening one marks it read and goes to
 * its page; all can be marked read at once.
 */
export default function InboxPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const navigate = useNavigate();
  const inbox = useInbox();
  const [problem, setProblem] = useState<string>();

  const mark = async (ids: string[]) => {
    setProblem(undefined);
    try {
      await inbox.markRead(ids);
    } catch (err) {
      setProblem(errorMessage(t, err));
    }
  };

  return (
    <div className="page">
      <h1>{t("inbox.title")}</h1>
      <p>
        <Link to="/inbox/settings">{t("settings.title")}</Link>
      </p>
      <p className="muted" aria-live="polite">
        {t("inbox.unread", { count: inbox.unread })}
      </p>
      {inbox.unread > 0 && <Button onClick={() => void mark([])}>{t("inbox.markAll")}</Button>}
      {problem && (
        <p className="field-error" role="alert">
          {problem}
        </p>
      )}
      {!inbox.loaded ? (
        <Loading />
      ) : inbox.items.length === 0 ? (
        <p className="muted">{t("inbox.empty")}</p>
      ) : (
        <ul className="cards" aria-label={t("inbox.title")}>
          {inbox.items.map((item) => {
            const path = linkPath(item.link);
            const unread = !item.readTime;
            return (
              <li key={item.id} className={unread ? "card inbox-item unread" : "card inbox-item"}>
                <p>
                  <strong>{item.title}</strong> {unread && <span className="status">{t("inbox.new")}</span>}
                </p>
                <p className="inbox-body">{item.body}</p>
                <p className="muted">{format.dateTime(item.createTime)}</p>
                <div className="actions">
                  {path && (
                    <Button
                      color="primary"
                      onClick={() => {
                        if (unread) void mark([item.id]);
                        void navigate(path);
                      }}
                    >
                      {t("inbox.open")}
                    </Button>
                  )}
                  {unread && !path && <Button onClick={() => void mark([item.id])}>{t("inbox.markRead")}</Button>}
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
