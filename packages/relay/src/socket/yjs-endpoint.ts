/**
 * The y-websocket-compatible endpoint `/yjs/<roomId>?token=…`: one room's options document per
 * socket, in the y-protocols message format (sync step 1/2 and updates, awareness), so a standard
 * `y-websocket` `WebsocketProvider` can read and write it.
 *
 * The same rules as the engine socket: the token signs a user in (else closed `refusedToken`);
 * participants may read and write, anyone signed in may read a channel, others are
 * closed `forbidden`; every incoming update goes through the relay core's validation and is
 * published like an `updateOptions` mutation (engines receive it), and an update the relay refuses
 * closes the socket `invalidUpdate` with the reason, the document unchanged. A participant removed
 * from the room is closed at once (a channel's stays as a reader). Refusals use codes 4400–4499,
 * which y-websocket clients take as final (they do not reconnect).
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { WebSocketServer, type WebSocket } from 'ws'
import { CLOSE_CODES, LIMITS, ParlorError, decodeOptionsUpdate, roomIdSchema, toParlorError, validateOptionsUpdate, type ErrorCode } from '@parlor/protocol'
import type { RelayCore } from '../core/relay-core.js'
import { echoOrigin, type Fanout, type RelayChange } from '../fanout/fanout.js'
import type { Logger } from '../logger.js'
import { TokenBucket } from './token-bucket.js'

export const YJS_PATH_PREFIX = '/yjs/'

/** y-websocket message types, and y-protocols sync message types. */
const MESSAGE_SYNC = 0
const MESSAGE_AWARENESS = 1
const MESSAGE_AUTH = 2
const MESSAGE_QUERY_AWARENESS = 3
const SYNC_STEP1 = 0
const SYNC_STEP2 = 1
const SYNC_UPDATE = 2

/** An empty Yjs update (no structs, no deletions). */
const EMPTY_UPDATE = new Uint8Array([0, 0])

export interface YjsEndpointOptions {
  core: RelayCore
  fanout: Fanout
  logger: Logger
  /** Messages per second per socket (burst: twice that). Default `LIMITS.maxFramesPerSecond`. */
  messageRate?: number
  heartbeatMs?: number
}

const CLOSE_FOR: Partial<Record<ErrorCode, number>> = {
  unauthorized: CLOSE_CODES.refusedToken,
  token_expired: CLOSE_CODES.refusedToken,
  forbidden: CLOSE_CODES.forbidden,
  not_found: CLOSE_CODES.notFound,
  validation: CLOSE_CODES.invalidUpdate,
  limit_exceeded: CLOSE_CODES.invalidUpdate,
  closed: CLOSE_CODES.goingAway,
}

/** Close reasons are limited to 123 bytes by the websocket protocol. */
const reason = (s: string) => (Buffer.byteLength(s) <= 123 ? s : Buffer.from(s).subarray(0, 120).toString('utf8') + '…')

