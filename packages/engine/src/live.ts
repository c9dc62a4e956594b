import { liveQuery } from 'dexie'

/** The subset of the Observable protocol `engine.live()` returns. */
export interface LiveObservable<T> {
  subscribe(observer: { next?(value: T): void; error?(e: unknown): void } | ((value: T) => void)): { unsubscribe(): void }
}

/**
 * A reactive query. Where the platform has a global `indexedDB` (browsers, Electron), Dexie's
 * liveQuery re-runs it on every relevant write in any tab. Dexie only runs liveQuery queriers when
 * that global exists, so an engine given its own IndexedDB (Node) re-runs the query on the engine's
 * change events instead, which other tabs relay too.
 */
export function live<T>(query: () => Promise<T>, onChange: (fn: () => void) => () => void): LiveObservable<T> {
  if ((globalThis as { indexedDB?: unknown }).indexedDB) return liveQuery(query) as LiveObservable<T>
  return {
    subscribe(observer) {
      const o = typeof observer === 'function' ? { next: observer } : observer
      let closed = false
      let running = false
      let again = false
      const run = async () => {
        if (running) return void (again = true)
        running = true
        do {
          again = false
          try {
            const value = await query()
            if (!closed) o.next?.(value)
          } catch (e) {
            if (!closed) o.error?.(e)
          }
        } while (again && !closed)
        running = false
      }
      const off = onChange(() => void run())
      void run()
      return {
        unsubscribe() {
          closed = true
          off()
        },
      }
    },
  }
}
