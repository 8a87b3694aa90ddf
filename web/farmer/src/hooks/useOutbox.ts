import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { errorMessage } from "../errors";
import type { OutboxItem } from "../outbox";
import { OUTBOX_CHANGED, outbox, sendOutbox } from "../sendOutbox";
import { useOnline } from "./useOnline";

/**
 * The account's outbox items of one kind, kept current (re-read after every change of the
 * outbox), and a round of sending whenever the phone is (back) online.
 */
export function useOutbox(userId: string, kind: string): OutboxItem[] {
  const online = useOnline();
  const { t } = useTranslation();
  const [items, setItems] = useState<OutboxItem[]>([]);
  useEffect(() => {
    let live = true;
    const load = () =>
      void outbox
        .of(userId, kind)
        .then((found) => live && setItems(found))
        .catch(() => live && setItems([]));
    load();
    window.addEventListener(OUTBOX_CHANGED, load);
    return () => {
      live = false;
      window.removeEventListener(OUTBOX_CHANGED, load);
    };
  }, [userId, kind]);
  useEffect(() => {
    if (online && userId) void sendOutbox(userId, (err) => errorMessage(t, err));
  }, [online, userId, t]);
  return items;
}
