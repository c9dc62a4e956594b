/**
 * Every HTTP route and websocket endpoint the relay answers, with who may call it. The HTTP handler
 * dispatches from {@link API_ROUTES}, so a route cannot exist without being listed here; the
 * authorization matrix test (test/src/security) fails for a listed route it does not cover.
 */

/**
 * Who may call a route: anyone, a bearer token, (upgrade endpoints) a token in the first frame, or a
 * token in the query string (`?token=`, the y-websocket endpoint: its clients cannot send headers).
 */
export type RouteAuth = 'none' | 'bearer' | 'hello' | 'query'

export interface RouteInfo {
  method: 'GET' | 'POST'
  /** The path; `:name` segments are parameters. */
  path: string
  auth: RouteAuth
  /** What it is for (one line). */
  purpose: string
}

/** The JSON API (`http-handler.ts`). */
export const API_ROUTES = [
  { method: 'GET', path: '/healthz', auth: 'none', purpose: 'liveness' },
  { method: 'POST', path: '/v1/session', auth: 'none', purpose: 'sign in (user key) or register; answers a token' },
  { method: 'POST', path: '/v1/logout', auth: 'bearer', purpose: "revoke the token's session" },
  { method: 'POST', path: '/v1/mutations', auth: 'bearer', purpose: 'apply mutations' },
  { method: 'POST', path: '/v1/query', auth: 'bearer', purpose: 'run one query' },
  { method: 'GET', path: '/v1/sync', auth: 'bearer', purpose: 'catch-up since ?cursor=' },
] as const satisfies readonly RouteInfo[]

/** Operations routes answered before the API (`metrics-relay.ts`). */
export const OPS_ROUTES = [
  { method: 'GET', path: '/metrics', auth: 'none', purpose: 'Prometheus metrics (counts only, no user data)' },
  { method: 'GET', path: '/readyz', auth: 'none', purpose: 'readiness' },
] as const satisfies readonly RouteInfo[]

/** Websocket endpoints (upgrade requests). */
export const UPGRADE_ROUTES = [
  { method: 'GET', path: '/v1/socket', auth: 'hello', purpose: 'the engine socket (every room)' },
  { method: 'GET', path: '/yjs/:roomId', auth: 'query', purpose: "one room's options document for y-websocket clients" },
] as const satisfies readonly RouteInfo[]

/** Every route of the relay. */
export function relayRoutes(): RouteInfo[] {
  return [...API_ROUTES, ...OPS_ROUTES, ...UPGRADE_ROUTES]
}
