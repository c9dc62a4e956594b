/**
 * One engine's socket: the hello handshake, catch-up, live changes in commit order, and the
 * mutate/query/ping/auth/report frames. Inbound frames are handled one at a time, in order; everything sent goes
 * through one outbound queue, so a mutation's change frames always precede the ack that answers it.
 */
import {
  CLOSE_CODES,
  ERROR_CODES,
  LIMITS,
  PROTOCOL_VERSION,
  ParlorError,
  encodeFrame,
  parseJson,
  parseWith,
  toParlorError,
  upFrameSchema,
  type DownFrame,
  type Mutation,
  type UpFrame,
} from '@parlor/protocol'
import type { RelayCore } from '../core/relay-core.js'
import { rejectProtoKeys } from '../core/input-guard.js'
import { echoOrigin, type RelayChange } from '../fanout/fanout.js'
import type { Logger } from '../logger.js'
import { bareChangeFrameText, changeFrameText } from './change-frames.js'
import type { ConnectionRegistry } from './connection-registry.js'
import { TokenBucket } from './token-bucket.js'

/** The little a connection needs of a websocket. */
export interface FrameSocket {
  send(text: string): void
  close(code: number, reason: string): void
  readonly bufferedAmount: number
}

export interface ConnectionOptions {
  socket: FrameSocket
  core: RelayCore
  registry: ConnectionRegistry<Connection>
  logger: Logger
  helloTimeoutMs: number
  /** Frames per second a socket may send, sustained. */
  frameRate: number
  /** Frames a socket may send at once. Default: twice `frameRate`. */
  frameBurst?: number
  /** Bytes queued on the socket past which a reader too slow to keep up is disconnected. */
  maxBufferedBytes: number
  /** Called once the socket's user is known; false refuses it (too many sockets for the user). */
  admit?: (conn: Connection) => boolean
  now?: () => number
}

/** The longest a timer may wait in Node (about 24.8 days); longer waits re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1

type State = 'handshake' | 'syncing' | 'live' | 'closed'

/** Close reasons are limited to 123 bytes by the websocket protocol. */
const reason = (s: string) => (Buffer.byteLength(s) <= 123 ? s : Buffer.from(s).subarray(0, 120).toString('utf8') + '…')

export class Connection {
  userId: string | undefined
  /** The session of the token the socket runs on (logout of it closes the socket). */
  sessionId: string | undefined
  /** When that token expires; the socket closes with `tokenExpired` then unless `auth` refreshed it. */
  expiresAt = Infinity
  /** The engine's outbox depth as it last reported it (hello or `report`); 0 until it does. */
  pending = 0
  private state: State = 'handshake'
  /** Rooms whose live changes this connection delivers (its user is an active participant). */
  private readonly rooms = new Set<string>()
  /** Changes with seq ≤ floor are in the catch-up already; per room, in a room-scoped sync. */
  private floor = 0
  private readonly roomFloors = new Map<string, number>()
  private buffer: RelayChange[] = []
  /** The latest echo of this socket's own comment not sent yet: it goes before the next frame (see `deliver`). */
  private bareEcho: RelayChange | undefined
  private inbound: Promise<void> = Promise.resolve()
  private outbound: Promise<void> = Promise.resolve()
  private readonly bucket: TokenBucket
  private refusedFrames = 0
  private readonly helloTimer: NodeJS.Timeout
  private expiryTimer: NodeJS.Timeout | undefined
  private logger: Logger
  private readonly burst: number
  private readonly now: () => number

  constructor(private readonly o: ConnectionOptions) {
    this.logger = o.logger
    this.now = o.now ?? Date.now
    this.burst = o.frameBurst ?? o.frameRate * 2
    this.bucket = new TokenBucket(o.frameRate, this.burst)
    this.helloTimer = setTimeout(() => this.close(CLOSE_CODES.handshakeFailed, 'no hello frame in time'), o.helloTimeoutMs)
  }

  /** Whether the socket has said hello and is (or is getting) in sync. */
  get isLive(): boolean {
    return this.state === 'live' || this.state === 'syncing'
  }

  /** A frame arrived from the engine. */
  onMessage(data: Buffer, isBinary: boolean): void {
    if (this.state === 'closed') return
    if (!this.bucket.take()) {
      // A client that keeps flooding after being told is cut off.
      if (++this.refusedFrames > this.burst) {
        return this.close(CLOSE_CODES.rateLimited, `too many frames; retryAfterMs=${LIMITS.rateLimitRetryAfterMs}`)
      }
      const retryAfterMs = this.bucket.retryAfterMs()
      return this.sendError(new ParlorError('rate_limited', 'too many frames, slow down', { retryAfterMs }))
    }
    this.refusedFrames = 0
    this.inbound = this.inbound
      .then(() => this.handleMessage(data, isBinary))
      .catch((err: unknown) => {
        this.logger.error('socket frame handler failed', { err })
        this.sendError(new ParlorError('internal', 'the relay failed to handle the frame'))
      })
  }

