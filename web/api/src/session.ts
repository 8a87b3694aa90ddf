import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createClient,
  type Client,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { decodeAccessToken, type AccessClaims } from "./claims";
import { newRequestId } from "./ids";
import { normalizePhone } from "./phone";
import { openTabChannel, tabReaction, type TabChannel } from "./tabs";
import { createTransport, languageInterceptor } from "./transport";
import { IdentityService } from "./gen/terrace/identity/v1/identity_service_pb";
import { OtpPurpose, type TokenPair, type User } from "./gen/terrace/identity/v1/identity_pb";

/**
 * The login state of one browser tab, shared by the console and the farmers' app.
 *
 * Where each secret lives, and why:
 * - The **access token** (15 minutes) is kept in memory only, so a script that can read storage
 *   cannot take it home, and it dies with the tab.
 * - The **refresh token** is an HttpOnly cookie the server sets (`terrace_refresh_<user_id>`,
 *   `Path=/terrace.identity.v1.IdentityService/`, `Secure`, `SameSite=Strict`) when a login,
 *   sign-up or refresh carries `x-terrace-session: cookie`; the `refresh_token` field of the answer
 *   is then empty. RefreshToken and Logout name the account with `x-terrace-account: <user_id>`
 *   and leave the field empty; the server reads that account's cookie. One cookie per account is
 *   what lets a family share one phone and switch accounts without typing passwords again.
 * - **localStorage** keeps, per account, only the user id, display name and phone number, for the
 *   account switcher. Never a token.
 *
 * Until the server implements the cookie (it may answer a non-empty `refresh_token`), that token is
 * kept in this object's memory and sent in the field: it never reaches storage, so a reload then
 * needs a new login.
 */
export interface Account {
  userId: string;
  displayName: string;
  phoneNumber: string;
  /** Milliseconds since the epoch of the last login or switch, to order the switcher. */
  lastUsedMs: number;
}

export interface SessionSnapshot {
  /** The account this tab acts as; set while logged in, and while its login is being restored. */
  account: Account | undefined;
  /** Whether there is an access token to call with. */
  authenticated: boolean;
  /**
   * Whether `account` is being restored without an access token yet (start-up, account switch):
   * a refresh is in flight, or failed for a reason that says nothing about the session (no
   * network, server unavailable) and is being retried. Only a refusal by the server ends it
   * (`lost`). Apps show the signed-in frame meanwhile, not the login page: a farmer who opens
   * the app with no network is still who they were.
   */
  restoring: boolean;
  /**
   * Set when the server refused to refresh `account`'s session: the app asks for a login again
   * (over the page, keeping its unsaved input). Cleared by the next login.
   */
  lost: boolean;
  /** Claims of the current access token (roles and areas), for display only. */
  claims: AccessClaims | undefined;
}

export type SessionEvent =
  /** The snapshot changed (login, refresh, logout, switch). */
  | { type: "change" }
  /**
   * The server refused to refresh (the session was revoked, expired, or the cookie is gone). The
   * app shows a login dialog over the current page, keeping unsaved input, prefilled with
   * `account`'s phone number.
   */
  | { type: "lost"; account: Account };

export interface SessionOptions {
  /** Where gRPC-Web calls go; default the page's origin. */
  baseUrl?: string;
  /** Where the account list is kept; default `localStorage`. */
  storage?: Storage;
  /** Sent as `client_description` at login, for the user's device list. */
  clientDescription?: string;
  /** A transport to use instead of gRPC-Web over fetch (tests). */
  transport?: (interceptors: Interceptor[]) => Transport;
  /** The app's language (a BCP 47 tag), sent with every call so errors come back in it. */
  language?: () => string;
  /**
   * Where the browser says the network came back (`online` events): a restore waiting for the
   * network is retried at once. Default `globalThis` when it has `addEventListener` (a page).
   */
  networkEvents?: Pick<EventTarget, "addEventListener">;
  /**
   * The name of a BroadcastChannel shared by this app's tabs (one name per app): a logout in
   * one tab signs the others out of that account, a switch (or login) makes them switch too.
   * No channel without a name. Or a channel itself (tests).
   */
  tabs?: string | TabChannel;
}

