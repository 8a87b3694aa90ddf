import { ActorKind, type Actor } from "@terrace/api/gen/terrace/common/v1/actor_pb";

/** Who did it, in a line: a person's name (and for whom), an agency, or a system component. */
export function actorLabel(actor: Actor | undefined): string {
  if (!actor) {
    return "";
  }
  switch (actor.kind) {
    case ActorKind.AGENCY:
      return actor.displayName || actor.agencyClientId;
    case ActorKind.SYSTEM:
      return actor.systemComponent || actor.displayName;
    default: {
      const who = actor.displayName || actor.userId;
      return actor.onBehalfOfUserId ? `${who} → ${actor.onBehalfOfUserId}` : who;
    }
  }
}

/** details_json indented for reading; shown as sent when it is not JSON. */
export function prettyDetails(json: string): string {
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}
