import { NotifyService } from "@terrace/api/gen/terrace/notify/v1/notify_service_pb";
import { session } from "../session";

/** The notification screens talk to the notify service only. */
export const notify = session.client(NotifyService);
