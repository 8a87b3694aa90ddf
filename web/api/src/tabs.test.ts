import { describe, expect, it } from "vitest";
import { parseTabMessage, tabReaction } from "./tabs";

const A = "01936f3e-0000-7000-8000-00000000000a";
const B = "01936f3e-0000-7000-8000-00000000000b";
const rememberedAB = (id: string) => id === A || id === B;

describe("parseTabMessage", () => {
  it("takes logout and switch with a user id", () => {
    expect(parseTabMessage({ type: "logout", userId: A })).toEqual({ type: "logout", userId: A });
    expect(parseTabMessage({ type: "switch", userId: B, extra: 1 })).toEqual({ type: "switch", userId: B });
  });

  it("ignores anything else", () => {
    for (const data of [undefined, null, "logout", 1, {}, { type: "logout" }, { type: "logout", userId: "" }, { type: "login", userId: A }, { type: "switch", userId: 7 }]) {
      expect(parseTabMessage(data)).toBeUndefined();
    }
  });
});

describe("tabReaction", () => {
  it("signs this tab out when its own account logged out in another tab", () => {
    expect(tabReaction({ type: "logout", userId: A }, { userId: A, lost: false }, rememberedAB)).toEqual({ type: "sign-out" });
    expect(tabReaction({ type: "logout", userId: A }, { userId: A, lost: true }, rememberedAB)).toEqual({ type: "sign-out" });
  });

  it("does nothing when another account logged out, or this tab is logged out", () => {
    expect(tabReaction({ type: "logout", userId: B }, { userId: A, lost: false }, rememberedAB)).toBeUndefined();
    expect(tabReaction({ type: "logout", userId: A }, undefined, rememberedAB)).toBeUndefined();
  });

  it("switches to the account another tab switched to, if this device remembers it", () => {
    expect(tabReaction({ type: "switch", userId: B }, { userId: A, lost: false }, rememberedAB)).toEqual({ type: "switch", userId: B });
    expect(tabReaction({ type: "switch", userId: B }, undefined, rememberedAB)).toEqual({ type: "switch", userId: B });
    expect(tabReaction({ type: "switch", userId: B }, { userId: A, lost: false }, (id) => id === A)).toBeUndefined();
  });

  it("stays put on a switch to its own account, unless its session was lost here", () => {
    expect(tabReaction({ type: "switch", userId: A }, { userId: A, lost: false }, rememberedAB)).toBeUndefined();
    expect(tabReaction({ type: "switch", userId: A }, { userId: A, lost: true }, rememberedAB)).toEqual({ type: "switch", userId: A });
  });

  it("ignores malformed messages", () => {
    expect(tabReaction({ type: "switch" }, { userId: A, lost: false }, rememberedAB)).toBeUndefined();
  });
});
