import type { Logger } from './logger.js'

/** A small typed event emitter; a throwing listener is logged, never propagated. */
export class Emitter<Events extends Record<string, unknown>> {
  private readonly listeners = new Map<keyof Events, Set<(value: never) => void>>()

  constructor(private readonly logger: Logger) {}

  on<K extends keyof Events>(event: K, fn: (value: Events[K]) => void): () => void {
    let set = this.listeners.get(event)
    if (!set) this.listeners.set(event, (set = new Set()))
    set.add(fn as (value: never) => void)
    return () => set.delete(fn as (value: never) => void)
  }

  emit<K extends keyof Events>(event: K, value: Events[K]): void {
    for (const fn of this.listeners.get(event) ?? []) {
      try {
        ;(fn as (v: Events[K]) => void)(value)
      } catch (e) {
        this.logger.error('event listener threw', { event, error: String(e) })
      }
    }
  }
}
