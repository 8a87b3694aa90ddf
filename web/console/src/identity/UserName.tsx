import { IdentityService } from "@terrace/api/gen/terrace/identity/v1/identity_service_pb";
import { Typography } from "antd";
import { useEffect, useState } from "react";
import { caches, session } from "../session";

const identity = session.client(IdentityService);

/**
 * Names already asked for, per user id (one GetUser per id per page load; refusals remembered).
 * What GetUser answers depends on who asks, so they are forgotten when the account changes.
 */
const names = caches.map<string, Promise<string | undefined>>();

function lookUp(userId: string): Promise<string | undefined> {
  let name = names.get(userId);
  if (!name) {
    name = identity.getUser({ userId }).then(
      (response) => response.user?.displayName,
      () => undefined, // NOT_FOUND for users outside the caller's scope: the id is shown
    );
    names.set(userId, name);
  }
  return name;
}

/**
 * A user's display name where lists carry only ids (consents, grants, audit records), with the
 * id copyable beside it; just the id while loading or when the caller may not see the user.
 */
export function UserName({ userId }: { userId: string }) {
  const [name, setName] = useState<string>();
  useEffect(() => {
    let live = true;
    setName(undefined);
    if (userId) {
      void lookUp(userId).then((n) => live && setName(n));
    }
    return () => {
      live = false;
    };
  }, [userId]);
  if (!userId) {
    return null;
  }
  return (
    <span>
      {name && <span style={{ marginInlineEnd: 6 }}>{name}</span>}
      <Typography.Text type="secondary" copyable={{ text: userId }} style={{ fontSize: 12 }}>
        {userId.slice(-8)}
      </Typography.Text>
    </span>
  );
}
