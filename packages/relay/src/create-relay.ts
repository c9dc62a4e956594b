/**
 * `createRelay`: storage (SQLite, or PostgreSQL with `databaseUrl`), fan-out (in-process, or Redis with
 * `redisUrl`), the HTTP API, `/metrics`, `/readyz` and the socket on one port.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { resolve } from 'node:path'
import { LIMITS, ParlorError } from '@parlor/protocol'
import { DEFAULT_TOKEN_TTL_MS } from './auth.js'
import { openBackends } from './backends.js'
import { createRelayCore } from './core/relay-core.js'
import { createHttpHandler } from './http/http-handler.js'
import { noopLogger, type Logger } from './logger.js'
import { createRelayMetrics } from './metrics-relay.js'
import { createSocketServer } from './socket/socket-server.js'

/** Options of {@link createRelay}; every field is optional. */
export interface RelayOptions {
  /** TCP port; 0 picks a free one. Default 8787. */
  port?: number
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string
  /** Directory of the SQLite database (and the generated secret); created if missing. Default `./data`. */
  dataDir?: string
  /**
   * PostgreSQL instead of SQLite (`postgres://user:pass@host:port/db`), for several relay processes
   * on one database. Without `secret`, the token secret is kept in the database (shared by the nodes).
   */
  databaseUrl?: string
  /** Redis fan-out between the relay processes of one database (`redis://host:port`); needs `databaseUrl`. */
  redisUrl?: string
  /** HMAC secret that signs session tokens. If absent, one is generated and kept in `dataDir`. */
  secret?: string
  /** How long session tokens are valid, in milliseconds. Default 7 days. */
  tokenTtlMs?: number
  /** Where the relay logs. Default: nowhere. */
  logger?: Logger
  /** Serve this directory (the web app) for GET requests that match no API route. */
  staticDir?: string
  /** How long a new socket may take to send `hello`, in milliseconds. Default `LIMITS.helloTimeoutMs`. */
  helloTimeoutMs?: number
  /** Websocket ping interval; a socket that missed the previous ping is dropped. Default `LIMITS.heartbeatIntervalMs`. */
  heartbeatIntervalMs?: number
  /** Frames per second one socket may send, and its burst. Defaults `LIMITS.maxFramesPerSecond`, `LIMITS.maxFrameBurst`. */
  maxFramesPerSecond?: number
  maxFrameBurst?: number
  /** Sockets one user may hold on this relay. Default `LIMITS.maxSocketsPerUser`. */
  maxSocketsPerUser?: number
  /** HTTP: time to receive headers, the whole request, and idle keep-alive time. Defaults from `LIMITS`. */
  httpHeadersTimeoutMs?: number
  httpRequestTimeoutMs?: number
  httpIdleTimeoutMs?: number
}

/** A running relay. */
export interface Relay {
  /** Base URL, e.g. `http://127.0.0.1:41234`; the socket is at `${url}/v1/socket` (ws scheme). */
  readonly url: string
  readonly port: number
  /** Mints a session token for an existing user with this relay's secret (default TTL: the relay's). */
  mintToken(userId: string, ttlMs?: number): string
  /**
   * Drains: `/readyz` answers 503, stops accepting, closes sockets with `CLOSE_CODES.goingAway` (engines
   * move to another node), waits for writes and their fan-out, closes the database. Idempotent.
   */
  close(): Promise<void>
}

export const defaultRelayOptions = {
  port: 8787,
  host: '127.0.0.1',
  dataDir: './data',
  tokenTtlMs: DEFAULT_TOKEN_TTL_MS,
  helloTimeoutMs: LIMITS.helloTimeoutMs,
  heartbeatIntervalMs: LIMITS.heartbeatIntervalMs,
  maxFramesPerSecond: LIMITS.maxFramesPerSecond,
  maxFrameBurst: LIMITS.maxFrameBurst,
  maxSocketsPerUser: LIMITS.maxSocketsPerUser,
  httpHeadersTimeoutMs: LIMITS.httpHeadersTimeoutMs,
  httpRequestTimeoutMs: LIMITS.httpRequestTimeoutMs,
  httpIdleTimeoutMs: LIMITS.httpIdleTimeoutMs,
} as const

/**
 * Starts a relay: opens (or creates) the SQLite database in `dataDir` (or PostgreSQL at `databaseUrl`,
 * with Redis fan-out at `redisUrl`), listens on `host:port`, and resolves once `GET /healthz` answers.
 *
 * @param options see {@link RelayOptions}
 * @returns the running relay
 * @throws if the port is taken, the data directory is unusable, the database or Redis cannot be
 *   reached, `secret` is empty, or `redisUrl` is given without `databaseUrl` (`validation`)
 * @example
 * const relay = await createRelay({ port: 0, dataDir: './data' })
 * console.log(relay.url) // http://127.0.0.1:41234
 * await relay.close()
 */
