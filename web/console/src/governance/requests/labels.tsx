import { RequestChannel, RequestPriority, ServiceRequestStatus } from "@terrace/api/gen/terrace/governance/v1/service_requests_pb";
import { Tag } from "antd";
import type { TFunction } from "i18next";
import { useTranslation } from "react-i18next";

export function requestStatusLabel(t: TFunction, status: ServiceRequestStatus): string {
  return t(`requests.status.${ServiceRequestStatus[status] ?? "UNSPECIFIED"}` as "requests.status.SUBMITTED");
}

export function priorityLabel(t: TFunction, priority: RequestPriority): string {
  return t(`requests.priorities.${RequestPriority[priority] ?? "UNSPECIFIED"}` as "requests.priorities.LOW");
}

export function channelLabel(t: TFunction, channel: RequestChannel): string {
  return t(`requests.channels.${RequestChannel[channel] ?? "UNSPECIFIED"}` as "requests.channels.APP");
}

/**
 * A status as a tag: what waits on an official in blue, resolved and closed in green, rejected
 * in red, the rest grey (antd's gold and orange tags fall under WCAG AA on their background).
 */
export function StatusTag({ status }: { status: ServiceRequestStatus }) {
  const { t } = useTranslation();
  const color =
    status === ServiceRequestStatus.SUBMITTED || status === ServiceRequestStatus.REOPENED
      ? "blue"
      : status === ServiceRequestStatus.RESOLVED || status === ServiceRequestStatus.CLOSED
        ? "green"
        : status === ServiceRequestStatus.REJECTED
          ? "red"
          : undefined;
  return <Tag color={color}>{requestStatusLabel(t, status)}</Tag>;
}

export function PriorityTag({ priority }: { priority: RequestPriority }) {
  const { t } = useTranslation();
  if (priority === RequestPriority.UNSPECIFIED || priority === RequestPriority.NORMAL) return <span>{priorityLabel(t, priority)}</span>;
  return <Tag color={priority === RequestPriority.URGENT || priority === RequestPriority.HIGH ? "red" : undefined}>{priorityLabel(t, priority)}</Tag>;
}
