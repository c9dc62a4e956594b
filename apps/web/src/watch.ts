import type { Engine, LiveObservable, LiveQuery } from '@parlor/engine'

export interface Watcher<T> {
  next(value: T): void
  error(e: unknown): void
}

/** Live-query failures seen in this page (shown by `window.parlor.liveErrors` for diagnosis). */
export const liveErrors: Array<{ query: string; error: string; at: number }> = []

/** `engine.live(query)`, typed, with its failures recorded for diagnosis. */
export function watch<T>(engine: Engine, query: LiveQuery, w: Watcher<T>): { unsubscribe(): void } {
  return (engine.live(query) as LiveObservable<T>).subscribe({
    next: (value) => w.next(value),
    error: (e) => {
      liveErrors.push({ query: query.type, error: String(e), at: Date.now() })
      w.error(e)
    },
  })
}
