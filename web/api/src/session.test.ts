import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  createRouterTransport,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TokenPairSchema, UserSchema } from "./gen/terrace/identity/v1/identity_pb";
import { IdentityService } from "./gen/terrace/identity/v1/identity_service_pb";
import { accountCaches } from "./accountCaches";
import { Session, type SessionEvent } from "./session";
import type { TabChannel, TabMessage } from "./tabs";

/** BroadcastChannel stand-ins: what one posts, every other one of the hub hears (asynchronously). */
function tabHub() {
  const channels: { listeners: ((event: { data: unknown }) => void)[] }[] = [];
  return () => {
    const self = { listeners: [] as ((event: { data: unknown }) => void)[] };
    channels.push(self);
    const channel: TabChannel = {
      postMessage(message: TabMessage) {
        for (const other of channels) {
          if (other !== self) {
            queueMicrotask(() => other.listeners.forEach((listener) => listener({ data: structuredClone(message) })));
          }
        }
      },
      addEventListener(_type, listener) {
        self.listeners.push(listener);
      },
    };
    return channel;
  };
}

/** A Storage over a Map, standing in for localStorage. */
class MemoryStorage implements Storage {
  private readonly items = new Map<string, string>();
  get length() {
    return this.items.size;
  }
  clear() {
    this.items.clear();
  }
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  key(index: number) {
    return [...this.items.keys()][index] ?? null;
  }
  removeItem(key: string) {
    this.items.delete(key);
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
  dump() {
    return [...this.items.values()].join("\n");
  }
}

function jwt(claims: object): string {
  const encode = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "");
  return `${encode({ alg: "EdDSA" })}.${encode(claims)}.signature`;
}

const USER_ID = "01936f3e-0000-7000-8000-000000000001";

/** A fake identity service that records the headers it saw and follows the cookie contract. */
function fakeServer(
  options: { refuseRefresh?: boolean; legacyRefreshToken?: boolean; unavailableRefreshes?: number } = {},
) {
  let unavailable = options.unavailableRefreshes ?? 0;
  const seen: { method: string; headers: Headers; refreshToken?: string }[] = [];
  let issued = 0;
  const tokens = () => {
    issued += 1;
    const nowS = Math.floor(Date.now() / 1000);
    return create(TokenPairSchema, {
      accessToken: jwt({
        sub: USER_ID,
        iat: nowS,
        exp: nowS + 900,
        roles: [{ role: "village_official", scope: "110101001001" }],
        n: issued,
      }),
      accessTokenExpireTime: timestampFromMs((nowS + 900) * 1000),
      refreshToken: options.legacyRefreshToken ? `refresh-${issued}` : "",
      tokenType: "Bearer",
    });
  };
  const user = create(UserSchema, { id: USER_ID, displayName: "李建国", phoneNumber: "+8613800000002" });
  const record = (method: string, ctx: HandlerContext, refreshToken?: string) =>
    seen.push({ method, headers: new Headers(ctx.requestHeader), refreshToken });
  return {
    seen,
    transport: (interceptors: Interceptor[]) =>
      createRouterTransport(
        ({ service }) => {
          service(IdentityService, {
            loginWithPassword(request, ctx) {
              record("LoginWithPassword", ctx);
              if (request.password !== "right" || request.phoneNumber !== "+8613800000002") {
                throw new ConnectError("wrong phone or password", Code.Unauthenticated);
              }
              return { user, tokens: tokens() };
            },
            refreshToken(request, ctx) {
              record("RefreshToken", ctx, request.refreshToken);
              (seen.at(-1) as { requestId?: string }).requestId = request.requestId;
              if (unavailable > 0) {
                unavailable -= 1;
                throw new ConnectError("database unavailable", Code.Unavailable);
              }
              if (options.refuseRefresh) {
                throw new ConnectError("session revoked", Code.Unauthenticated);
              }
              return { tokens: tokens() };
            },
            logout(request, ctx) {
              record("Logout", ctx, request.refreshToken);
              return {};
            },
            revokeAllSessions(_request, ctx) {
              record("RevokeAllSessions", ctx);
              return { revokedCount: 2 };
            },
            getCurrentUser(_request, ctx) {
              record("GetCurrentUser", ctx);
              if (!ctx.requestHeader.get("authorization")?.startsWith("Bearer ")) {
                throw new ConnectError("no token", Code.Unauthenticated);
              }
              return { user };
            },
          });
        },
        { transport: { interceptors } },
      ),
  };
}

