import { LIMITS, utf8Length, type MutationResult } from '@parlor/protocol'
import type { Connection } from './net/connection.js'
import type { ParlorDb } from './store/db.js'

const ACK_TIMEOUT_MS = 30_000
/** Bytes of mutations per `mutate` frame (the rest of the frame is a few dozen). */
const FRAME_BUDGET = Math.floor(LIMITS.maxFrameBytes * 0.8)

/**
 * Sends queued mutations over the connection: in the order they were made, at most
 * `LIMITS.maxMutationsPerFrame` per frame, one frame in flight. A room whose head mutation is
 * waiting out a backoff holds back that room's later mutations (which may depend on it) and no
 * other room's. Rows are deleted only when the relay acknowledges them (see Writer.settle), so a
 * lost frame or ack is simply sent again; the relay applies each id at most once.
 */
export class OutboxSender {
  private inFlight = new Set<string>()
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private ackTimer: ReturnType<typeof setTimeout> | undefined
  private flushing: Promise<void> | undefined
  private enabled = false

  constructor(
    private readonly db: ParlorDb,
    private readonly conn: Connection,
  ) {}

  get inFlightCount(): number {
    return this.inFlight.size
  }

  /** Starts sending (after the catch-up that answers hello has been applied). */
  enable(): void {
    this.enabled = true
    void this.flush()
  }

  /** The socket closed: whatever was in flight is sent again after the next catch-up. */
  disable(): void {
    this.enabled = false
    this.inFlight.clear()
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
    clearTimeout(this.ackTimer)
    clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(() => void this.flush(), retryAfterMs)
  }

  /** The relay answered a frame: the batch is over, settled or not. */
  acknowledged(results: readonly MutationResult[]): void {
    for (const r of results) this.inFlight.delete(r.mutationId)
    if (this.inFlight.size === 0) clearTimeout(this.ackTimer)
  }

  flush(): Promise<void> {
    this.flushing ??= this.sendNext().finally(() => (this.flushing = undefined))
    return this.flushing
  }

  private async sendNext(): Promise<void> {
    if (!this.enabled || this.inFlight.size > 0 || !this.conn.isOpen) return
    const rows = await this.db.outbox.orderBy('seq').toArray()
    const now = Date.now()
    const held = new Set<string>()
    let nextRetry = Infinity
    const batch = []
    let bytes = 0
    for (const row of rows) {
      if (held.has(row.roomId)) continue
      if (row.notBefore !== undefined && row.notBefore > now) {
        held.add(row.roomId)
        nextRetry = Math.min(nextRetry, row.notBefore)
        continue
      }
      // Frames stay well within the relay's byte bound (a comment or an options update can be large).
      const size = utf8Length(JSON.stringify(row.mutation))
      if (batch.length > 0 && bytes + size > FRAME_BUDGET) break
      bytes += size
      batch.push(row.mutation)
      if (batch.length === LIMITS.maxMutationsPerFrame) break
    }
    clearTimeout(this.retryTimer)
    if (nextRetry < Infinity) this.retryTimer = setTimeout(() => void this.flush(), nextRetry - now)
    if (batch.length === 0 || !this.enabled) return
    if (!this.conn.send({ type: 'mutate', mutations: batch })) return
    for (const m of batch) this.inFlight.add(m.id)
    clearTimeout(this.ackTimer)
    this.ackTimer = setTimeout(() => {
      this.inFlight.clear()
      void this.flush()
    }, ACK_TIMEOUT_MS)
  }
}
