import { describe, expect, it } from "vitest";
import en from "./en";
import zhCN from "./zh-CN";

/** Every key path ("people.title") of a nested message object, with its text. */
function flatten(messages: object, prefix = ""): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(messages)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (typeof value === "string") {
      out.set(path, value);
    } else {
      for (const [k, v] of flatten(value as object, path)) {
        out.set(k, v);
      }
    }
  }
  return out;
}

const variables = (text: string) => [...text.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();

describe("locales", () => {
  const zh = flatten(zhCN);
  const english = flatten(en);

  it("zh-CN and en have the same keys", () => {
    expect([...english.keys()].sort()).toEqual([...zh.keys()].sort());
  });

  it("every text is translated and uses the same {{variables}}", () => {
    for (const [key, text] of zh) {
      const other = english.get(key) ?? "";
      expect(text.trim(), key).not.toBe("");
      expect(other.trim(), key).not.toBe("");
      expect(variables(other), key).toEqual(variables(text));
    }
  });
});
