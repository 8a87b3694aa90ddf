import { useEffect, useState } from "react";
import { governance } from "./client";

/** Names already asked for, per resident id (one GetResident per id per page load). */
const names = new Map<string, Promise<string | undefined>>();

function lookUp(residentId: string): Promise<string | undefined> {
  let name = names.get(residentId);
  if (!name) {
    name = governance.getResident({ residentId }).then(
      (response) => response.resident?.name,
      () => {
        names.delete(residentId); // not remembered: the next render asks again
        return undefined;
      },
    );
    names.set(residentId, name);
  }
  return name;
}

/** Forgets a resident's name (after it was changed here). */
export function forgetResidentName(residentId: string) {
  names.delete(residentId);
}

/**
 * A resident's name where a household carries only its head's id (ListHouseholds); nothing
 * while loading or when the id is empty.
 */
export function ResidentName({ residentId }: { residentId: string }) {
  const [name, setName] = useState<string>();
  useEffect(() => {
    let live = true;
    setName(undefined);
    if (residentId) void lookUp(residentId).then((n) => live && setName(n));
    return () => {
      live = false;
    };
  }, [residentId]);
  return <>{name ?? ""}</>;
}
