import type { InboxItem } from "@terrace/api/gen/terrace/notify/v1/notify_pb";

/**
 * Where an item's link leads in the console (`terrace://console/governance/requests/<id>` →
 * `/governance/requests/<id>`); undefined for a link of the farmers' app or elsewhere.
 */
export function consolePath(item: Pick<InboxItem, "link">): string | undefined {
  const match = /^terrace:\/\/console(\/[\w/-]+)$/.exec(item.link);
  return match?.[1];
}
