import {
  LIMITS,
  ParlorError,
  parseWith,
  roomByIdValueSchema,
  type DownFrame,
  type Query,
  type UpFrame,
} from '@parlor/protocol'
import { backoffDelay, type Backoff } from './core/backoff.js'
import type { Emitter } from './core/emitter.js'
import type { Logger } from './core/logger.js'
import type { EngineEvents, EngineStatus } from './engine-types.js'
import { Connection, type WebSocketCtor } from './net/connection.js'
import { onNetworkBack } from './net/online-signal.js'
import { toComment } from './core/present.js'
import { OutboxSender } from './outbox.js'
import { RelayClient } from './relay-client.js'
import type { ParlorDb } from './store/db.js'
import type { Reader } from './store/reader.js'
import type { CursorRow, OutboxRow } from './store/rows.js'
import { CatchUpProgress, type Changes, type LiveStep, type Writer } from './store/writer.js'
import type { Leadership } from './tabs/leadership.js'
import { TabChannel, type TabMessage } from './tabs/tab-channel.js'

export interface RelayLinkOptions {
  db: ParlorDb
  dbName: string
  reader: Reader
  writer: Writer
  events: Emitter<EngineEvents>
  leadership: Leadership
  urls: readonly string[]
  WebSocket: WebSocketCtor
  backoff: Backoff
  logger: Logger
  /** Builds the hello frame (refreshing the token if needed); undefined without a session. */
  hello(): Promise<UpFrame | undefined>
  /** The relay refused the token: the next hello must get a new one. */
  onAuthRejected(): void
  /** When the current session token expires (epoch ms), if there is one. */
  tokenExpiresAt?(): number | undefined
  /** A fresh token for the same user (signing in again), or undefined when none can be had. */
  freshToken?(): Promise<string | undefined>
}

/** The longest a timer may wait (about 24.8 days); a refresh further away is re-planned then. */
const MAX_TIMER_MS = 2 ** 31 - 1
/** A token is refreshed this long before it expires (or halfway through its life, if shorter). */
const REFRESH_MARGIN_MS = 60_000

const TAB_QUERY_TIMEOUT_MS = 15_000
const STATUS_INTERVAL_MS = 16
/** A room's options document is fetched again at most this often. */
const RESYNC_INTERVAL_MS = 1_000

/**
 * Everything between the database and the relay: the one socket, the outbox sender, relay queries,
 * events, status and `sync()`. Among engines sharing a database (tabs), only the leader connects;
 * the others learn events and the leader's online state over a BroadcastChannel, ask the leader to
 * flush when they queue a mutation, and forward their relay queries to it.
 */
export class RelayLink {
  private readonly conn: Connection
  private readonly outbox: OutboxSender
  private readonly relay: RelayClient
  /** The same queries, forwarded to the leader tab (made once, on first use in a follower). */
  private throughLeader: RelayClient | undefined
  private readonly tabs: TabChannel
  private hasSession = false
  private readonly stopWatchingNetwork: () => void
  /** False while the app has taken the engine offline on purpose (`disconnect()`). */
  private wantsOnline = true
  private caughtUp = false
  private awaitingHelloSync = false
  /** The catch-up being received, across its frames. */
  private progress = new CatchUpProgress()
  private leaderOnline = false
  private closed = false
  private current: EngineStatus = { online: false, pending: 0, oldestPendingAt: undefined, lastSyncAt: undefined, catchUp: undefined }
  private catchUp: EngineStatus['catchUp']
  private idleWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = []
  private tabQueries = new Map<string, { resolve(v: unknown): void; reject(e: unknown): void }>()
  private nextTabQuery = 0
  private statusRefresh: Promise<void> | undefined
  /** Rooms written since the last `room` events, and whether their options changed. */
  private readonly roomsToAnnounce = new Map<string, boolean>()
  private lastStatusAt = 0
  private readonly resyncedAt = new Map<string, number>()
  private refreshTimer: ReturnType<typeof setTimeout> | undefined
  /** The outbox depth put in the hello being sent; the relay's value once that socket opens. */
  private helloPending = 0
  /** The outbox depth the relay was last told on the open socket; undefined without one. */
  private reportedPending: number | undefined
  private reportedAt = 0
  /** The outbox depth last counted (computeStatus), which the next report sends. */
  private latestPending = 0
  private reportTimer: ReturnType<typeof setTimeout> | undefined
  /** No report before this time: the relay rate-limited the socket (reports yield to the outbox). */
  private reportsResumeAt = 0

