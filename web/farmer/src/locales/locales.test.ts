import { describe, expect, it } from "vitest";
import consoleEn from "../../../console/src/locales/en";
import consoleZhCN from "../../../console/src/locales/zh-CN";
import en from "./en";
import zhCN from "./zh-CN";

/** Every leaf key path of a nested message object, e.g. "login.phone". */
function keys(messages: object, prefix = ""): string[] {
  return Object.entries(messages).flatMap(([key, value]) =>
    typeof value === "object" && value !== null ? keys(value, `${prefix}${key}.`) : [`${prefix}${key}`],
  );
}

/** Leaf values that are empty strings, or interpolations ({{x}}) missing in the other language. */
function problems(a: object, b: object): string[] {
  const found: string[] = [];
  const get = (messages: object, path: string) =>
    path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)?.[key], messages);
  for (const path of keys(a)) {
    const va = String(get(a, path));
    const vb = String(get(b, path) ?? "");
    if (va.trim() === "" || vb.trim() === "") found.push(`${path}: empty`);
    const vars = (s: string) => [...s.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();
    if (vars(va).join() !== vars(vb).join()) found.push(`${path}: {{…}} differ`);
  }
  return found;
}

// The type `typeof zhCN` on en catches a missing key at build time; this also catches extra keys,
// empty texts and a placeholder the translation lost, for both web apps.
describe.each([
  ["farmer", zhCN, en],
  ["console", consoleZhCN, consoleEn],
])("%s messages", (_app, zh, english) => {
  it("zh-CN and en have the same keys", () => {
    expect(keys(english).sort()).toEqual(keys(zh).sort());
  });

  it("no text is empty and both languages use the same placeholders", () => {
    expect(problems(zh, english)).toEqual([]);
  });
});
