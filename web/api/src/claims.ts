/**
 * The parts of an access token's claims the web apps read (crates/platform/src/auth.rs `Claims`).
 * The token is verified by every service, never by the client: these are read only to show who
 * is logged in and with which powers, and to time the refresh.
 */
export interface AccessClaims {
  /** The user id. */
  sub: string;
  /** Issue and expiry time, seconds since the Unix epoch (by the server's clock). */
  iat: number | undefined;
  exp: number | undefined;
  /** One entry per role grant: role in snake_case ("village_official"), scope as a code prefix
   * ("110101001"; empty = the whole country). */
  roles: { role: string; scope: string }[];
  /** For a delegated token: the helper acting for `sub`. */
  act: { sub: string } | undefined;
}

export function decodeAccessToken(token: string): AccessClaims | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) {
    return undefined;
  }
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const json: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof json !== "object" || json === null) {
      return undefined;
    }
    const claims = json as Record<string, unknown>;
    const roles = Array.isArray(claims.roles)
      ? claims.roles.flatMap((grant: unknown) => {
          const g = grant as Record<string, unknown> | null;
          return g && typeof g.role === "string"
            ? [{ role: g.role, scope: typeof g.scope === "string" ? g.scope : "" }]
            : [];
        })
      : [];
    const act = claims.act as Record<string, unknown> | undefined;
    return {
      sub: typeof claims.sub === "string" ? claims.sub : "",
      iat: typeof claims.iat === "number" ? claims.iat : undefined,
      exp: typeof claims.exp === "number" ? claims.exp : undefined,
      roles,
      act: act && typeof act.sub === "string" ? { sub: act.sub } : undefined,
    };
  } catch {
    return undefined;
  }
}
