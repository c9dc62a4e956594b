/** `createRelay`: SQLite storage, in-process fan-out, the HTTP API and the socket on one port. */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { resolve } from 'node:path'
import { ParlorError } from '@parlor/protocol'
import { DEFAULT_TOKEN_TTL_MS } from './auth.js'
import { createRelayCore } from './core/relay-core.js'
import { createInProcessFanout } from './fanout/in-process.js'
import { createHttpHandler } from './http/http-handler.js'
import { noopLogger, type Logger } from './logger.js'
import { loadOrCreateSecret } from './relay-secret.js'
import { createSocketServer } from './socket/socket-server.js'
import { createSqliteStorage } from './storage/sqlite.js'

/** Options of {@link createRelay}; every field is optional. */
export interface RelayOptions {
  /** TCP port; 0 picks a free one. Default 8787. */
  port?: number
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string
  /** Directory of the SQLite database (and the generated secret); created if missing. Default `./data`. */
  dataDir?: string
  /** HMAC secret that signs session tokens. If absent, one is generated and kept in `dataDir`. */
  secret?: string
  /** How long session tokens are valid, in milliseconds. Default 7 days. */
  tokenTtlMs?: number
  /** Where the relay logs. Default: nowhere. */
  logger?: Logger
  /** Serve this directory (the web app) for GET requests that match no API route. */
  staticDir?: string
  /** How long a new socket may take to send `hello`, in milliseconds. Default 10 000. */
  helloTimeoutMs?: number
}

/** A running relay. */
export interface Relay {
  /** Base URL, e.g. `http://127.0.0.1:41234`; the socket is at `${url}/v1/socket` (ws scheme). */
  readonly url: string
  readonly port: number
  /** Mints a session token for an existing user with this relay's secret (default TTL: the relay's). */
  mintToken(userId: string, ttlMs?: number): string
  /** Stops accepting, closes sockets with `CLOSE_CODES.goingAway`, waits for writes, closes the database. Idempotent. */
  close(): Promise<void>
}

export const defaultRelayOptions = {
  port: 8787,
  host: '127.0.0.1',
  dataDir: './data',
  tokenTtlMs: DEFAULT_TOKEN_TTL_MS,
  helloTimeoutMs: 10_000,
} as const

/**
 * Starts a relay: opens (or creates) the SQLite database in `dataDir`, listens on `host:port`, and
 * resolves once `GET /healthz` answers.
 *
 * @param options see {@link RelayOptions}
 * @returns the running relay
 * @throws if the port is taken, the data directory is unusable, or `secret` is empty
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
  const secret = o.secret ?? (await loadOrCreateSecret(dataDir))
  const storage = await createSqliteStorage({ dataDir })
  const fanout = createInProcessFanout({ logger })
  const core = createRelayCore({ storage, fanout, logger, secret, tokenTtlMs: o.tokenTtlMs })
  const sockets = createSocketServer({ core, fanout, logger: logger.child({ component: 'socket' }), helloTimeoutMs: o.helloTimeoutMs })
  const server = createServer(createHttpHandler({ core, logger: logger.child({ component: 'http' }), staticDir: o.staticDir }))
  server.on('upgrade', (req, socket, head) => sockets.handleUpgrade(req, socket, head))
  server.on('clientError', (err, socket) => {
    logger.debug('http client error', { err })
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
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
    await storage.close()
    throw e
  }
  server.on('error', (err) => logger.error('http server error', { err }))
  const port = (server.address() as AddressInfo).port
  const url = `http://${urlHost(o.host)}:${port}`
  logger.info('relay listening', { url, dataDir })

  let closing: Promise<void> | undefined
  async function shutdown(): Promise<void> {
    const serverClosed = new Promise<void>((done) => server.close(() => done()))
    server.closeIdleConnections()
    await sockets.close()
    // Requests in flight get a moment to finish; then their connections are cut.
    const timer = setTimeout(() => server.closeAllConnections(), 2000)
    await serverClosed
    clearTimeout(timer)
    await core.close()
    await fanout.close()
    await storage.close()
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