export async function createRelay(options: RelayOptions = {}): Promise<Relay> {
  const o = { ...defaultRelayOptions, ...stripUndefined(options) }
  const logger = o.logger ?? noopLogger
  if (o.secret !== undefined && o.secret.length === 0) throw new ParlorError('validation', 'secret must not be empty')
  const dataDir = resolve(o.dataDir)
  let isDraining = false
  // Gauges are read when scraped, by which time `sockets` and `backends` exist.
  const metrics = createRelayMetrics({
    registry: () => sockets.registry.size(),
    isDraining: () => isDraining,
    optionsDocs: () => core.optionsDocsInMemory(),
    outboxDepth: () => sockets.outboxDepth(),
    ...(o.redisUrl !== undefined && { watermark: () => backends.redis?.watermark() ?? 0, isRedisUp: () => backends.redis?.isConnected() ?? false }),
  })
  const backends = await openBackends({
    dataDir,
    ...(o.databaseUrl !== undefined && { databaseUrl: o.databaseUrl }),
    ...(o.redisUrl !== undefined && { redisUrl: o.redisUrl }),
    ...(o.secret !== undefined && { secret: o.secret }),
    logger,
    fanoutObserver: metrics.fanoutObserver,
  })
  const { storage, fanout, secret } = backends
  const core = metrics.instrumentCore(createRelayCore({ storage, fanout, logger, secret, tokenTtlMs: o.tokenTtlMs }))
  const sockets = createSocketServer({
    core,
    fanout,
    logger: logger.child({ component: 'socket' }),
    helloTimeoutMs: o.helloTimeoutMs,
    heartbeatMs: o.heartbeatIntervalMs,
    frameRate: o.maxFramesPerSecond,
    frameBurst: o.maxFrameBurst,
    maxSocketsPerUser: o.maxSocketsPerUser,
  })
  const api = createHttpHandler({ core, logger: logger.child({ component: 'http' }), staticDir: o.staticDir })
  const readiness = async () => (isDraining ? { ok: false, draining: true } : { ...(await backends.health()), draining: false })
  // Slow or stalled clients (slowloris) are cut off: headers, the whole request and idle keep-alive
  // connections are bounded. Node checks the first two every connectionsCheckingInterval.
  const server = createServer({
    headersTimeout: Math.min(o.httpHeadersTimeoutMs, o.httpRequestTimeoutMs),
    requestTimeout: o.httpRequestTimeoutMs,
    keepAliveTimeout: o.httpIdleTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(o.httpHeadersTimeoutMs / 4))),
  }, (req, res) => {
    metrics.trackResponse(res)
    if (!metrics.handle(req, res, readiness)) void api(req, res)
  })
  server.on('upgrade', (req, socket, head) => {
    metrics.trackSocket(socket)
    sockets.handleUpgrade(req, socket, head)
  })
  server.on('clientError', (err, socket) => {
    logger.debug('http client error', { err })
    // A request that took too long (headers or body past their timeout) is told so: 408.
    const isTimeout = (err as NodeJS.ErrnoException).code === 'ERR_HTTP_REQUEST_TIMEOUT'
    const status = isTimeout ? '408 Request Timeout' : '400 Bad Request'
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`)
    else socket.destroy()
  })

  try {
    await new Promise<void>((done, fail) => {
      server.once('error', fail)
      server.listen(o.port, o.host, () => {
        server.off('error', fail)
        done()
      })
    })
  } catch (e) {
    await sockets.close()
    await backends.close()
    throw e
  }
  server.on('error', (err) => logger.error('http server error', { err }))
  const port = (server.address() as AddressInfo).port
  const url = `http://${urlHost(o.host)}:${port}`
  logger.info('relay listening', { url, ...(o.databaseUrl === undefined && { dataDir }) })

  let closing: Promise<void> | undefined
  async function shutdown(): Promise<void> {
    isDraining = true
    logger.info('relay draining', { url })
    const serverClosed = new Promise<void>((done) => server.close(() => done()))
    server.closeIdleConnections()
    await sockets.close()
    // Requests in flight get a moment to finish; then their connections are cut.
    const timer = setTimeout(() => server.closeAllConnections(), 2000)
    await serverClosed
    clearTimeout(timer)
    await core.close()
    await backends.close()
    logger.info('relay closed', { url })
  }

  return {
    url,
    port,
    mintToken: (userId, ttlMs) => core.mintToken(userId, ttlMs),
    close: () => (closing ??= shutdown()),
  }
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1'
  return host.includes(':') ? `[${host}]` : host
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
