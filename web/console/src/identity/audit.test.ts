import { create } from "@bufbuild/protobuf";
import { ActorKind, ActorSchema } from "@terrace/api/gen/terrace/common/v1/actor_pb";
import { describe, expect, it } from "vitest";
import { actorLabel, prettyDetails } from "./audit";

describe("actorLabel", () => {
  it("names people, helpers, agencies and components", () => {
    expect(actorLabel(create(ActorSchema, { kind: ActorKind.USER, userId: "u1", displayName: "王芳" }))).toBe("王芳");
    expect(actorLabel(create(ActorSchema, { kind: ActorKind.USER, userId: "u1" }))).toBe("u1");
    expect(
      actorLabel(create(ActorSchema, { kind: ActorKind.USER, displayName: "帮办", onBehalfOfUserId: "v1" })),
    ).toBe("帮办 → v1");
    expect(actorLabel(create(ActorSchema, { kind: ActorKind.AGENCY, agencyClientId: "a1" }))).toBe("a1");
    expect(actorLabel(create(ActorSchema, { kind: ActorKind.SYSTEM, systemComponent: "identity" }))).toBe("identity");
    expect(actorLabel(undefined)).toBe("");
  });
});

describe("prettyDetails", () => {
  it("indents JSON and keeps anything else", () => {
    expect(prettyDetails('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyDetails("not json")).toBe("not json");
  });
});
