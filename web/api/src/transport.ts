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
