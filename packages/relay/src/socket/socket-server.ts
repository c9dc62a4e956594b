/**
 * The websocket endpoint `/v1/socket`: upgrades HTTP requests (ws in `noServer` mode), wires each
 * socket to a {@link Connection}, routes published changes through the {@link ConnectionRegistry},
 * and detects dead peers with websocket pings.
 */
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { CLOSE_CODES, LIMITS } from '@parlor/protocol'
import type { RelayCore } from '../core/relay-core.js'
import type { Fanout } from '../fanout/fanout.js'
import type { Logger } from '../logger.js'
import { Connection, type FrameSocket } from './connection.js'
import { ConnectionRegistry } from './connection-registry.js'
import { createYjsEndpoint } from './yjs-endpoint.js'

export const SOCKET_PATH = '/v1/socket'

export interface SocketServerOptions {
  core: RelayCore
  fanout: Fanout
  logger: Logger
  helloTimeoutMs: number
  /** Frames per second per socket. Default `LIMITS.maxFramesPerSecond`. */
  frameRate?: number
  /** Frames a socket may send at once. Default `LIMITS.maxFrameBurst`. */
  frameBurst?: number
  /** Ping interval; a socket that did not answer the previous ping is dropped. Default `LIMITS.heartbeatIntervalMs`. */
  heartbeatMs?: number
  /** Sockets one user may hold. Default `LIMITS.maxSocketsPerUser`. */
  maxSocketsPerUser?: number
}

