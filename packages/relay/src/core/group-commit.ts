/**
 * Group commit: work submitted while a write transaction runs (or waits for the relay's write lock),
 * or in the same turn of the event loop (`waitsForTurn`), goes into the next transaction together,
 * since a commit costs more than most of what goes into it. The group is taken when its transaction begins,
 * up to `maxWeight` (an item is never split). `apply` answers each item of a group; a transaction
 * that fails as a whole applied nothing, and `onFailure` answers each of its items instead.
 */
import type { RelayChange } from '../fanout/fanout.js'
import type { StorageTx } from '../storage/relay-storage.js'

/** Runs `fn` as one write transaction of the relay and publishes the changes it returns after commit. */
export type RunWrite = <T>(fn: (tx: StorageTx) => Promise<{ value: T; changes: RelayChange[] }>) => Promise<T>

export interface GroupCommitOptions<I, R> {
  write: RunWrite
  /** Applies a group in one transaction: one answer per item, in order, and the changes to publish. */
  apply: (tx: StorageTx, items: I[]) => Promise<{ value: R[]; changes: RelayChange[] }>
  /** The answers to a group whose transaction failed (or never began: the relay is closing). */
  onFailure: (items: I[], error: unknown) => R[]
  /** The most weight one transaction takes; an item heavier than that goes alone. */
  maxWeight: number
  /** An item's weight (default 1). */
  weight?: (item: I) => number
  /**
   * Whether a group waits for the end of the current turn of the event loop before it is written,
   * so that what arrived together (many sockets' messages in one I/O phase) goes together. Without,
   * an idle queue writes at once: the write is in line for the lock now (a relay closing waits for
   * it). Either way, what comes while a group waits for the lock or is written goes into the next.
   */
  waitsForTurn?: boolean
}

export function createGroupCommit<I, R>(o: GroupCommitOptions<I, R>) {
  const weight = o.weight ?? (() => 1)
  /** Items not taken by a transaction yet; a flush is scheduled whenever this is non-empty. */
  const queued: { item: I; answer: (r: R) => void }[] = []
  let isScheduled = false
  /** The end of the turn a group waits for (`waitsForTurn`), until its flush begins. */
  let waiting: ReturnType<typeof setImmediate> | undefined

  function schedule(): void {
    if (isScheduled) return
    isScheduled = true
    if (o.waitsForTurn) {
      waiting = setImmediate(() => {
        waiting = undefined
        void flush()
      })
    } else void flush()
  }

  function take(): typeof queued {
    let total = 0
    let n = 0
    while (n < queued.length && (n === 0 || total + weight(queued[n]!.item) <= o.maxWeight)) total += weight(queued[n++]!.item)
    return queued.splice(0, n)
  }

  async function flush(): Promise<void> {
    let group: typeof queued | undefined
    let answers: R[]
    try {
      answers = await o.write(async (tx) => {
        // Taken once the transaction has begun: what came while it waited for the lock joins in.
        group = take()
        isScheduled = false
        if (queued.length > 0) schedule()
        return o.apply(tx, group.map((q) => q.item))
      })
    } catch (e) {
      if (!group) {
        // Refused before it began (the relay is closing): everything queued gets the error.
        group = queued.splice(0)
        isScheduled = false
      }
      answers = o.onFailure(group.map((q) => q.item), e)
    }
    group!.forEach((q, i) => q.answer(answers[i]!))
  }

  return {
    /**
     * Puts a group waiting for the end of the turn in line for the write lock now (a relay about to
     * close writes what it accepted before it refuses new work).
     */
    flushNow(): void {
      if (waiting === undefined) return
      clearImmediate(waiting)
      waiting = undefined
      void flush()
    },

    /** Resolves with the item's answer once its group is committed and its changes published. */
    submit(item: I): Promise<R> {
      return new Promise<R>((answer) => {
        queued.push({ item, answer })
        schedule()
      })
    },
  }
}
