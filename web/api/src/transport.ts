import type { Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";

export interface TransportOptions {
  /**
   * Where gRPC-Web calls go. Default: the page's own origin. The Rust server serves the web apps
   * (`/console/`, `/farmer/`) on the gRPC port, and Vite's dev server proxies `/terrace.*` and
   * `/grpc.*` there, so same-origin is right everywhere and no CORS preflight is needed.
   */
  baseUrl?: string;
  interceptors?: Interceptor[];
}

/**
 * Asks the server to answer errors in the app's language: the server negotiates
 * `Accept-Language` (crates/platform/src/i18n.rs) and puts the text beside each field
 * (`FieldViolation.localized_message`) and for the whole error (`LocalizedMessage`). The browser's
 * own header names the browser's language, not the one chosen in the app, so it is set per call.
 */
export function languageInterceptor(language: () => string): Interceptor {
  return (next) => (request) => {
    const tag = language();
    if (tag) request.header.set("accept-language", tag);
    return next(request);
  };
}

/**
 * Sends cookies with every call. The refresh token is an HttpOnly cookie scoped to
 * `/terrace.identity.v1.IdentityService/` that the server sets and reads; the page never sees it.
 * `same-origin` (not `include`): the cookie must never go to another origin.
 */
const fetchWithCookies: typeof globalThis.fetch = (input, init) =>
  globalThis.fetch(input, { ...init, credentials: "same-origin" });

export function createTransport(options: TransportOptions = {}): Transport {
  return createGrpcWebTransport({
    baseUrl: options.baseUrl ?? globalThis.location.origin,
    fetch: fetchWithCookies,
    interceptors: options.interceptors ?? [],
  });
}
