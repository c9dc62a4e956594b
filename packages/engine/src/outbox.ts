import { LIMITS, ParlorError, utf8Length, type MutationResult } from '@parlor/protocol'
import type { Connection } from './net/connection.js'
import type { ParlorDb } from './store/db.js'
import type { OutboxRow } from './store/rows.js'

const ACK_TIMEOUT_MS = 30_000
/** Bytes of mutations per `mutate` frame (the rest of the frame is a few dozen). */
const FRAME_BUDGET = Math.floor(LIMITS.maxFrameBytes * 0.8)

/**
 * Sends queued mutations over the connection: in the order they were made, at most
 * `LIMITS.maxMutationsPerFrame` per frame, one frame in flight. A room whose head mutation is
 * waiting out a backoff holds back that room's later mutations (which may depend on it) and no
 * other room's. Rows are deleted only when the relay acknowledges them (see Writer.applyLive), so a
 * lost frame or ack is simply sent again; the relay applies each id at most once.
 *
 * A replay is a pipeline: when an ack settles every mutation it answers for good (accepted or
 * refused), the next frame leaves at once, from the rows read before, while the engine writes that
 * ack; the relay applies the next frame meanwhile. The relay still sees one frame at a time, in
 * order, so a refused frame (rate limit) never lets a later one overtake it.
 */
export class OutboxSender {
  /** The rows of the frame in flight, by mutation id. */
  private inFlight = new Map<string, OutboxRow>()
  /** Answered by the relay, their rows not settled yet: never sent again meanwhile. */
  private answered = new Set<string>()
  /** The outbox as last read (seq order), until something is queued or settled for later. */
  private snapshot: OutboxRow[] | undefined
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private ackTimer: ReturnType<typeof setTimeout> | undefined
  private flushing: Promise<void> | undefined
  private enabled = false
  /** The relay refused a frame for the socket's rate: no frame before this time (epoch ms). */
  private resumeAt = 0

  constructor(
    private readonly db: ParlorDb,
    private readonly conn: Connection,
  ) {}

  get inFlightCount(): number {
    return this.inFlight.size
  }

  /** Starts sending (on a socket that has just sent hello). */
  enable(): void {
    this.enabled = true
    this.snapshot = undefined
    void this.flush()
  }

  /** Rows were added (here or in another tab): the next frame reads the outbox again. */
  queued(): void {
    this.snapshot = undefined
  }

  /** The socket closed: whatever was in flight is sent again after the next catch-up. */
  disable(): void {
    this.enabled = false
    this.inFlight.clear()
    this.snapshot = undefined
    clearTimeout(this.ackTimer)
    clearTimeout(this.retryTimer)
  }

  /**
   * The relay refused the frame in flight without applying it (`rate_limited`): send it again after
   * `retryAfterMs` instead of waiting for an ack that will not come.
   */
  refused(retryAfterMs: number): void {
    if (this.inFlight.size === 0) return
    this.inFlight.clear()
    this.snapshot = undefined
    // Nothing is sent before then, whatever else asks for a flush meanwhile (an ack being written).
    this.resumeAt = Date.now() + retryAfterMs
    clearTimeout(this.ackTimer)
    clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(() => void this.flush(), retryAfterMs)
  }

  /**
   * The relay answered a frame: the rows it answers for (those still in flight; a late duplicate
   * answer has none), for the caller to settle and then report with `settled`. When each of them
   * is settled for good, the next frame is sent now; a transient refusal waits for its backoff to be
   * written first.
   */
  acknowledged(results: readonly MutationResult[]): Map<string, OutboxRow> {
    const rows = new Map<string, OutboxRow>()
    let isFinal = true
    for (const r of results) {
      const row = this.inFlight.get(r.mutationId)
      if (!row) continue
      this.inFlight.delete(r.mutationId)
      this.answered.add(r.mutationId)
      rows.set(r.mutationId, row)
      if (!r.ok && ParlorError.fromWire(r.error).retryable) isFinal = false
    }
    if (this.inFlight.size === 0) clearTimeout(this.ackTimer)
    if (!isFinal) this.snapshot = undefined
    else if (rows.size > 0) void this.flush()
    return rows
  }

  /** The answered rows were written (deleted, or rescheduled after a transient refusal). */
  settled(ids: Iterable<string>): void {
    for (const id of ids) this.answered.delete(id)
  }

  flush(): Promise<void> {
    this.flushing ??= this.sendNext().finally(() => (this.flushing = undefined))
    return this.flushing
  }

  private async sendNext(): Promise<void> {
    if (!this.enabled || this.inFlight.size > 0 || !this.conn.isOpen) return
    const wait = this.resumeAt - Date.now()
    if (wait > 0) {
      // (Timers may fire a little early by the wall clock.)
      clearTimeout(this.retryTimer)
      this.retryTimer = setTimeout(() => void this.flush(), wait)
      return
    }
    const rows = (this.snapshot ??= await this.db.outbox.orderBy('seq').toArray())
    if (!this.enabled || this.inFlight.size > 0 || !this.conn.isOpen) return
    const now = Date.now()
    const held = new Set<string>()
    let nextRetry = Infinity
    let bytes = 0
    const sent: OutboxRow[] = []
    for (const row of rows) {
      if (this.answered.has(row.id)) continue
      if (held.has(row.roomId)) continue
      if (row.notBefore !== undefined && row.notBefore > now) {
        held.add(row.roomId)
        nextRetry = Math.min(nextRetry, row.notBefore)
        continue
      }
      // Frames stay well within the relay's byte bound (a comment or an options update can be large).
      const size = utf8Length(JSON.stringify(row.mutation))
      if (sent.length > 0 && bytes + size > FRAME_BUDGET) break
      bytes += size
      sent.push(row)
      if (sent.length === LIMITS.maxMutationsPerFrame) break
    }
    clearTimeout(this.retryTimer)
    if (nextRetry < Infinity) this.retryTimer = setTimeout(() => void this.flush(), nextRetry - now)
    if (sent.length === 0 || !this.enabled) return
    if (!this.conn.send({ type: 'mutate', mutations: sent.map((row) => row.mutation) })) return
    for (const row of sent) this.inFlight.set(row.id, row)
    // Sent rows leave the snapshot (they are answered before anything after them is sent).
    if (this.snapshot === rows) this.snapshot = rows.filter((r) => !this.inFlight.has(r.id))
    clearTimeout(this.ackTimer)
    this.ackTimer = setTimeout(() => {
      this.inFlight.clear()
      this.snapshot = undefined
      void this.flush()
    }, ACK_TIMEOUT_MS)
  }
}