export function createYjsEndpoint(o: YjsEndpointOptions) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: LIMITS.maxOptionsUpdateBytes + 4096, perMessageDeflate: false })
  const byRoom = new Map<string, Set<YjsConnection>>()
  const all = new Set<YjsConnection>()
  const unsubscribe = o.fanout.subscribe((change) => {
    const conns = byRoom.get(change.roomId)
    if (!conns) return
    // Encoded once for every socket of the room (the same bytes go to each).
    let message: Uint8Array | undefined
    if (change.optionsUpdate !== undefined) {
      try {
        message = syncMessage(SYNC_UPDATE, decodeOptionsUpdate(change.optionsUpdate))
      } catch (err) {
        o.logger.warn('unreadable options update in a change', { err, roomId: change.roomId })
      }
    }
    // Not back to the socket that sent exactly this update (y-websocket's server echoes it; the
    // client has it already). Any more than it sent (entries the relay removed) goes to it too.
    const origin = echoOrigin(change)
    for (const conn of conns) conn.onChange(change, conn === origin ? undefined : message)
  })
  const offRevoked = o.core.onSessionRevoked((sessionId) => {
    for (const conn of all) if (conn.sessionId === sessionId) conn.close(CLOSE_CODES.refusedToken, 'this session was logged out; sign in again')
  })
  const heartbeat = setInterval(() => {
    for (const conn of all) conn.heartbeat()
  }, o.heartbeatMs ?? LIMITS.heartbeatIntervalMs)
  heartbeat.unref()

  const room = {
    join(conn: YjsConnection) {
      let set = byRoom.get(conn.roomId)
      if (!set) byRoom.set(conn.roomId, (set = new Set()))
      set.add(conn)
    },
    leave(conn: YjsConnection) {
      const set = byRoom.get(conn.roomId)
      if (!set?.delete(conn)) return
      if (set.size === 0) byRoom.delete(conn.roomId)
    },
    others: (conn: YjsConnection) => [...(byRoom.get(conn.roomId) ?? [])].filter((c) => c !== conn),
  }

  function accept(ws: WebSocket, roomId: string, token: string | undefined): void {
    const conn = new YjsConnection(ws, roomId, o, room)
    all.add(conn)
    ws.on('close', () => {
      all.delete(conn)
      conn.onClose()
    })
    ws.on('error', (err) => o.logger.debug('yjs socket error', { err }))
    void conn.open(token)
  }

  return {
    /** Whether `path` belongs to this endpoint. */
    matches: (path: string): boolean => path.startsWith(YJS_PATH_PREFIX),

    /** Handles an upgrade request for `/yjs/<roomId>?token=…`. */
    handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
      const url = new URL(req.url ?? '/', 'http://relay')
      let roomId: string
      try {
        roomId = decodeURIComponent(url.pathname.slice(YJS_PATH_PREFIX.length))
      } catch {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
        return
      }
      const token = url.searchParams.get('token') ?? undefined
      wss.handleUpgrade(req, socket, head, (ws) => accept(ws, roomId, token))
    },

    /** Open sockets (tests, metrics). */
    size: (): number => all.size,

    async close(): Promise<void> {
      unsubscribe()
      offRevoked()
      clearInterval(heartbeat)
      for (const conn of all) conn.close(CLOSE_CODES.goingAway, 'relay shutting down')
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    },
  }
}

interface RoomIndex {
  join(conn: YjsConnection): void
  leave(conn: YjsConnection): void
  others(conn: YjsConnection): YjsConnection[]
}

class YjsConnection {
  userId: string | undefined
  sessionId: string | undefined
  private state: 'opening' | 'open' | 'closed' = 'opening'
  private canWrite = false
  private isAlive = true
  /** Changes published while the socket was opening (with their message), sent once it is open. */
  private held: [RelayChange, Uint8Array | undefined][] = []
  /** Inbound messages run in order, after the opening (messages may arrive before it is done). */
  private inbound: Promise<void>
  private opened!: () => void
  private readonly bucket: TokenBucket
  private expiryTimer: ReturnType<typeof setTimeout> | undefined
  /** Awareness states this socket announced: client id → [clock, state JSON]. */
  readonly awareness = new Map<number, [number, string]>()

  constructor(
    private readonly ws: WebSocket,
    readonly roomId: string,
    private readonly o: YjsEndpointOptions,
    private readonly room: RoomIndex,
  ) {
    const rate = o.messageRate ?? LIMITS.maxFramesPerSecond
    this.bucket = new TokenBucket(rate, rate * 2)
    this.inbound = new Promise<void>((resolve) => (this.opened = resolve))
    ws.on('message', (data, isBinary) => this.onMessage(toBuffer(data), isBinary))
    ws.on('pong', () => (this.isAlive = true))
  }

  /** Authenticates, checks read access, then starts the y-protocols handshake. */
  async open(token: string | undefined): Promise<void> {
    try {
      const verified = await this.o.core.authenticate(token)
      if (this.isClosed()) return
      this.userId = verified.userId
      this.sessionId = verified.sessionId
      // A path that is no room id names no room (and is never looked up).
      if (!roomIdSchema.safeParse(this.roomId).success) throw new ParlorError('not_found', 'no room has this id')
      // Listen before reading the document, so no update committed meanwhile is missed.
      this.room.join(this)
      const doc = await this.o.core.optionsDoc(verified.userId, this.roomId)
      if (this.isClosed()) return
      this.canWrite = doc.canWrite
      this.state = 'open'
      const delay = verified.expiresAt - Date.now()
      this.expiryTimer = setTimeout(() => this.close(CLOSE_CODES.refusedToken, 'the session token expired'), Math.min(Math.max(delay, 0), 2 ** 31 - 1))
      this.expiryTimer.unref()
      this.send(syncMessage(SYNC_STEP1, Y.encodeStateVectorFromUpdate(doc.state ?? EMPTY_UPDATE)))
      const others = this.room.others(this).filter((c) => c.awareness.size > 0)
      if (others.length > 0) this.send(awarenessMessage(others.flatMap((c) => [...c.awareness])))
      for (const [change, message] of this.held.splice(0)) this.onChange(change, message)
    } catch (e) {
      this.refuse(e)
    } finally {
      this.opened()
    }
  }