  constructor(private readonly o: RelayLinkOptions) {
    this.conn = new Connection({
      urls: o.urls,
      WebSocket: o.WebSocket,
      hello: () => this.hello(),
      onFrames: (frames) => this.onFrames(frames),
      awaitsAck: () => this.outbox.inFlightCount > 0,
      onOpen: () => {
        this.awaitingHelloSync = true
        this.reportedPending = this.helloPending
        this.reportedAt = Date.now()
        // The first frame follows hello at once: the relay applies it after answering hello, and its
        // ack comes after the catch-up, so the engine has applied the catch-up before it reads the ack.
        this.outbox.enable()
      },
      onClose: (code) => this.onClose(code),
      logger: o.logger.child({ part: 'connection' }),
      backoff: o.backoff,
    })
    this.outbox = new OutboxSender(o.db, this.conn)
    this.relay = new RelayClient(this.conn, () => this.caughtUp)
    this.tabs = new TabChannel(o.dbName, (m) => void this.onTabMessage(m))
    this.stopWatchingNetwork = onNetworkBack(() => this.conn.retryNow())
  }

  /** The hello frame, telling the relay the (shared) outbox's depth for its metrics. */
  private async hello(): Promise<UpFrame | undefined> {
    const hello = await this.o.hello()
    if (hello?.type !== 'hello') return hello
    this.helloPending = await this.o.db.outbox.count().catch(() => 0)
    return { ...hello, pending: this.helloPending }
  }

  private isOnline(): boolean {
    return this.isLeader ? this.caughtUp : this.leaderOnline
  }

  private get isLeader(): boolean {
    return this.o.leadership.isLeader
  }

  /** A session exists: compete for leadership; the leader connects. */
  start(): void {
    if (this.closed) return
    this.wantsOnline = true
    if (!this.hasSession) {
      this.hasSession = true
      this.o.leadership.start((isLeader) => {
        if (isLeader && this.wantsOnline) this.conn.start()
        else void this.conn.stop()
        void this.refreshStatus()
      })
    }
    if (this.isLeader) this.conn.start()
    else this.tabs.post({ kind: 'outbox' })
  }

  /** Drops the socket now and reconnects (after a change of user). */
  async restart(): Promise<void> {
    await this.conn.stop()
    this.start()
  }

  /** Takes this engine offline on purpose; `start()` brings it back. */
  async pause(): Promise<void> {
    this.wantsOnline = false
    await this.conn.stop()
  }

  async close(): Promise<void> {
    if (this.closed) return
    clearTimeout(this.refreshTimer)
    clearTimeout(this.reportTimer)
    this.stopWatchingNetwork()
    await this.conn.stop()
    this.closed = true
    this.outbox.disable()
    const wasLeader = this.isLeader
    await this.o.leadership.stop()
    if (wasLeader) this.tabs.post({ kind: 'leader', online: false, isLeaving: true })
    this.tabs.close()
    for (const w of this.idleWaiters.splice(0)) w.reject(new ParlorError('closed', 'the engine is closed'))
  }

  // ---- events -----------------------------------------------------------------------------------

  /** Emits an event here and in the other tabs. */
  emit<K extends keyof EngineEvents & string>(event: K, value: EngineEvents[K]): void {
    this.o.events.emit(event, value)
    const wire = event === 'mutation:failed' ? { ...(value as EngineEvents['mutation:failed']), error: (value as EngineEvents['mutation:failed']).error.toWire() } : value
    this.tabs.post({ kind: 'event', event, value: wire })
  }