  /** The socket closed (either side). */
  onClose(): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.logger.debug('socket closed')
    clearTimeout(this.helloTimer)
    clearTimeout(this.expiryTimer)
    this.o.registry.remove(this, this.rooms)
    this.buffer = []
  }

  /** A change was published; called by the registry. */
  onChange(change: RelayChange): void {
    if (this.state === 'syncing') this.buffer.push(change)
    else if (this.state === 'live') this.enqueue(() => this.deliver(change))
  }

  close(code: number, why: string): void {
    if (this.state === 'closed') return
    this.onClose()
    this.o.socket.close(code, reason(why))
  }

  private async handleMessage(data: Buffer, isBinary: boolean): Promise<void> {
    if (this.state === 'closed') return
    let raw: unknown
    try {
      if (isBinary) throw new ParlorError('bad_frame', 'binary frames are not accepted on this socket')
      if (data.length > LIMITS.maxFrameBytes) throw new ParlorError('payload_too_large', `frame larger than ${LIMITS.maxFrameBytes} bytes`)
      raw = parseJson(data.toString('utf8'))
      rejectProtoKeys(raw)
      const frame = parseWith(upFrameSchema, raw, 'frame')
      if (this.state === 'handshake') return await this.handleHello(frame)
      await this.handleFrame(frame)
    } catch (e) {
      const err = toParlorError(e)
      if (this.state === 'handshake') {
        // A hello without its token is an authentication failure, not a malformed handshake.
        const isTokenless = isObject(raw) && raw.type === 'hello' && (raw.token === undefined || raw.token === '')
        if (isTokenless) return this.close(CLOSE_CODES.unauthorized, 'a session token is required')
        return this.close(CLOSE_CODES.handshakeFailed, `expected a hello frame: ${err.message}`)
      }
      if (err.code === 'internal') this.logger.error('socket frame failed', { err: e })
      const ref = isObject(raw) && raw.type === 'query' && typeof raw.id === 'number' ? raw.id : undefined
      this.sendError(err, ref)
    }
  }

  private async handleHello(frame: UpFrame): Promise<void> {
    if (frame.type !== 'hello') return this.close(CLOSE_CODES.handshakeFailed, `expected a hello frame, got ${frame.type}`)
    clearTimeout(this.helloTimer)
    if (frame.protocolVersion !== PROTOCOL_VERSION) {
      return this.close(CLOSE_CODES.protocolVersion, `the relay speaks protocol version ${PROTOCOL_VERSION}, not ${frame.protocolVersion}`)
    }
    let session
    try {
      session = await this.o.core.authenticate(frame.token)
    } catch (e) {
      const err = toParlorError(e)
      if (err.code === 'internal') throw e
      return this.close(err.code === 'token_expired' ? CLOSE_CODES.tokenExpired : CLOSE_CODES.unauthorized, err.message)
    }
    if (this.state !== 'handshake') return
    this.userId = session.userId
    this.pending = frame.pending ?? 0
    this.useSession(session)
    if (this.o.admit && !this.o.admit(this)) {
      return this.close(CLOSE_CODES.tooManySockets, 'this user has too many sockets open; limit_exceeded')
    }
    this.logger = this.o.logger.child({ userId: this.userId })
    // Register before reading the catch-up so nothing committed meanwhile is missed.
    this.state = 'syncing'
    this.o.registry.addSyncing(this)
    let catchUp
    try {
      // Each frame goes out as soon as it is full (before changes buffered meanwhile, which follow it).
      catchUp = await this.o.core.streamCatchUp(this.userId, frame.cursor, frame.epoch, ({ text }) => this.enqueue(async () => this.sendText(text)))
    } catch (e) {
      // A syncing connection receives every change: never leave one behind in that state.
      const err = toParlorError(e)
      if (err.code === 'internal') this.logger.error('catch-up failed', { err: e })
      return this.close(err.code === 'closed' ? CLOSE_CODES.goingAway : 1011, `catch-up failed: ${err.message}`)
    }
    const { cursor, activeRoomIds } = catchUp
    if (this.state !== 'syncing') return
    this.floor = cursor
    for (const roomId of activeRoomIds) this.rooms.add(roomId)
    this.o.registry.goLive(this, this.rooms)
    this.state = 'live'
    this.logger.debug('socket ready', { cursor: frame.cursor, syncCursor: cursor, rooms: this.rooms.size })
    const buffered = this.buffer
    this.buffer = []
    for (const change of buffered) this.onChange(change)
  }

  private async handleMutate(mutations: readonly Mutation[]): Promise<void> {
    const results = await this.o.core.applyMutations(this.userId!, mutations, this)
    // Each mutation's change was published (and queued here) before this ack is queued.
    this.enqueue(async () => this.send({ type: 'ack', results }))
  }

  private async handleFrame(frame: UpFrame): Promise<void> {
    switch (frame.type) {
      case 'hello':
        throw new ParlorError('bad_frame', 'this socket has already said hello')
      case 'mutate':
        return this.handleMutate(frame.mutations)
      case 'ping':
        return this.enqueue(async () => this.send({ type: 'pong' }))
      case 'auth':
        return this.handleAuth(frame.token)
      case 'report':
        // Read only by /metrics (as totals); nothing is answered.
        this.pending = frame.pending
        return
      case 'query': {
        let answer: DownFrame
        try {
          answer = { type: 'result', id: frame.id, ok: true, value: await this.o.core.query(this.userId!, frame.query) }
        } catch (e) {
          const err = toParlorError(e)
          if (err.code === 'internal') this.logger.error('query failed', { err: e })
          answer = { type: 'result', id: frame.id, ok: false, error: { code: err.code, message: err.message } }
        }
        return this.enqueue(async () => this.send(answer))
      }
    }
  }

  /** `auth`: moves the socket to a fresher token of the same user, or answers why not. */
  private async handleAuth(token: string): Promise<void> {
    let answer: DownFrame
    try {
      const session = await this.o.core.authenticate(token)
      if (session.userId !== this.userId) throw new ParlorError('forbidden', 'the new token signs in another user; open a new socket for them')
      this.useSession(session)
      answer = { type: 'authed', ok: true, userId: session.userId, expiresAt: session.expiresAt }
    } catch (e) {
      const err = toParlorError(e)
      if (err.code === 'internal') throw e
      answer = { type: 'authed', ok: false, error: { code: err.code, message: err.message } }
    }
    this.enqueue(async () => this.send(answer))
  }

  /** Runs the socket on `session` and closes it with `tokenExpired` when that token expires. */
  private useSession(session: { sessionId: string; expiresAt: number }): void {
    this.sessionId = session.sessionId
    this.expiresAt = session.expiresAt
    clearTimeout(this.expiryTimer)
    const arm = () => {
      const left = this.expiresAt - this.now()
      if (left <= 0) return this.close(CLOSE_CODES.tokenExpired, 'the session token expired; refresh it with an auth frame before it does')
      this.expiryTimer = setTimeout(arm, Math.min(left, MAX_TIMER_MS))
      this.expiryTimer.unref?.()
    }
    arm()
  }

  /** Sends a change, or on the user's own membership changes, updates the room set first. */
  private async deliver(change: RelayChange): Promise<void> {
    if (this.state !== 'live') return
    const { roomId, seq } = change
    if (seq <= this.floor || seq <= (this.roomFloors.get(roomId) ?? 0)) return
    const mine = change.participants?.find((p) => p.userId === this.userId)
    if (mine?.isRemoved) {
      // The change that removes the user is the last one of this room they receive.
      if (!this.rooms.delete(roomId)) return
      this.o.registry.leaveRoom(this, roomId)
      return this.sendText(changeFrameText(change, this.userId!))
    }
    if (mine && !this.rooms.has(roomId)) return this.syncRoom(roomId, seq)
    if (!this.rooms.has(roomId)) return
    if (echoOrigin(change) === this) {
      // The echo of this socket's own comment: the ack that follows carries its rows, and the echo
      // only moves the engine's cursor, so a run of them goes as its last one, before what comes next.
      this.bareEcho = change
      return
    }
    this.sendText(changeFrameText(change, this.userId!))
  }

  /** The user became a participant: send the room-scoped sync instead of the bare change. */
  private async syncRoom(roomId: string, seq: number): Promise<void> {
    this.rooms.add(roomId)
    this.o.registry.joinRoom(this, roomId)
    const snapshot = await this.o.core.roomSync(this.userId!, roomId, seq)
    if (this.state !== 'live') return
    if (!snapshot?.isActive) {
      this.rooms.delete(roomId)
      this.o.registry.leaveRoom(this, roomId)
    }
    if (!snapshot) return
    // Later changes of this room already in the snapshot are skipped.
    this.roomFloors.set(roomId, snapshot.snapshotSeq)
    this.send(snapshot.frame)
  }

  private enqueue(task: () => Promise<void>): void {
    this.outbound = this.outbound.then(task).catch((err: unknown) => {
      this.logger.error('socket delivery failed', { err })
    })
  }

  private send(frame: DownFrame): void {
    this.sendText(encodeFrame(frame))
  }

  private sendText(text: string | undefined): void {
    if (text === undefined || this.state === 'closed') return
    if (this.o.socket.bufferedAmount > this.o.maxBufferedBytes) {
      this.logger.warn('closing a socket that does not keep up', { bufferedAmount: this.o.socket.bufferedAmount })
      return this.close(CLOSE_CODES.goingAway, 'too far behind; reconnect to catch up')
    }
    if (this.bareEcho) this.o.socket.send(bareChangeFrameText(this.bareEcho))
    this.bareEcho = undefined
    this.o.socket.send(text)
  }

  private sendError(err: ParlorError, ref?: number): void {
    const error = { ...err.toWire(), code: err.code in ERROR_CODES ? err.code : 'internal' }
    this.enqueue(async () => this.send(ref === undefined ? { type: 'error', error } : { type: 'error', error, ref }))
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
