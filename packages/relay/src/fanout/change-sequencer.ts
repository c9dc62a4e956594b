/**
 * Puts the changes of several relay processes back into seq order before they reach this node's
 * sockets. Engines store the highest seq they applied as their resume cursor, so a node must never
 * hand out seq n+1 before seq n: a lost or late n would then be skipped forever by the engine's next
 * catch-up. Seqs are gap-free (the storage takes them under one lock, a rollback gives its seq
 * back), so the next seq to deliver is always `watermark + 1`.
 *
 * Changes arrive two ways:
 * - whole batches (every change of one seq) from other nodes, or rebuilt from storage when a batch
 *   never came (a node died between commit and publish, Redis dropped it): {@link addBatch};
 * - this node's own changes, one by one as the core publishes them: {@link addLocal}. A local seq is
 *   "open" while its parts arrive; the owner closes it ({@link closeLocal}) once the core's publish
 *   loop is done, and then sends the whole batch to the other nodes.
 *
 * Pure logic: no timers, no I/O. The Redis adapter decides when to close a local seq and when a gap
 * has waited long enough to be filled from storage.
 */
import type { RelayChange } from './fanout.js'

export interface ChangeSequencerOptions {
  /** Every seq up to this one is known already (the storage's seq when the node started). */
  startAfter: number
  /** Called for every change, in seq order. */
  deliver: (change: RelayChange) => void
  /** A local seq started delivering: call {@link ChangeSequencer.closeLocal} once its parts are in. */
  onOpen: (seq: number) => void
  /** A local seq was closed: send its parts to the other nodes. */
  onClosed: (seq: number, changes: RelayChange[]) => void
  /**
   * A part of a local seq came after the seq was closed (the core awaited I/O between the parts of
   * one transaction): it was delivered here at once, out of order; send it on as late.
   */
  onLate?: (seq: number, change: RelayChange) => void
}

/** How many closed local seqs are remembered to recognise a late part. */
const RECENT_LOCAL = 256

interface LocalPart {
  change: RelayChange
  resolve: () => void
}

export class ChangeSequencer {
  /** Every seq ≤ watermark has been delivered (or was known before the node started). */
  watermark: number
  private readonly batches = new Map<number, RelayChange[]>()
  private readonly waiting = new Map<number, LocalPart[]>()
  private open: { seq: number; parts: RelayChange[] } | undefined
  private readonly recentLocal: number[] = []

  constructor(private readonly o: ChangeSequencerOptions) {
    this.watermark = o.startAfter
  }

  /**
   * A whole seq from elsewhere. Returns false when it is already known (delivered or held). A late
   * part (`isLate`) of a seq delivered already is delivered at once; of a held seq, joins it.
   */
  addBatch(seq: number, changes: RelayChange[], isLate = false): boolean {
    if (isLate) {
      if (seq <= this.watermark) for (const change of changes) this.o.deliver(change)
      else this.batches.set(seq, [...(this.batches.get(seq) ?? []), ...changes])
      this.drain()
      return true
    }
    if (seq <= this.watermark || this.batches.has(seq) || this.waiting.has(seq)) return false
    this.batches.set(seq, changes)
    this.drain()
    return true
  }

  /**
   * One change of a seq this node committed; resolves once delivered here. A change whose seq was
   * already delivered (rebuilt from storage before the core published it) resolves at once.
   */
  addLocal(change: RelayChange): Promise<void> {
    const { seq } = change
    if (this.open && this.open.seq !== seq) this.closeLocal()
    if (this.open?.seq === seq) {
      this.open.parts.push(change)
      this.o.deliver(change)
      return Promise.resolve()
    }
    if (seq <= this.watermark) {
      // Delivered already: rebuilt from storage before the core published it (nothing to do), or a
      // part that came after its seq was closed (deliver it now rather than lose it).
      if (this.recentLocal.includes(seq)) {
        this.o.deliver(change)
        this.o.onLate?.(seq, change)
      }
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      let parts = this.waiting.get(seq)
      if (!parts) this.waiting.set(seq, (parts = []))
      parts.push({ change, resolve })
      this.drain()
    })
  }

  /** Ends the open local seq (its parts are all in) and delivers what may follow it. */
  closeLocal(): void {
    const open = this.open
    if (!open) return
    this.open = undefined
    this.recentLocal.push(open.seq)
    if (this.recentLocal.length > RECENT_LOCAL) this.recentLocal.shift()
    this.o.onClosed(open.seq, open.parts)
    this.drain()
  }

  /** Starts over after `seq`: everything up to it counts as delivered, anything held below is dropped. */
  skipTo(seq: number): void {
    if (seq <= this.watermark) return
    this.watermark = seq
    for (const held of [...this.batches.keys()]) if (held <= seq) this.batches.delete(held)
    this.drain()
  }

  /** The lowest seq held back by a gap, if any (everything below it is committed). */
  lowestHeld(): number | undefined {
    let lowest: number | undefined
    for (const seq of this.batches.keys()) if (lowest === undefined || seq < lowest) lowest = seq
    for (const seq of this.waiting.keys()) if (lowest === undefined || seq < lowest) lowest = seq
    return lowest
  }

  /** Whether a local seq is open or waiting (its owner is still publishing). */
  isBusy(): boolean {
    return this.open !== undefined || this.waiting.size > 0
  }

  /**
   * Fills seqs (`after`, `upto`] from storage: a seq with no rebuilt change (every row it wrote was
   * rewritten since) still counts as delivered. Seqs that arrived meanwhile keep their own batch.
   * Returns how many seqs were filled.
   */
  fill(after: number, upto: number, changes: RelayChange[]): number {
    const bySeq = new Map<number, RelayChange[]>()
    for (const c of changes) {
      let list = bySeq.get(c.seq)
      if (!list) bySeq.set(c.seq, (list = []))
      list.push(c)
    }
    let filled = 0
    for (let seq = Math.max(after, this.watermark) + 1; seq <= upto; seq++) {
      if (this.batches.has(seq) || this.waiting.has(seq) || this.open?.seq === seq) continue
      this.batches.set(seq, bySeq.get(seq) ?? [])
      filled++
    }
    this.drain()
    return filled
  }

  private drain(): void {
    while (!this.open) {
      const next = this.watermark + 1
      const batch = this.batches.get(next)
      if (batch) {
        this.batches.delete(next)
        this.watermark = next
        for (const change of batch) this.o.deliver(change)
        continue
      }
      const local = this.waiting.get(next)
      if (!local) return
      this.waiting.delete(next)
      this.watermark = next
      this.open = { seq: next, parts: [] }
      this.o.onOpen(next)
      for (const part of local) {
        this.open.parts.push(part.change)
        this.o.deliver(part.change)
        part.resolve()
      }
    }
  }
}