  private isClosed(): boolean {
    return this.state === 'closed'
  }

  private refuse(e: unknown): void {
    const err = toParlorError(e)
    if (err.code === 'internal') this.o.logger.error('yjs endpoint failed', { err: e, roomId: this.roomId })
    this.close(CLOSE_FOR[err.code] ?? 1011, `${err.code}: ${err.message}`)
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.state === 'closed') return
    if (!this.bucket.take()) return this.close(CLOSE_CODES.rateLimited, `too many messages; retryAfterMs=${this.bucket.retryAfterMs()}`)
    this.isAlive = true
    this.inbound = this.inbound
      .then(() => this.handle(data, isBinary))
      .catch((e: unknown) => this.refuse(e))
  }

  private async handle(data: Buffer, isBinary: boolean): Promise<void> {
    if (this.state !== 'open') return
    if (!isBinary) return this.close(CLOSE_CODES.invalidUpdate, 'y-websocket messages are binary')
    let message: { type: 'step1'; sv: Uint8Array } | { type: 'update'; update: Uint8Array } | { type: 'awareness'; payload: Uint8Array } | { type: 'query' } | { type: 'ignore' }
    try {
      message = decodeMessage(data)
    } catch {
      return this.close(CLOSE_CODES.invalidUpdate, 'malformed y-websocket message')
    }
    switch (message.type) {
      case 'step1': {
        // Read access is checked again: a removed participant gets nothing more.
        const doc = await this.o.core.optionsDoc(this.userId!, this.roomId)
        if (this.state !== 'open') return
        this.canWrite = doc.canWrite
        let diff: Uint8Array
        try {
          diff = Y.diffUpdate(doc.state ?? EMPTY_UPDATE, message.sv)
        } catch {
          return this.close(CLOSE_CODES.invalidUpdate, 'malformed state vector')
        }
        return this.send(syncMessage(SYNC_STEP2, diff))
      }
      case 'update':
        return this.write(message.update)
      case 'awareness':
        return this.onAwareness(message.payload)
      case 'query': {
        const others = this.room.others(this).filter((c) => c.awareness.size > 0)
        if (others.length > 0) this.send(awarenessMessage(others.flatMap((c) => [...c.awareness])))
        return
      }
      case 'ignore':
        return
    }
  }

  /** An update from the client: applied through the relay core, or refused (closing the socket). */
  private async write(update: Uint8Array): Promise<void> {
    if (!this.canWrite) {
      // A reader (a channel it has not joined) may send what the relay has already (sync step 2).
      const { state } = await this.o.core.optionsDoc(this.userId!, this.roomId)
      const { effective } = validateOptionsUpdate(state, update)
      if (effective) this.close(CLOSE_CODES.forbidden, 'forbidden: only participants may change the options')
      return
    }
    await this.o.core.applyOptionsUpdate(this.userId!, this.roomId, update, this)
  }

  private onAwareness(payload: Uint8Array): void {
    try {
      for (const [clientId, entry] of decodeAwareness(payload)) {
        if (entry[1] === 'null') this.awareness.delete(clientId)
        else this.awareness.set(clientId, entry)
        if (this.awareness.size > 64) return this.close(CLOSE_CODES.invalidUpdate, 'too many awareness states')
      }
    } catch {
      return this.close(CLOSE_CODES.invalidUpdate, 'malformed awareness message')
    }
    const message = encoding.encode((e) => {
      encoding.writeVarUint(e, MESSAGE_AWARENESS)
      encoding.writeVarUint8Array(e, payload)
    })
    // Back to everyone, the sender too (as y-websocket's server does: a client that hears nothing for
    // 30 s reconnects, and its own awareness renewals are what it hears when alone).
    this.send(message)
    for (const other of this.room.others(this)) other.send(message)
  }

  /** A change was published for this room; `message`: its options update as a sync message. */
  onChange(change: RelayChange, message: Uint8Array | undefined): void {
    if (this.state === 'opening') return void this.held.push([change, message])
    if (this.state !== 'open') return
    if (message) this.send(message)
    // Membership of this user changed: check access again (removed → closed; a channel keeps readers).
    if (change.participants?.some((p) => p.userId === this.userId)) {
      this.o.core.optionsDoc(this.userId!, this.roomId).then(
        (doc) => (this.canWrite = doc.canWrite),
        (e: unknown) => this.refuse(e),
      )
    }
  }

  heartbeat(): void {
    if (this.state === 'closed') return
    if (!this.isAlive) return void this.ws.terminate()
    this.isAlive = false
    this.ws.ping()
  }

  send(message: Uint8Array): void {
    if (this.state === 'closed' || this.ws.readyState !== this.ws.OPEN) return
    if (this.ws.bufferedAmount > 8 * 1024 * 1024) return this.close(CLOSE_CODES.goingAway, 'too far behind; reconnect')
    this.ws.send(message)
  }

  close(code: number, why: string): void {
    if (this.state === 'closed') return
    this.onClose()
    this.ws.close(code, reason(why))
  }

  onClose(): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    clearTimeout(this.expiryTimer)
    this.room.leave(this)
    this.held = []
    if (this.awareness.size === 0) return
    // Tell the others this client's awareness states are gone.
    const gone = [...this.awareness].map(([id, [clock]]) => [id, [clock + 1, 'null']] as [number, [number, string]])
    this.awareness.clear()
    const message = awarenessMessage(gone)
    for (const other of this.room.others(this)) other.send(message)
  }
}

