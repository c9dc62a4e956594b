import type { RoomOptions } from '@parlor/protocol'

export interface OptionsSource {
  read(): Promise<RoomOptions>
  patch(p: Record<string, string | null>): Promise<void>
  onChange(fn: (options: RoomOptions) => void): () => void
}

/**
 * A room's options as a key–value handle. Reads are synchronous from a mirror that `ready` loads
 * and every change (local or remote) keeps current; writes are queued mutations like any other.
 */
export class OptionsHandle {
  private current: RoomOptions = {}
  /** Resolves once the mirror holds the cached options. */
  readonly ready: Promise<this>

  constructor(
    readonly roomId: string,
    private readonly source: OptionsSource,
  ) {
    this.ready = source.read().then((o) => {
      this.current = { ...o, ...this.current }
      return this
    })
    source.onChange((o) => (this.current = { ...o }))
  }

  get(key: string): string | undefined {
    return Object.hasOwn(this.current, key) ? this.current[key] : undefined
  }

  async set(key: string, value: string): Promise<void> {
    await this.source.patch({ [key]: value })
    this.current = { ...this.current, [key]: value }
  }

  async delete(key: string): Promise<void> {
    await this.source.patch({ [key]: null })
    const { [key]: _gone, ...rest } = this.current
    this.current = rest
  }

  toJSON(): RoomOptions {
    return { ...this.current }
  }

  /** Calls `fn` with the whole map after every change; returns the unsubscribe function. */
  observe(fn: (options: RoomOptions) => void): () => void {
    return this.source.onChange(fn)
  }
}