export function createSocketServer(o: SocketServerOptions) {
  // Frames up to maxFrameBytes are accepted; larger ones up to twice that are answered with a
  // `payload_too_large` error frame and the socket stays open; beyond that ws closes it (1009).
  const wss = new WebSocketServer({ noServer: true, maxPayload: LIMITS.maxFrameBytes * 2, perMessageDeflate: false })
  const registry = new ConnectionRegistry<Connection>()
  const sockets = new Map<WebSocket, { conn: Connection; isAlive: boolean }>()
  /** Sockets by user, counted from authentication (not only once live) for the per-user bound. */
  const byUser = new Map<string, Set<Connection>>()
  const maxSocketsPerUser = o.maxSocketsPerUser ?? LIMITS.maxSocketsPerUser
  const unsubscribe = o.fanout.subscribe((change) => registry.route(change))
  /** `/yjs/<roomId>`: one room's options document for standard y-websocket clients. */
  const yjs = createYjsEndpoint({
    core: o.core,
    fanout: o.fanout,
    logger: o.logger.child({ endpoint: 'yjs' }),
    ...(o.heartbeatMs !== undefined && { heartbeatMs: o.heartbeatMs }),
    ...(o.frameRate !== undefined && { messageRate: o.frameRate }),
  })

  // A revoked session's sockets close at once on this node; other nodes learn it at their next heartbeat.
  const closeSession = (sessionId: string) => {
    for (const { conn } of sockets.values()) {
      if (conn.sessionId === sessionId) conn.close(CLOSE_CODES.unauthorized, 'this session was logged out; sign in again')
    }
  }
  const offRevoked = o.core.onSessionRevoked(closeSession)

  const heartbeat = setInterval(() => {
    const sessionIds: string[] = []
    for (const [ws, entry] of sockets) {
      if (!entry.isAlive) {
        o.logger.debug('dropping a socket that did not answer a ping')
        ws.terminate()
        continue
      }
      entry.isAlive = false
      ws.ping()
      if (entry.conn.sessionId !== undefined) sessionIds.push(entry.conn.sessionId)
    }
    if (sessionIds.length === 0) return
    o.core.revokedAmong(sessionIds).then(
      (revoked) => revoked.forEach(closeSession),
      (err: unknown) => o.logger.debug('revocation check failed', { err }),
    )
  }, o.heartbeatMs ?? LIMITS.heartbeatIntervalMs)
  heartbeat.unref()

  const admit = (conn: Connection): boolean => {
    const userId = conn.userId!
    let set = byUser.get(userId)
    if (!set) byUser.set(userId, (set = new Set()))
    if (set.size >= maxSocketsPerUser) return false
    set.add(conn)
    return true
  }
  const release = (conn: Connection) => {
    const set = conn.userId === undefined ? undefined : byUser.get(conn.userId)
    if (!set?.delete(conn)) return
    if (set.size === 0) byUser.delete(conn.userId!)
  }

  function accept(ws: WebSocket): void {
    const conn = new Connection({
      socket: batchingSends(ws),
      core: o.core,
      registry,
      logger: o.logger,
      helloTimeoutMs: o.helloTimeoutMs,
      frameRate: o.frameRate ?? LIMITS.maxFramesPerSecond,
      frameBurst: o.frameBurst ?? LIMITS.maxFrameBurst,
      maxBufferedBytes: LIMITS.maxSocketBufferedBytes,
      admit,
    })
    const entry = { conn, isAlive: true }
    sockets.set(ws, entry)
    ws.on('message', (data, isBinary) => {
      entry.isAlive = true
      conn.onMessage(toBuffer(data), isBinary)
    })
    ws.on('pong', () => (entry.isAlive = true))
    ws.on('close', () => {
      sockets.delete(ws)
      release(conn)
      conn.onClose()
    })
    ws.on('error', (err) => o.logger.debug('socket error', { err }))
  }

  return {
    registry,

    /**
     * The outbox depths engines reported on this node's live sockets: their sum, the largest, and
     * how many sockets reported a non-empty outbox. Computed when asked (a metrics scrape).
     */
    outboxDepth(): { sum: number; max: number; nonEmpty: number } {
      let sum = 0
      let max = 0
      let nonEmpty = 0
      for (const { conn } of sockets.values()) {
        if (!conn.isLive || conn.pending === 0) continue
        sum += conn.pending
        max = Math.max(max, conn.pending)
        nonEmpty++
      }
      return { sum, max, nonEmpty }
    },

    /** Open sockets (any state) and sockets of `userId`, for tests and metrics. */
    socketCount(userId?: string): number {
      return userId === undefined ? sockets.size : (byUser.get(userId)?.size ?? 0)
    },

    /** Handles an HTTP `upgrade` event; refuses other paths with 404. */
    handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
      socket.on('error', () => socket.destroy())
      const path = (req.url ?? '').split('?')[0] ?? ''
      if (yjs.matches(path)) return yjs.handleUpgrade(req, socket, head)
      if (path !== SOCKET_PATH) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
        return
      }
      wss.handleUpgrade(req, socket, head, accept)
    },

    /** Closes every socket with `goingAway` and waits (briefly) for them to go. */
    async close(): Promise<void> {
      unsubscribe()
      offRevoked()
      clearInterval(heartbeat)
      await yjs.close()
      const closed = [...sockets.keys()].map(
        (ws) => new Promise<void>((resolve) => {
          if (ws.readyState === ws.CLOSED) return resolve()
          ws.once('close', () => resolve())
        }),
      )
      for (const [ws, { conn }] of sockets) {
        conn.close(CLOSE_CODES.goingAway, 'relay shutting down')
        if (ws.readyState === ws.CONNECTING) ws.terminate()
      }
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, 1000).unref())
      await Promise.race([Promise.all(closed), timeout])
      for (const ws of sockets.keys()) ws.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    },
  }
}

function toBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data
  if (Array.isArray(data)) return Buffer.concat(data)
  return Buffer.from(data)
}

/**
 * The frames sent to one socket in one turn of the event loop (a mutate frame's changes and its
 * ack, a burst of fan-out) leave in one write instead of one system call each: the TCP socket is
 * corked at the turn's first send and uncorked once the turn is over. ws keeps that socket private
 * (`_socket`); without it, frames go out one by one.
 */
function batchingSends(ws: WebSocket): FrameSocket {
  const tcp = (ws as unknown as { _socket?: Socket })._socket
  let isCorked = false
  const uncork = () => {
    isCorked = false
    tcp!.uncork()
  }
  return {
    send(text) {
      if (tcp && !isCorked) {
        isCorked = true
        tcp.cork()
        setImmediate(uncork)
      }
      ws.send(text)
    },
    close: (code, reason) => ws.close(code, reason),
    get bufferedAmount() {
      return ws.bufferedAmount
    },
  }
}
