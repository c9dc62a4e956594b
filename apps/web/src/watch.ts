import type { Engine, LiveObservable, LiveQuery } from '@parlor/engine'

export interface Watcher<T> {
  next(value: T): void
  error(e: unknown): void
}

/** Live-query failures seen in this page (shown by `window.parlor.liveErrors` for diagnosis). */
export const liveErrors: Array<{ query: string; error: string; at: number }> = []

const CHANGE_EVENTS = ['room', 'room:removed', 'comment', 'options', 'status'] as const

/**
 * `engine.live(query)` with a fallback read. In Chromium the engine's live query (Dexie liveQuery
 * over an explicit read transaction) sometimes fails a run with `PrematureCommitError` while the
 * same read made directly succeeds (written up as an engine issue). When a run fails, the value
 * comes from `direct()` instead, and `direct()` is made again on every engine change event until
 * the live query delivers again. A direct answer that started before a newer live value arrived is
 * dropped, so the view never goes back in time.
 */
export function watch<T>(engine: Engine, query: LiveQuery, direct: () => Promise<T>, w: Watcher<T>): { unsubscribe(): void } {
  let closed = false
  let isFailing = false
  let delivered = 0
  let running = false
  let again = false

  const runDirect = async () => {
    if (running) return void (again = true)
    running = true
    do {
      again = false
      const seen = delivered
      try {
        const value = await direct()
        if (!closed && seen === delivered) {
          delivered++
          w.next(value)
        }
      } catch (e) {
        if (!closed) w.error(e)
      }
    } while (again && !closed && isFailing)
    running = false
  }

  const sub = (engine.live(query) as LiveObservable<T>).subscribe({
    next: (value) => {
      if (closed) return
      isFailing = false
      delivered++
      w.next(value)
    },
    error: (e) => {
      if (closed) return
      liveErrors.push({ query: query.type, error: String(e), at: Date.now() })
      isFailing = true
      void runDirect()
    },
  })
  const offs = CHANGE_EVENTS.map((ev) => engine.on(ev, () => isFailing && void runDirect()))
  return {
    unsubscribe() {
      closed = true
      sub.unsubscribe()
      for (const off of offs) off()
    },
  }
}