/** Request headers asking the server for the refresh token as an HttpOnly cookie. */
export const SESSION_COOKIE_HEADER = "x-terrace-session";
/** Request header naming whose refresh cookie RefreshToken and Logout should use. */
export const ACCOUNT_HEADER = "x-terrace-account";

const ACCOUNTS_KEY = "terrace.accounts";
const CURRENT_KEY = "terrace.currentAccount";
/** Refresh this long before the access token expires. */
const REFRESH_AHEAD_MS = 60_000;
/** A call made within this of expiry waits for a refresh first (covers timers paused in sleep). */
const STALE_MS = 15_000;
/** After a refresh failed for a transient reason (network, unavailable), try again after this. */
const RETRY_MS = 10_000;
/** A restore (no access token yet) that failed for a transient reason is retried after this, doubling up to RETRY_MS. */
const FIRST_RESTORE_RETRY_MS = 1_000;

interface Current {
  account: Account;
  accessToken: string | undefined;
  /** By the local clock: receipt time plus the token's lifetime as the server stated it. */
  expiresAtMs: number;
  claims: AccessClaims | undefined;
  lost?: boolean;
}

export class Session {
  private readonly storage: Storage | undefined;
  private readonly clientDescription: string;
  /** Identity without the bearer interceptor: login and refresh are public, Logout gets its header. */
  private readonly identity: Client<typeof IdentityService>;
  private readonly authedTransport: Transport;
  private readonly publicTransport: Transport;
  private current: Current | undefined;
  private snapshot: SessionSnapshot = {
    account: undefined,
    authenticated: false,
    restoring: false,
    lost: false,
    claims: undefined,
  };
  /** See the class comment: only while the server does not set the cookie yet. */
  private readonly fallbackRefreshTokens = new Map<string, string>();
  /** One refresh at a time: two with the same refresh token would look like token theft. */
  private refreshing: Promise<boolean> | undefined;
  /** Reused by retries of one refresh, so that a lost answer is not taken for reuse. */
  private refreshRequestId: string | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The next wait before retrying a restore that failed for a transient reason. */
  private restoreRetryMs = FIRST_RESTORE_RETRY_MS;
  private readonly listeners = new Set<(event: SessionEvent) => void>();
  /** To the app's other tabs (see `SessionOptions.tabs`). */
  private readonly tabs: TabChannel | undefined;

  constructor(options: SessionOptions = {}) {
    this.storage = options.storage ?? globalThis.localStorage;
    this.clientDescription = options.clientDescription ?? globalThis.navigator?.userAgent ?? "";
    const makeTransport =
      options.transport ??
      ((interceptors: Interceptor[]) => createTransport({ baseUrl: options.baseUrl, interceptors }));
    const language = options.language ? [languageInterceptor(options.language)] : [];
    this.publicTransport = makeTransport(language);
    this.identity = createClient(IdentityService, this.publicTransport);
    this.authedTransport = makeTransport([...language, this.authInterceptor]);
    const networkEvents =
      options.networkEvents ??
      (typeof globalThis.addEventListener === "function" ? (globalThis as EventTarget) : undefined);
    this.tabs = typeof options.tabs === "string" ? openTabChannel(options.tabs) : options.tabs;
    this.tabs?.addEventListener("message", (event) => this.onTabMessage(event.data));
    networkEvents?.addEventListener("online", () => {
      if (this.isRestoring()) {
        this.restoreRetryMs = FIRST_RESTORE_RETRY_MS;
        void this.refresh();
      }
    });
  }