  /**
   * A mutation was queued in this tab: count it, and send it (or ask the leader to) unless `send`
   * is false, when the caller sends with `sendQueued()` later.
   */
  queued(createdAt: number, send = true): void {
    // Counted at once, so status() reflects the write the caller just made; computeStatus corrects it.
    const { pending, oldestPendingAt } = this.current
    this.current = { ...this.current, online: this.isOnline(), pending: pending + 1, oldestPendingAt: oldestPendingAt ?? createdAt }
    this.o.events.emit('status', this.status())
    if (send) this.sendQueued()
    void this.refreshStatus()
  }

  /** Sends what was queued in this tab (or asks the leader to). */
  sendQueued(): void {
    this.outbox.queued()
    if (this.isLeader) void this.outbox.flush()
    else this.tabs.post({ kind: 'outbox' })
  }

  private async onTabMessage(m: TabMessage): Promise<void> {
    switch (m.kind) {
      case 'event': {
        const value =
          m.event === 'mutation:failed'
            ? { ...(m.value as object), error: ParlorError.fromWire((m.value as { error: { code: string; message: string } }).error) }
            : m.value
        if (m.event !== 'status') this.o.events.emit(m.event, value as never)
        break
      }
      case 'leader':
        this.leaderOnline = m.online
        if (m.isLeaving) this.o.leadership.nudge()
        break
      case 'outbox':
        if (!this.isLeader) break
        this.outbox.queued()
        void this.outbox.flush()
        this.tabs.post({ kind: 'leader', online: this.caughtUp })
        break
      case 'query': {
        if (!this.isLeader) break
        const answer = await this.relay.ask(m.query).then(
          (value) => ({ kind: 'answer' as const, id: m.id, ok: true as const, value }),
          (e: unknown) => ({ kind: 'answer' as const, id: m.id, ok: false as const, error: ParlorError.fromWire(toWire(e)).toWire() }),
        )
        this.tabs.post(answer)
        break
      }
      case 'answer': {
        const w = this.tabQueries.get(m.id)
        if (!w) break
        this.tabQueries.delete(m.id)
        if (m.ok) w.resolve(m.value)
        else w.reject(ParlorError.fromWire(m.error))
        break
      }
    }
    await this.refreshStatus()
  }

  // ---- relay queries ----------------------------------------------------------------------------

  /** Whether a relay query can be answered now (this tab's socket, or the leader's). */
  isReady(): boolean {
    return this.isLeader ? this.relay.isReady() : this.leaderOnline
  }

  /** The relay client, asking through the leader tab when this one is not it. */
  get queries(): RelayClient {
    return this.isLeader ? this.relay : (this.throughLeader ??= this.relay.via((q) => this.askLeader(q)))
  }

