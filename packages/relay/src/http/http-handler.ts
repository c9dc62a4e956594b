/**
 * The HTTP API (PROTOCOL.md "HTTP"): routing, authentication and error answers. Every handler runs
 * inside one try/catch: a ParlorError becomes `{ error: { code, message } }` with its status, anything
 * else is logged and answered `internal`, so no request can crash the relay.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { ParlorError, mutationsRequestSchema, parseWith, toParlorError } from '@parlor/protocol'
import type { RelayCore } from '../core/relay-core.js'
import type { Logger } from '../logger.js'
import { CORS_HEADERS, bearerToken, readJsonBody, sendError, sendJson } from './http-io.js'
import { API_ROUTES } from './http-routes.js'
import { serveStatic } from './static-files.js'

type Route = (req: IncomingMessage, url: URL) => Promise<unknown>
type ApiRoute = (typeof API_ROUTES)[number]
type RouteKey = ApiRoute extends infer R ? (R extends ApiRoute ? `${R['method']} ${R['path']}` : never) : never

export interface HttpHandlerOptions {
  core: RelayCore
  logger: Logger
  staticDir?: string
}

export function createHttpHandler(o: HttpHandlerOptions): RequestListener {
  const { core, logger } = o
  const userOf = async (req: IncomingMessage) => (await core.authenticate(bearerToken(req))).userId

  // One handler per route of API_ROUTES (the type makes a missing or an unlisted one an error).
  const handlers: Record<RouteKey, Route> = {
    'GET /healthz': async () => ({ ok: true }),
    'POST /v1/session': async (req) => core.openSession(await readJsonBody(req)),
    'POST /v1/logout': async (req) => core.logout(bearerToken(req)),
    'POST /v1/mutations': async (req) => {
      const userId = await userOf(req)
      const { mutations } = parseWith(mutationsRequestSchema, await readJsonBody(req), 'body')
      return { results: await core.applyMutations(userId, mutations) }
    },
    'POST /v1/query': async (req) => {
      const userId = await userOf(req)
      return core.query(userId, await readJsonBody(req))
    },
    'GET /v1/sync': async (req, url) => {
      const userId = await userOf(req)
      return (await core.catchUp(userId, parseCursor(url.searchParams.get('cursor')))).frame
    },
  }
  const routes: Record<string, Record<string, Route>> = {
    '/v1/socket': {
      GET: async () => {
        throw new ParlorError('bad_frame', 'this route is a websocket endpoint: send an upgrade request')
      },
    },
  }
  for (const { method, path } of API_ROUTES) (routes[path] ??= {})[method] = handlers[`${method} ${path}` as RouteKey]

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = requestUrl(req.url ?? '/')
    const method = req.method ?? 'GET'
    const route = routes[url.pathname]
    if (method === 'OPTIONS') {
      res.writeHead(204, CORS_HEADERS)
      return void res.end()
    }
    if (route) {
      const handler = route[method] ?? (method === 'HEAD' ? route.GET : undefined)
      if (!handler) {
        const allow = Object.keys(route).join(', ')
        return sendError(res, new ParlorError('bad_frame', `${method} is not allowed on ${url.pathname}; use ${allow}`), 405, { allow })
      }
      return sendJson(res, 200, await handler(req, url))
    }
    const isApi = url.pathname.startsWith('/v1/') || url.pathname === '/v1'
    if (!isApi && o.staticDir && (method === 'GET' || method === 'HEAD')) {
      if (await serveStatic(o.staticDir, url.pathname, req, res)) return
    }
    sendError(res, new ParlorError('not_found', `no route ${method} ${url.pathname}`))
  }

  return (req, res) => {
    handle(req, res).catch((e: unknown) => {
      const err = toParlorError(e)
      if (err.code === 'internal') logger.error('http request failed', { err: e, method: req.method, url: req.url })
      try {
        sendError(res, err.code === 'internal' ? new ParlorError('internal', 'the relay failed to handle the request') : err)
      } catch (inner) {
        logger.error('http error answer failed', { err: inner })
        res.destroy()
      }
    })
  }
}

/**
 * The request's URL. A path is joined to a dummy origin by hand: `new URL('//x', base)` would read
 * `//x` as a host (and throw on a bad one), so a path like `//%F1` must not become a crash.
 */
function requestUrl(raw: string): URL {
  try {
    return new URL(raw.startsWith('/') ? `http://relay.invalid${raw}` : raw, 'http://relay.invalid')
  } catch (e) {
    throw new ParlorError('bad_frame', 'the request path is not a valid URL path', { cause: e })
  }
}

/** `?cursor=N`: a non-negative integer; absent means 0 (everything). */
function parseCursor(value: string | null): number {
  if (value === null) return 0
  if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new ParlorError('validation', 'cursor: expected a non-negative integer')
  }
  return Number(value)
}
