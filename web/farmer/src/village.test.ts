import { create } from "@bufbuild/protobuf";
import { AdminCodeSchema, AdminLevel } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { DivisionSchema } from "@terrace/api/gen/terrace/governance/v1/divisions_pb";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  VILLAGE_SEARCH_DELAY_MS,
  villageChoices,
  villageQuery,
  villageSearch,
  type VillageChoice,
  type VillageQuery,
  type VillageSearchState,
} from "./claim";

const division = (code: string, name: string, fullName: string) =>
  create(DivisionSchema, { code: create(AdminCodeSchema, { code, level: AdminLevel.VILLAGE }), name, fullName });

const yucun = division("330523108204", "余村村民委员会", "浙江省 湖州市 安吉县 天荒坪镇 余村村民委员会");
const otherYucun = division("330523101999", "余村村民委员会", "浙江省 湖州市 安吉县 递铺街道 余村村民委员会");

describe("villageQuery", () => {
  it("searches the last word and keeps the words before it for the place", () => {
    expect(villageQuery(" 余村 ")).toEqual({ name: "余村", place: [] });
    expect(villageQuery("天荒坪  余村")).toEqual({ name: "余村", place: ["天荒坪"] });
    expect(villageQuery("天荒坪，余村")).toEqual({ name: "余村", place: ["天荒坪"] });
  });

  it("lower-cases pinyin initials and finds nothing to search in blanks", () => {
    expect(villageQuery("YC")).toEqual({ name: "yc", place: [] });
    expect(villageQuery("   ")).toBeUndefined();
    expect(villageQuery("")).toBeUndefined();
  });
});

describe("villageChoices", () => {
  it("keeps the server's order, with full names that tell villages of one name apart", () => {
    expect(villageChoices([yucun, otherYucun], { name: "余村", place: [] })).toEqual([
      { code: "330523108204", name: "余村村民委员会", fullName: "浙江省 湖州市 安吉县 天荒坪镇 余村村民委员会" },
      { code: "330523101999", name: "余村村民委员会", fullName: "浙江省 湖州市 安吉县 递铺街道 余村村民委员会" },
    ]);
  });

  it("leaves out matches outside the township typed, repeats and codes that are not a village's", () => {
    const township = division("330523108000", "天荒坪镇", "浙江省 湖州市 安吉县 天荒坪镇");
    township.code!.code = "330523108";
    const found = villageChoices([yucun, otherYucun, yucun, township], { name: "余村", place: ["天荒坪"] });
    expect(found.map((c) => c.code)).toEqual(["330523108204"]);
  });

  it("falls back to the name when the server gives no full name", () => {
    const bare = division("330523108204", "余村村民委员会", "");
    expect(villageChoices([bare], { name: "余村", place: [] })[0]?.fullName).toBe("余村村民委员会");
  });
});

describe("villageSearch", () => {
  const choice = (code: string): VillageChoice => ({ code, name: code, fullName: code });
  let shown: VillageSearchState[];
  let answers: Map<string, (choices: VillageChoice[]) => void>;
  let failures: Map<string, (error: unknown) => void>;
  let asked: string[];
  const search = (query: VillageQuery) =>
    new Promise<VillageChoice[]>((resolve, reject) => {
      asked.push(query.name);
      answers.set(query.name, resolve);
      failures.set(query.name, reject);
    });
  const last = () => shown[shown.length - 1];

  beforeEach(() => {
    vi.useFakeTimers();
    shown = [];
    answers = new Map();
    failures = new Map();
    asked = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("asks once typing has paused for the delay, with the newest text only", async () => {
    const s = villageSearch(search, (state) => shown.push(state));
    s.typed("余");
    await vi.advanceTimersByTimeAsync(VILLAGE_SEARCH_DELAY_MS - 1);
    s.typed("余村");
    await vi.advanceTimersByTimeAsync(VILLAGE_SEARCH_DELAY_MS - 1);
    expect(asked).toEqual([]);
    expect(last()).toEqual({ kind: "waiting", query: { name: "余村", place: [] } });
    await vi.advanceTimersByTimeAsync(1);
    expect(asked).toEqual(["余村"]);
    answers.get("余村")!([choice("330523108204")]);
    await vi.advanceTimersByTimeAsync(0);
    expect(last()).toEqual({ kind: "found", query: { name: "余村", place: [] }, choices: [choice("330523108204")] });
  });

  it("drops an answer that comes after a newer text was typed, even when it arrives last", async () => {
    const s = villageSearch(search, (state) => shown.push(state));
    s.typed("余");
    await vi.advanceTimersByTimeAsync(VILLAGE_SEARCH_DELAY_MS);
    s.typed("余村");
    await vi.advanceTimersByTimeAsync(VILLAGE_SEARCH_DELAY_MS);
    expect(asked).toEqual(["余", "余村"]);
    answers.get("余村")!([choice("new")]);
    await vi.advanceTimersByTimeAsync(0);
    answers.get("余")!([choice("old")]);
    failures.get("余")!(new Error("late"));
    await vi.advanceTimersByTimeAsync(0);
    expect(last()).toEqual({ kind: "found", query: { name: "余村", place: [] }, choices: [choice("new")] });
    expect(shown.some((state) => state.kind === "found" && state.choices[0]?.code === "old")).toBe(false);
  });

  it("shows a failure of the newest search, and nothing after stop", async () => {
    const s = villageSearch(search, (state) => shown.push(state));
    s.typed("yc");
    await vi.advanceTimersByTimeAsync(VILLAGE_SEARCH_DELAY_MS);
    const error = new Error("unreachable");
    failures.get("yc")!(error);
    await vi.advanceTimersByTimeAsync(0);
    expect(last()).toEqual({ kind: "failed", query: { name: "yc", place: [] }, error });

    s.typed("余村");
    await vi.advanceTimersByTimeAsync(VILLAGE_SEARCH_DELAY_MS);
    const count = shown.length;
    s.stop();
    answers.get("余村")!([choice("late")]);
    s.typed("余村村"); // typed, then stopped before the delay: never asked
    s.stop();
    await vi.advanceTimersByTimeAsync(VILLAGE_SEARCH_DELAY_MS * 2);
    expect(asked).toEqual(["yc", "余村"]);
    expect(shown.slice(count).map((state) => state.kind)).toEqual(["waiting"]);
  });

  it("is idle at once for an empty text and cancels the search pending", async () => {
    const s = villageSearch(search, (state) => shown.push(state));
    s.typed("余村");
    s.typed("  ");
    await vi.advanceTimersByTimeAsync(VILLAGE_SEARCH_DELAY_MS * 2);
    expect(asked).toEqual([]);
    expect(last()).toEqual({ kind: "idle" });
  });
});