  private askLeader(query: Query): Promise<unknown> {
    if (!this.leaderOnline) return Promise.reject(new ParlorError('offline', 'no tab is connected to the relay'))
    const id = `${Math.random().toString(36).slice(2)}-${this.nextTabQuery++}`
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.tabQueries.delete(id)
        reject(new ParlorError('timeout', `the leader tab did not answer ${query.name} in time`))
      }, TAB_QUERY_TIMEOUT_MS)
      this.tabQueries.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      })
      this.tabs.post({ kind: 'query', id, query })
    })
  }

  // ---- frames from the relay --------------------------------------------------------------------

  /**
   * Handles a batch of frames in order; each run of live changes and acks shares one transaction.
   * Acks are taken by the outbox sender first, so the next mutate frame is on its way while the
   * frames ahead of it are written (the relay has finished the acknowledged frame either way).
   */
  private async onFrames(frames: DownFrame[]): Promise<void> {
    const answered = new Map<DownFrame, Map<string, OutboxRow>>()
    for (const frame of frames) if (frame.type === 'ack') answered.set(frame, this.outbox.acknowledged(frame.results))
    const backoffMs = (n: number) => backoffDelay(n, this.o.backoff)
    let run: LiveStep[] = []
    const flushRun = async () => {
      if (run.length === 0) return
      const steps = run
      run = []
      try {
        this.publish(await this.o.writer.applyLive(steps))
      } finally {
        for (const step of steps) if ('rows' in step) this.outbox.settled(step.rows.keys())
      }
      if (steps.some((step) => 'rows' in step)) void this.outbox.flush()
    }
    for (const frame of frames) {
      if (frame.type === 'change') {
        const last = run.at(-1)
        if (last && 'changes' in last) last.changes.push(frame)
        else run.push({ changes: [frame] })
      } else if (frame.type === 'ack') {
        run.push({ results: frame.results, rows: answered.get(frame)!, backoffMs })
      } else {
        await flushRun()
        await this.onFrame(frame)
      }
    }
    await flushRun()
  }

  private async onFrame(frame: Exclude<DownFrame, { type: 'change' | 'ack' }>): Promise<void> {
    switch (frame.type) {
      case 'sync': {
        const isHelloAnswer = this.awaitingHelloSync
        const changes = await this.o.writer.applySync(frame, isHelloAnswer, this.progress)
        if (frame.more) {
          this.publish(changes)
          break
        }
        this.progress = new CatchUpProgress()
        // The socket may have closed (disconnect()) while this frame was being applied.
        if (isHelloAnswer && this.awaitingHelloSync && this.conn.isOpen) {
          this.catchUp = frame.isFull ? 'full' : 'incremental'
          this.awaitingHelloSync = false
          this.caughtUp = true
          this.tabs.post({ kind: 'leader', online: true })
          this.scheduleTokenRefresh()
        }
        this.publish(changes)
        break
      }
      case 'result':
        this.relay.settle(frame)
        break
      case 'error':
        if (frame.ref !== undefined) this.relay.fail(frame.ref, frame.error)
        else if (frame.error.code === 'rate_limited') {
          this.outbox.refused(frame.error.retryAfterMs ?? 1000)
          this.reportsRateLimited(frame.error.retryAfterMs ?? 1000)
        }
        else this.o.logger.warn('relay refused a frame', { error: frame.error })
        break
      case 'pong':
        break
      case 'authed':
        if (frame.ok) this.scheduleTokenRefresh()
        else this.o.logger.warn('relay refused the refreshed token; the socket reconnects when the old one expires', { error: frame.error })
        break
    }
  }

  /**
   * Plans the next token refresh on the open socket (an `auth` frame), a margin before the token
   * expires, so the socket never closes for an expired token while the engine is online.
   */
  private scheduleTokenRefresh(): void {
    clearTimeout(this.refreshTimer)
    const expiresAt = this.o.tokenExpiresAt?.()
    if (expiresAt === undefined || !this.o.freshToken || this.closed) return
    const now = Date.now()
    const at = expiresAt - Math.min(REFRESH_MARGIN_MS, Math.max(0, (expiresAt - now) / 2))
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, at - now))
    this.refreshTimer = setTimeout(() => void this.refreshToken(wait === MAX_TIMER_MS), wait)
  }

  private async refreshToken(isReplanOnly: boolean): Promise<void> {
    if (isReplanOnly) return this.scheduleTokenRefresh()
    if (!this.caughtUp || this.closed) return
    const token = await this.o.freshToken!().catch((e: unknown) => {
      this.o.logger.warn('token refresh failed; retrying later', { error: String(e) })
      return undefined
    })
    if (!this.caughtUp || this.closed) return
    if (token === undefined || !this.conn.send({ type: 'auth', token })) {
      // Try again a little later (the old token may still have a while to go).
      this.refreshTimer = setTimeout(() => void this.refreshToken(false), 5_000)
    }
  }

  private onClose(code: number): void {
    clearTimeout(this.refreshTimer)
    clearTimeout(this.reportTimer)
    this.reportTimer = undefined
    this.reportedPending = undefined
    this.reportsResumeAt = 0
    const wasOnline = this.caughtUp
    this.caughtUp = false
    this.awaitingHelloSync = false
    this.progress = new CatchUpProgress()
    this.outbox.disable()
    this.relay.disconnected()
    if (wasOnline) this.tabs.post({ kind: 'leader', online: false })
    if (code === 4001 || code === 4002) this.o.onAuthRejected()
    void this.refreshStatus()
  }

  /**
   * Emits events for what a write changed (after its transaction committed). Room (and options)
   * events carry the room as reads show it, read once per STATUS_INTERVAL_MS however many writes
   * touched it meanwhile (see `announceRooms`); the rest go out now.
   */
  private publish(ch: Changes): void {
    for (const { row, error } of ch.failed) this.emit('mutation:failed', { mutation: row.mutation, error })
    for (const id of ch.roomIds) {
      if (ch.removedRoomIds.has(id)) continue
      this.roomsToAnnounce.set(id, this.roomsToAnnounce.get(id) === true || ch.optionsRoomIds.has(id))
    }
    for (const id of ch.removedRoomIds) {
      this.roomsToAnnounce.delete(id)
      this.emit('room:removed', { roomId: id })
    }
    for (const c of ch.comments) this.emit('comment', toComment(c))
    for (const id of ch.resyncRoomIds) if (!ch.removedRoomIds.has(id)) this.resyncOptions(id)
    void this.refreshStatus()
  }

  /** Emits `room` (and `options` where they changed) for the rooms written since the last time. */
  private async announceRooms(): Promise<void> {
    const written = new Map(this.roomsToAnnounce)
    this.roomsToAnnounce.clear()
    const rooms = await this.o.reader.rooms([...written.keys()]).catch((e: unknown) => {
      this.o.logger.debug('reading rooms to announce failed', { error: String(e) })
      return []
    })
    if (this.closed) return
    for (const room of rooms) {
      this.emit('room', room)
      if (written.get(room.id)) this.emit('options', { roomId: room.id, options: room.options })
    }
  }

  /**
   * Takes the relay's options document for a room in place of this engine's: after the relay
   * refused one of our updates, or when a room row shows options the document lacks. Only the
   * leader, only online, at most once per RESYNC_INTERVAL_MS per room; failures are logged.
   */
  private resyncOptions(roomId: string): void {
    if (!this.isLeader || !this.relay.isReady() || this.closed) return
    const now = Date.now()
    if (now - (this.resyncedAt.get(roomId) ?? 0) < RESYNC_INTERVAL_MS) return
    this.resyncedAt.set(roomId, now)
    if (this.resyncedAt.size > 1000) this.resyncedAt.delete(this.resyncedAt.keys().next().value!)
    void this.relay
      .ask({ name: 'getRoomById', args: { roomId } })
      .then(async (value) => {
        const v = parseWith(roomByIdValueSchema, value, 'getRoomById')
        if (!v.isParticipant || this.closed) return
        this.publish(await this.o.writer.replaceOptions(roomId, v.room.optionsState, v.room.version, v.room.options))
      })
      .catch((err: unknown) => this.o.logger.debug('options resync failed', { roomId, err: String(err) }))
  }

  // ---- status and sync --------------------------------------------------------------------------

  status(): EngineStatus {
    return { ...this.current }
  }

  /**
   * Announces the rooms written and recomputes the status soon, emitting `room`/`options` and
   * `status` (when it changed). Bursts coalesce into one round per STATUS_INTERVAL_MS: reading a room
   * or counting the outbox is not free, and a replay of a thousand comments must not do either a
   * thousand times.
   */
  refreshStatus(): Promise<void> {
    this.statusRefresh ??= new Promise<void>((resolve) => {
      const wait = Math.max(0, this.lastStatusAt + STATUS_INTERVAL_MS - Date.now())
      setTimeout(() => {
        this.statusRefresh = undefined
        this.lastStatusAt = Date.now()
        void this.announceRooms()
          .then(() => this.computeStatus())
          .finally(resolve)
      }, wait)
    })
    return this.statusRefresh
  }

  private async computeStatus(): Promise<void> {
    if (this.closed) return
    const { db } = this.o
    let isCounted = true
    const [pending, oldest, cursor] = await db
      .transaction('r', [db.outbox, db.meta], () =>
        Promise.all([db.outbox.count(), db.outbox.orderBy('seq').first(), db.meta.get('cursor') as Promise<CursorRow | undefined>]),
      )
      .catch(() => ((isCounted = false), [0, undefined, undefined] as const))
    if (this.closed) return
    if (isCounted) this.reportPending(pending)
    const online = this.isOnline()
    const next: EngineStatus = { online, pending, oldestPendingAt: oldest?.createdAt, lastSyncAt: cursor?.lastSyncAt, catchUp: this.catchUp }
    const changed = JSON.stringify(next) !== JSON.stringify(this.current)
    this.current = next
    if (changed) this.o.events.emit('status', this.status())
    if (online && pending === 0 && this.outbox.inFlightCount === 0) {
      for (const w of this.idleWaiters.splice(0)) w.resolve()
    }
  }

  /**
   * Tells the relay the outbox's depth (a `report` frame, for its metrics) when it differs from what
   * the socket last told it, at most once per `LIMITS.outboxReportIntervalMs`: a burst of changes
   * ends in one report of where it settled. Only the leader has a socket (and counts the outbox all
   * tabs share); without an open socket nothing is sent and the next hello carries the depth.
   */
  private reportPending(pending: number): void {
    this.latestPending = pending
    if (this.reportTimer !== undefined || this.reportedPending === undefined || pending === this.reportedPending) return
    const wait = Math.max(this.reportedAt + LIMITS.outboxReportIntervalMs, this.reportsResumeAt) - Date.now()
    if (wait <= 0) return this.sendReport()
    this.reportTimer = setTimeout(() => {
      this.reportTimer = undefined
      this.sendReport()
    }, wait)
  }

  private sendReport(): void {
    const pending = this.latestPending
    if (this.closed || this.reportedPending === undefined || pending === this.reportedPending) return
    // Rate-limited again meanwhile: wait longer.
    if (Date.now() < this.reportsResumeAt) return this.reportPending(pending)
    if (!this.conn.send({ type: 'report', pending })) return
    this.reportedPending = pending
    this.reportedAt = Date.now()
  }

  /**
   * The relay refused a frame for the socket's rate. Reports are the least urgent frames: they wait
   * until a report interval after the outbox's retry, so they never take the token it needs. The
   * refused frame may have been a report, so the depth is told again then.
   */
  private reportsRateLimited(retryAfterMs: number): void {
    this.reportsResumeAt = Date.now() + retryAfterMs + LIMITS.outboxReportIntervalMs
    if (this.reportedPending === undefined) return
    this.reportedPending = -1
    clearTimeout(this.reportTimer)
    this.reportTimer = undefined
    this.reportPending(this.latestPending)
  }

  /** Resolves once the outbox is empty and the cache has caught up with the relay. */
  sync(): Promise<void> {
    if (this.closed) return Promise.reject(new ParlorError('closed', 'the engine is closed'))
    return new Promise((resolve, reject) => {
      this.idleWaiters.push({ resolve, reject })
      void this.refreshStatus()
    })
  }

  get inFlightCount(): number {
    return this.outbox.inFlightCount
  }
}

function toWire(e: unknown): { code: string; message: string } {
  return e instanceof ParlorError ? e.toWire() : { code: 'internal', message: e instanceof Error ? e.message : String(e) }
}