function syncMessage(type: number, payload: Uint8Array): Uint8Array {
  return encoding.encode((e) => {
    encoding.writeVarUint(e, MESSAGE_SYNC)
    encoding.writeVarUint(e, type)
    encoding.writeVarUint8Array(e, payload)
  })
}

function awarenessMessage(entries: [number, [number, string]][]): Uint8Array {
  return encoding.encode((e) => {
    encoding.writeVarUint(e, MESSAGE_AWARENESS)
    encoding.writeVarUint8Array(
      e,
      encoding.encode((a) => {
        encoding.writeVarUint(a, entries.length)
        for (const [clientId, [clock, state]] of entries) {
          encoding.writeVarUint(a, clientId)
          encoding.writeVarUint(a, clock)
          encoding.writeVarString(a, state)
        }
      }),
    )
  })
}

/** Client id → [clock, state JSON] of an awareness update (y-protocols/awareness format). */
function decodeAwareness(payload: Uint8Array): [number, [number, string]][] {
  const d = decoding.createDecoder(payload)
  const n = decoding.readVarUint(d)
  if (n > 64) throw new Error('too many awareness entries')
  const out: [number, [number, string]][] = []
  for (let i = 0; i < n; i++) {
    const clientId = decoding.readVarUint(d)
    const clock = decoding.readVarUint(d)
    const state = decoding.readVarString(d)
    if (state.length > 4096) throw new Error('awareness state too large')
    JSON.parse(state)
    out.push([clientId, [clock, state]])
  }
  return out
}

function decodeMessage(data: Uint8Array):
  | { type: 'step1'; sv: Uint8Array }
  | { type: 'update'; update: Uint8Array }
  | { type: 'awareness'; payload: Uint8Array }
  | { type: 'query' }
  | { type: 'ignore' } {
  const d = decoding.createDecoder(data)
  const type = decoding.readVarUint(d)
  switch (type) {
    case MESSAGE_SYNC: {
      const syncType = decoding.readVarUint(d)
      const payload = decoding.readVarUint8Array(d)
      if (syncType === SYNC_STEP1) return { type: 'step1', sv: payload }
      if (syncType === SYNC_STEP2 || syncType === SYNC_UPDATE) return { type: 'update', update: payload }
      throw new Error(`unknown sync message ${syncType}`)
    }
    case MESSAGE_AWARENESS:
      return { type: 'awareness', payload: decoding.readVarUint8Array(d) }
    case MESSAGE_QUERY_AWARENESS:
      return { type: 'query' }
    case MESSAGE_AUTH:
      return { type: 'ignore' }
    default:
      throw new Error(`unknown message type ${type}`)
  }
}

function toBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data
  if (Array.isArray(data)) return Buffer.concat(data)
  return Buffer.from(data)
}