  /**
   * A client whose calls carry no access token, for public RPCs whose UNAUTHENTICATED answer is
   * about the request (a wrong one-time code), not the session: no refresh, no retry.
   */
  publicClient<T extends DescService>(service: T): Client<T> {
    return createClient(service, this.publicTransport);
  }

  /** A client for any service whose calls carry this session's access token. */
  client<T extends DescService>(service: T): Client<T> {
    return createClient(service, this.authedTransport);
  }

  /** For React's useSyncExternalStore: the same object until something changes. */
  getSnapshot = (): SessionSnapshot => this.snapshot;

  subscribe = (listener: (event: SessionEvent) => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Accounts that logged in on this device, most recently used first. */
  accounts(): Account[] {
    try {
      const parsed: unknown = JSON.parse(this.storage?.getItem(ACCOUNTS_KEY) ?? "[]");
      if (!Array.isArray(parsed)) {
        return [];
      }
      return parsed
        .filter(
          (a): a is Account =>
            typeof a === "object" && a !== null && typeof a.userId === "string" && a.userId !== "",
        )
        .sort((a, b) => b.lastUsedMs - a.lastUsedMs);
    } catch {
      return [];
    }
  }

  /** Sends a login code by SMS; answers when another may be requested (ms since the epoch). */
  requestLoginCode(phone: string, locale?: string): Promise<number | undefined> {
    return this.requestCode(phone, OtpPurpose.LOGIN, locale);
  }

  /** Sends a sign-up code (for `signUp`) by SMS; answers as `requestLoginCode`. */
  requestSignUpCode(phone: string, locale?: string): Promise<number | undefined> {
    return this.requestCode(phone, OtpPurpose.SIGN_UP, locale);
  }

  private async requestCode(phone: string, purpose: OtpPurpose, locale?: string): Promise<number | undefined> {
    const response = await this.identity.requestOtp({
      requestId: newRequestId(),
      phoneNumber: normalizePhone(phone),
      purpose,
      locale: locale ?? "",
    });
    return response.retryTime ? timestampMs(response.retryTime) : undefined;
  }

  async loginWithPassword(phone: string, password: string): Promise<User> {
    const response = await this.identity.loginWithPassword(
      {
        requestId: newRequestId(),
        phoneNumber: normalizePhone(phone),
        password,
        clientDescription: this.clientDescription,
      },
      { headers: { [SESSION_COOKIE_HEADER]: "cookie" } },
    );
    return this.establish(response.user, response.tokens);
  }

  async loginWithOtp(phone: string, code: string): Promise<User> {
    const response = await this.identity.loginWithOtp(
      {
        requestId: newRequestId(),
        phoneNumber: normalizePhone(phone),
        otpCode: code.trim(),
        clientDescription: this.clientDescription,
      },
      { headers: { [SESSION_COOKIE_HEADER]: "cookie" } },
    );
    return this.establish(response.user, response.tokens);
  }

  /** Creates an account proven with an OTP_PURPOSE_SIGN_UP code, and logs it in. */
  async signUp(request: {
    phone: string;
    code: string;
    displayName: string;
    password?: string;
    locale?: string;
    timeZone?: string;
  }): Promise<User> {
    const response = await this.identity.signUp(
      {
        requestId: newRequestId(),
        phoneNumber: normalizePhone(request.phone),
        otpCode: request.code.trim(),
        displayName: request.displayName,
        password: request.password ?? "",
        locale: request.locale ?? "",
        timeZone: request.timeZone ?? "",
        clientDescription: this.clientDescription,
      },
      { headers: { [SESSION_COOKIE_HEADER]: "cookie" } },
    );
    return this.establish(response.user, response.tokens);
  }

  /**
   * At start-up: acts again as the account last used on this device, if its refresh cookie still
   * works. Answers whether the tab is now logged in. With no network the answer is false but the
   * snapshot stays `restoring` (the account known, the refresh retried) until the server answers.
   */
  async resume(): Promise<boolean> {
    const userId = this.storage?.getItem(CURRENT_KEY);
    const account = this.accounts().find((a) => a.userId === userId);
    if (!account) {
      return false;
    }
    this.setCurrent({ account, accessToken: undefined, expiresAtMs: 0, claims: undefined });
    return this.refresh();
  }

  /** Acts as another account of this device, with that account's refresh cookie. */
  async switchAccount(userId: string): Promise<boolean> {
    const account = this.accounts().find((a) => a.userId === userId);
    if (!account) {
      return false;
    }
    this.storage?.setItem(CURRENT_KEY, userId);
    this.tabs?.postMessage({ type: "switch", userId });
    return this.actAs(account);
  }

  /** Acts as `account` (remembered here) from now on, with its refresh cookie. */
  private async actAs(account: Account): Promise<boolean> {
    await this.refreshing;
    this.setCurrent({ account, accessToken: undefined, expiresAtMs: 0, claims: undefined });
    return this.refresh();
  }

  /** Another tab of this app logged out or switched accounts: this one follows. */
  private onTabMessage(data: unknown): void {
    const accounts = this.accounts();
    const current = this.current && { userId: this.current.account.userId, lost: this.current.lost === true };
    const reaction = tabReaction(data, current, (id) => accounts.some((a) => a.userId === id));
    if (reaction?.type === "sign-out" && this.current) {
      // The other tab ended the session and forgot the account in the shared list already.
      this.fallbackRefreshTokens.delete(this.current.account.userId);
      this.clearTimer();
      this.setCurrent(undefined);
    } else if (reaction?.type === "switch") {
      const account = accounts.find((a) => a.userId === reaction.userId);
      if (account) {
        void this.actAs(account);
      }
    }
  }

  /**
   * Gets a new access token with the current account's refresh cookie. Answers false when there
   * is none to be had; a refusal by the server (not a network failure) also emits `lost`.
   */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.refreshOnce().finally(() => {
        this.refreshing = undefined;
        this.publish();
      });
      this.publish();
    }
    return this.refreshing;
  }

  /**
   * Keeps a remembered account's name and number as the server last answered them (after
   * UpdateUser or GetCurrentUser), so the switcher and the "who is using this" line stay right.
   * Accounts not remembered here are ignored.
   */
  updateAccount(user: Pick<User, "id" | "displayName" | "phoneNumber">): void {
    const accounts = this.accounts();
    const index = accounts.findIndex((a) => a.userId === user.id);
    const account = accounts[index];
    if (!account || (account.displayName === user.displayName && account.phoneNumber === user.phoneNumber)) {
      return;
    }
    const updated: Account = { ...account, displayName: user.displayName, phoneNumber: user.phoneNumber };
    accounts[index] = updated;
    this.storage?.setItem(ACCOUNTS_KEY, JSON.stringify(accounts));
    if (this.current?.account.userId === user.id) {
      this.setCurrent({ ...this.current, account: updated });
    }
  }

  /**
   * Stops acting as the current account in this tab without ending its session, so that someone
   * else can log in on a shared device; the account stays in the switcher with its cookie.
   */
  leaveAccount(): void {
    this.clearTimer();
    this.storage?.removeItem(CURRENT_KEY);
    this.setCurrent(undefined);
  }

  /** Ends this session on the server (clearing its cookie) and forgets the account here. */
  async logout(): Promise<void> {
    const current = this.current;
    if (!current) {
      return;
    }
    const { userId } = current.account;
    try {
      await this.identity.logout(
        { requestId: newRequestId(), refreshToken: this.fallbackRefreshTokens.get(userId) ?? "" },
        { headers: this.headersFor(current) },
      );
    } catch {
      // The account is forgotten here either way; an unreachable server must not keep someone
      // logged in on a shared phone. The session then ends by itself when its refresh token expires.
    }
    this.forget(userId);
    this.tabs?.postMessage({ type: "logout", userId });
  }

  /** Revokes every session of the current user (all devices), then logs out here. */
  async logoutEverywhere(): Promise<void> {
    const current = this.current;
    if (!current) {
      return;
    }
    await this.identity.revokeAllSessions(
      { requestId: newRequestId(), userId: "", reason: "" },
      { headers: this.headersFor(current) },
    );
    await this.logout();
  }

  /** Adds the bearer token; refreshes first when it is about to expire, and once on UNAUTHENTICATED. */
  private readonly authInterceptor: Interceptor = (next) => async (request) => {
    let token = await this.freshAccessToken();
    if (token) {
      request.header.set("authorization", `Bearer ${token}`);
    }
    try {
      return await next(request);
    } catch (err) {
      if (token && ConnectError.from(err).code === Code.Unauthenticated && (await this.refresh())) {
        token = this.current?.accessToken;
        if (token) {
          request.header.set("authorization", `Bearer ${token}`);
          return await next(request);
        }
      }
      throw err;
    }
  };

  private async freshAccessToken(): Promise<string | undefined> {
    const current = this.current;
    if (!current) {
      return undefined;
    }
    if (current.lost) {
      return undefined; // waiting for a new login; asking again would only be refused again
    }
    if (!current.accessToken || current.expiresAtMs - Date.now() < STALE_MS) {
      await this.refresh();
    }
    if (this.isRestoring()) {
      // Sending the call without a token would only be refused as if the session were gone.
      throw new ConnectError("the login is not restored yet (no network?)", Code.Unavailable);
    }
    return this.current?.accessToken;
  }

  /** Acting as an account without an access token yet, and not refused by the server. */
  private isRestoring(): boolean {
    const current = this.current;
    return current !== undefined && !current.accessToken && !current.lost;
  }

  private async refreshOnce(): Promise<boolean> {
    const current = this.current;
    if (!current) {
      return false;
    }
    const { account } = current;
    this.refreshRequestId ??= newRequestId();
    const requestId = this.refreshRequestId;
    try {
      const response = await withLock(`terrace.refresh.${account.userId}`, () =>
        this.identity.refreshToken(
          {
            requestId,
            refreshToken: this.fallbackRefreshTokens.get(account.userId) ?? "",
          },
          {
            headers: {
              [SESSION_COOKIE_HEADER]: "cookie",
              [ACCOUNT_HEADER]: account.userId,
            },
          },
        ),
      );
      this.refreshRequestId = undefined;
      if (this.current?.account.userId !== account.userId || !response.tokens) {
        return false; // switched or logged out meanwhile
      }
      this.restoreRetryMs = FIRST_RESTORE_RETRY_MS;
      this.applyTokens(account, response.tokens);
      return true;
    } catch (err) {
      const code = ConnectError.from(err).code;
      if (TRANSIENT.has(code)) {
        // The session may be fine: try again, while the access token still works, or (restoring,
        // no token yet) sooner at first, then less often, and at once when the network returns.
        if (this.current?.account.userId === account.userId) {
          if (this.current.accessToken) {
            this.schedule(Math.min(RETRY_MS, Math.max(0, current.expiresAtMs - Date.now())));
          } else {
            this.schedule(this.restoreRetryMs);
            this.restoreRetryMs = Math.min(RETRY_MS, this.restoreRetryMs * 2);
          }
        }
        return false;
      }
      this.refreshRequestId = undefined;
      this.fallbackRefreshTokens.delete(account.userId);
      if (this.current?.account.userId === account.userId) {
        this.clearTimer();
        this.setCurrent({
          account,
          accessToken: undefined,
          expiresAtMs: 0,
          claims: undefined,
          lost: true,
        });
        this.emit({ type: "lost", account });
      }
      return false;
    }
  }

  private establish(user: User | undefined, tokens: TokenPair | undefined): User {
    if (!user || !tokens) {
      throw new ConnectError("login answered without a user or tokens", Code.Internal);
    }
    const account: Account = {
      userId: user.id,
      displayName: user.displayName,
      phoneNumber: user.phoneNumber,
      lastUsedMs: Date.now(),
    };
    const others = this.accounts().filter((a) => a.userId !== user.id);
    this.storage?.setItem(ACCOUNTS_KEY, JSON.stringify([account, ...others]));
    this.storage?.setItem(CURRENT_KEY, user.id);
    this.applyTokens(account, tokens);
    this.tabs?.postMessage({ type: "switch", userId: user.id });
    return user;
  }

  private applyTokens(account: Account, tokens: TokenPair): void {
    if (tokens.refreshToken) {
      this.fallbackRefreshTokens.set(account.userId, tokens.refreshToken);
    }
    const receivedMs = Date.now();
    const claims = decodeAccessToken(tokens.accessToken);
    const expireMs = tokens.accessTokenExpireTime
      ? timestampMs(tokens.accessTokenExpireTime)
      : receivedMs + 5 * 60_000;
    // The token's lifetime by the server's clock, counted from receipt by ours: a device whose
    // clock is off by minutes (common on village phones) still refreshes in time.
    const lifetimeMs = claims?.iat !== undefined ? expireMs - claims.iat * 1000 : expireMs - receivedMs;
    const expiresAtMs = receivedMs + lifetimeMs;
    this.setCurrent({ account, accessToken: tokens.accessToken, expiresAtMs, claims });
    this.schedule(expiresAtMs - REFRESH_AHEAD_MS - receivedMs);
  }

  private headersFor(current: Current): Record<string, string> {
    const headers: Record<string, string> = {
      [SESSION_COOKIE_HEADER]: "cookie",
      [ACCOUNT_HEADER]: current.account.userId,
    };
    if (current.accessToken) {
      headers.authorization = `Bearer ${current.accessToken}`;
    }
    return headers;
  }

  private forget(userId: string): void {
    this.fallbackRefreshTokens.delete(userId);
    const remaining = this.accounts().filter((a) => a.userId !== userId);
    this.storage?.setItem(ACCOUNTS_KEY, JSON.stringify(remaining));
    if (this.storage?.getItem(CURRENT_KEY) === userId) {
      this.storage?.removeItem(CURRENT_KEY);
    }
    if (this.current?.account.userId === userId) {
      this.clearTimer();
      this.setCurrent(undefined);
    }
  }

  private schedule(delayMs: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => void this.refresh(), Math.max(1_000, delayMs));
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private setCurrent(current: Current | undefined): void {
    this.current = current;
    this.publish();
  }

  /** Makes a new snapshot and tells listeners, when something they can see changed. */
  private publish(): void {
    const current = this.current;
    const next: SessionSnapshot = {
      account: current?.account,
      authenticated: current?.accessToken !== undefined,
      restoring: this.isRestoring(),
      lost: current?.lost === true,
      claims: current?.claims,
    };
    const previous = this.snapshot;
    if (
      next.account === previous.account &&
      next.authenticated === previous.authenticated &&
      next.restoring === previous.restoring &&
      next.lost === previous.lost &&
      next.claims === previous.claims
    ) {
      return;
    }
    this.snapshot = next;
    this.emit({ type: "change" });
  }

  private emit(event: SessionEvent): void {
    for (const listener of this.listeners) {
      listener(event);
    }
  }
}

/** Failures after which the refresh token may still be good. */
const TRANSIENT = new Set<Code>([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.ResourceExhausted,
  Code.Aborted,
  Code.Canceled,
  Code.Unknown,
  Code.Internal,
]);

/**
 * Runs `fn` holding a lock shared by every tab of this origin (Web Locks API), so that two tabs
 * never present the same refresh cookie at once: the second waits, then sends the cookie the first
 * one's answer set. Without the API (old browsers, tests) it just runs.
 */
async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const locks = globalThis.navigator?.locks;
  if (!locks) {
    return fn();
  }
  return locks.request(name, fn) as Promise<T>;
}