describe("Session", () => {
  let storage: MemoryStorage;
  beforeEach(() => {
    storage = new MemoryStorage();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("logs in asking for the cookie, keeps no token in storage, and calls with the bearer token", async () => {
    const server = fakeServer();
    const session = new Session({ storage, transport: server.transport });
    const user = await session.loginWithPassword("138 0000 0002", "right");
    expect(user.displayName).toBe("李建国");
    expect(server.seen[0]?.headers.get("x-terrace-session")).toBe("cookie");
    expect(session.getSnapshot()).toMatchObject({ authenticated: true, lost: false });
    expect(session.getSnapshot().claims?.roles).toEqual([{ role: "village_official", scope: "110101001001" }]);
    expect(session.accounts()).toMatchObject([{ userId: USER_ID, phoneNumber: "+8613800000002" }]);
    expect(storage.dump()).not.toMatch(/eyJ|refresh-/);

    await session.client(IdentityService).getCurrentUser({});
    expect(server.seen.at(-1)?.headers.get("authorization")).toMatch(/^Bearer /);
  });

  it("sends the app's language with every call, public and authenticated, as it is now", async () => {
    const server = fakeServer();
    let language = "zh-CN";
    const session = new Session({ storage, transport: server.transport, language: () => language });
    await session.loginWithPassword("138 0000 0002", "right");
    expect(server.seen.at(-1)?.headers.get("accept-language")).toBe("zh-CN");
    language = "en";
    await session.client(IdentityService).getCurrentUser({});
    expect(server.seen.at(-1)?.headers.get("accept-language")).toBe("en");
  });

  it("refreshes a minute before expiry with the account header and an empty token field", async () => {
    const server = fakeServer();
    const session = new Session({ storage, transport: server.transport });
    await session.loginWithPassword("13800000002", "right");
    // The token lives 900 s; the refresh is due at 840 s.
    await vi.advanceTimersByTimeAsync(839_000);
    expect(server.seen.filter((s) => s.method === "RefreshToken")).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(server.seen.filter((s) => s.method === "RefreshToken")).toHaveLength(1);
    const refresh = server.seen.find((s) => s.method === "RefreshToken");
    expect(refresh?.headers.get("x-terrace-account")).toBe(USER_ID);
    expect(refresh?.headers.get("x-terrace-session")).toBe("cookie");
    expect(refresh?.refreshToken).toBe("");
    expect(session.getSnapshot().authenticated).toBe(true);
  });

  it("sends a refresh token the server still answers in the field, from memory only", async () => {
    const server = fakeServer({ legacyRefreshToken: true });
    const session = new Session({ storage, transport: server.transport });
    await session.loginWithPassword("13800000002", "right");
    expect(await session.refresh()).toBe(true);
    expect(server.seen.at(-1)?.refreshToken).toBe("refresh-1");
    expect(storage.dump()).not.toMatch(/refresh-/);
  });

  it("reports a lost session when the refresh is refused, keeping the account", async () => {
    const server = fakeServer({ refuseRefresh: true });
    const session = new Session({ storage, transport: server.transport });
    const events: SessionEvent[] = [];
    session.subscribe((event) => events.push(event));
    await session.loginWithPassword("13800000002", "right");
    expect(await session.refresh()).toBe(false);
    expect(events.filter((e) => e.type === "lost")).toMatchObject([{ account: { userId: USER_ID } }]);
    expect(session.getSnapshot()).toMatchObject({ authenticated: false, lost: true });
    expect(session.accounts()).toHaveLength(1);
  });

  it("resumes the last account from its cookie on start-up", async () => {
    const server = fakeServer();
    await new Session({ storage, transport: server.transport }).loginWithPassword("13800000002", "right");
    const reloaded = new Session({ storage, transport: server.transport });
    expect(await reloaded.resume()).toBe(true);
    expect(reloaded.getSnapshot().account?.userId).toBe(USER_ID);
  });

  it("keeps a remembered account's name and number current after a profile change", async () => {
    const server = fakeServer();
    const session = new Session({ storage, transport: server.transport });
    await session.loginWithPassword("13800000002", "right");
    const events: SessionEvent[] = [];
    session.subscribe((event) => events.push(event));
    session.updateAccount({ id: USER_ID, displayName: "李建国（村主任）", phoneNumber: "+8613800000002" });
    expect(session.getSnapshot().account?.displayName).toBe("李建国（村主任）");
    expect(session.accounts()).toMatchObject([{ userId: USER_ID, displayName: "李建国（村主任）" }]);
    expect(events).toEqual([{ type: "change" }]);
    session.updateAccount({ id: "01936f3e-0000-7000-8000-00000000ffff", displayName: "x", phoneNumber: "+1" });
    expect(session.accounts()).toHaveLength(1);
    expect(session.getSnapshot()).toMatchObject({ authenticated: true });
  });

  it("logs out on the server with the account header and forgets the account", async () => {
    const server = fakeServer();
    const session = new Session({ storage, transport: server.transport });
    await session.loginWithPassword("13800000002", "right");
    await session.logout();
    const logout = server.seen.find((s) => s.method === "Logout");
    expect(logout?.headers.get("x-terrace-account")).toBe(USER_ID);
    expect(logout?.headers.get("authorization")).toMatch(/^Bearer /);
    expect(session.accounts()).toEqual([]);
    expect(session.getSnapshot().account).toBeUndefined();
  });

  it("logs out everywhere with RevokeAllSessions, then here", async () => {
    const server = fakeServer();
    const session = new Session({ storage, transport: server.transport });
    await session.loginWithPassword("13800000002", "right");
    await session.logoutEverywhere();
    expect(server.seen.map((s) => s.method)).toEqual(["LoginWithPassword", "RevokeAllSessions", "Logout"]);
    expect(session.accounts()).toEqual([]);
  });

  it("retries a refresh that failed for a transient reason with the same request id, without losing the session", async () => {
    const server = fakeServer({ unavailableRefreshes: 1 });
    const session = new Session({ storage, transport: server.transport });
    const events: SessionEvent[] = [];
    session.subscribe((event) => events.push(event));
    await session.loginWithPassword("13800000002", "right");
    await vi.advanceTimersByTimeAsync(841_000); // due at 840 s; fails
    await vi.advanceTimersByTimeAsync(10_000); // retried after 10 s; succeeds
    const refreshes = server.seen.filter((s) => s.method === "RefreshToken") as { requestId?: string }[];
    expect(refreshes).toHaveLength(2);
    expect(refreshes[0]?.requestId).toBe(refreshes[1]?.requestId);
    expect(events.some((e) => e.type === "lost")).toBe(false);
    expect(session.getSnapshot().authenticated).toBe(true);
  });

  it("stays restoring while the network is down on start-up, and signs in when it returns", async () => {
    const server = fakeServer({ unavailableRefreshes: 3 });
    await new Session({ storage, transport: server.transport }).loginWithPassword("13800000002", "right");
    const network = new EventTarget();
    const reloaded = new Session({ storage, transport: server.transport, networkEvents: network });
    const events: SessionEvent[] = [];
    reloaded.subscribe((event) => events.push(event));
    expect(await reloaded.resume()).toBe(false);
    expect(reloaded.getSnapshot()).toMatchObject({
      account: { userId: USER_ID },
      authenticated: false,
      restoring: true,
      lost: false,
    });
    // A call meanwhile fails as the network does, not as a refused session.
    await expect(reloaded.client(IdentityService).getCurrentUser({})).rejects.toMatchObject({ code: Code.Unavailable });
    expect(server.seen.filter((s) => s.method === "GetCurrentUser")).toHaveLength(0);
    expect(reloaded.getSnapshot()).toMatchObject({ restoring: true, lost: false });
    // Retried with back-off (1 s, 2 s, ...): the third fails, the fourth succeeds.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(server.seen.filter((s) => s.method === "RefreshToken")).toHaveLength(4);
    expect(reloaded.getSnapshot()).toMatchObject({ authenticated: true, restoring: false });
    expect(events.some((e) => e.type === "lost")).toBe(false);
  });

  it("retries a waiting restore at once when the browser says the network is back", async () => {
    const server = fakeServer({ unavailableRefreshes: 1 });
    await new Session({ storage, transport: server.transport }).loginWithPassword("13800000002", "right");
    const network = new EventTarget();
    const reloaded = new Session({ storage, transport: server.transport, networkEvents: network });
    expect(await reloaded.resume()).toBe(false);
    expect(reloaded.getSnapshot().restoring).toBe(true);
    network.dispatchEvent(new Event("online"));
    await vi.advanceTimersByTimeAsync(0);
    expect(reloaded.getSnapshot()).toMatchObject({ authenticated: true, restoring: false });
  });

  it("ends a restore with lost only when the server refuses the session", async () => {
    const server = fakeServer();
    await new Session({ storage, transport: server.transport }).loginWithPassword("13800000002", "right");
    const refused = fakeServer({ refuseRefresh: true });
    const reloaded = new Session({ storage, transport: refused.transport, networkEvents: new EventTarget() });
    expect(await reloaded.resume()).toBe(false);
    expect(reloaded.getSnapshot()).toMatchObject({ authenticated: false, restoring: false, lost: true });
  });

  it("signs the other tabs out when one logs out", async () => {
    const server = fakeServer();
    const tab = tabHub();
    const first = new Session({ storage, transport: server.transport, tabs: tab() });
    const second = new Session({ storage, transport: server.transport, tabs: tab() });
    await first.loginWithPassword("13800000002", "right");
    await vi.advanceTimersByTimeAsync(0); // the login's "switch" reaches the second tab
    expect(second.getSnapshot()).toMatchObject({ authenticated: true, account: { userId: USER_ID } });
    await first.logout();
    await vi.advanceTimersByTimeAsync(0);
    expect(second.getSnapshot()).toMatchObject({ authenticated: false, restoring: false, lost: false, account: undefined });
    // Only the tab that logged out called Logout.
    expect(server.seen.filter((s) => s.method === "Logout")).toHaveLength(1);
    // Signed out, the second tab no longer refreshes.
    const refreshes = server.seen.filter((s) => s.method === "RefreshToken").length;
    await vi.advanceTimersByTimeAsync(900_000);
    expect(server.seen.filter((s) => s.method === "RefreshToken")).toHaveLength(refreshes);
  });

  it("switches the other tabs when one switches accounts", async () => {
    const server = fakeServer();
    const tab = tabHub();
    const first = new Session({ storage, transport: server.transport, tabs: tab() });
    const second = new Session({ storage, transport: server.transport, tabs: tab() });
    await first.loginWithPassword("13800000002", "right");
    await vi.advanceTimersByTimeAsync(0);
    const other = { userId: "01936f3e-0000-7000-8000-000000000002", displayName: "王秀英", phoneNumber: "+8613800000001", lastUsedMs: 0 };
    storage.setItem("terrace.accounts", JSON.stringify([...first.accounts(), other]));
    expect(await first.switchAccount(other.userId)).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(second.getSnapshot()).toMatchObject({ authenticated: true, account: { userId: other.userId } });
    // The second tab refreshed with the other account's cookie, not the first one's.
    expect(server.seen.at(-1)).toMatchObject({ method: "RefreshToken" });
    expect(server.seen.at(-1)?.headers.get("x-terrace-account")).toBe(other.userId);
  });

  it("switches to another remembered account with that account's header", async () => {
    const server = fakeServer();
    const session = new Session({ storage, transport: server.transport });
    await session.loginWithPassword("13800000002", "right");
    const other = { userId: "01936f3e-0000-7000-8000-000000000002", displayName: "王秀英", phoneNumber: "+8613800000001", lastUsedMs: 0 };
    storage.setItem("terrace.accounts", JSON.stringify([...session.accounts(), other]));
    expect(await session.switchAccount(other.userId)).toBe(true);
    expect(server.seen.at(-1)?.headers.get("x-terrace-account")).toBe(other.userId);
    expect(session.getSnapshot().account?.userId).toBe(other.userId);
  });
});

describe("accountCaches", () => {
  let storage: MemoryStorage;
  beforeEach(() => {
    storage = new MemoryStorage();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("empties every map at logout, and keeps them through a token refresh", async () => {
    const server = fakeServer();
    const session = new Session({ storage, transport: server.transport });
    const caches = accountCaches(session);
    const records = caches.map<string, string>();
    const names = caches.map<string, string>();
    await session.loginWithPassword("13800000002", "right");
    records.set(USER_ID, "my household");
    names.set("someone", "李建国");
    expect(await session.refresh()).toBe(true);
    expect(records.size + names.size).toBe(2);
    await session.logout();
    expect(records.size + names.size).toBe(0);
  });

  it("empties them when someone else logs in on a shared device (leaveAccount) and on an account switch", async () => {
    const server = fakeServer();
    const session = new Session({ storage, transport: server.transport });
    const caches = accountCaches(session);
    const records = caches.map<string, string>();
    await session.loginWithPassword("13800000002", "right");
    records.set(USER_ID, "my household");
    session.leaveAccount();
    expect(records.size).toBe(0);

    await session.loginWithPassword("13800000002", "right");
    records.set(USER_ID, "my household");
    const other = { userId: "01936f3e-0000-7000-8000-000000000002", displayName: "王秀英", phoneNumber: "+8613800000001", lastUsedMs: 0 };
    storage.setItem("terrace.accounts", JSON.stringify([...session.accounts(), other]));
    expect(await session.switchAccount(other.userId)).toBe(true);
    expect(records.size).toBe(0);
  });

  it("keeps them when a lost session is logged in again by the same person (their page stays)", async () => {
    const server = fakeServer({ refuseRefresh: true });
    const session = new Session({ storage, transport: server.transport });
    const records = accountCaches(session).map<string, string>();
    await session.loginWithPassword("13800000002", "right");
    records.set(USER_ID, "my household");
    expect(await session.refresh()).toBe(false);
    expect(session.getSnapshot().lost).toBe(true);
    await session.loginWithPassword("13800000002", "right");
    expect(records.get(USER_ID)).toBe("my household");
  });

  it("follows the account given by any session-like source, until closed", () => {
    let account: { userId: string } | undefined = { userId: "a" };
    const listeners = new Set<() => void>();
    const source = {
      getSnapshot: () => ({ account: account && { ...account, displayName: "", phoneNumber: "", lastUsedMs: 0 } }),
      subscribe: (listener: () => void) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    const caches = accountCaches(source);
    const m = caches.map<string, number>();
    m.set("x", 1);
    listeners.forEach((l) => l()); // same account: kept
    expect(m.size).toBe(1);
    account = { userId: "b" };
    listeners.forEach((l) => l());
    expect(m.size).toBe(0);
    m.set("y", 2);
    caches.close();
    account = undefined;
    listeners.forEach((l) => l());
    expect(m.size).toBe(1);
  });
});
