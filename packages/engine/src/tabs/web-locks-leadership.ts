import type { Leadership } from './leadership.js'

interface LockManagerLike {
  request(name: string, options: { signal?: AbortSignal }, fn: () => Promise<void>): Promise<unknown>
}

/** Leadership through the Web Locks API: the lock is held until the engine closes. */
export class WebLocksLeadership implements Leadership {
  private leader = false
  private release: (() => void) | undefined
  private readonly abort = new AbortController()
  private held: Promise<unknown> | undefined

  constructor(
    private readonly locks: LockManagerLike,
    private readonly name: string,
  ) {}

  get isLeader(): boolean {
    return this.leader
  }

  start(onChange: (isLeader: boolean) => void): void {
    this.held = this.locks
      .request(this.name, { signal: this.abort.signal }, () => {
        this.leader = true
        onChange(true)
        return new Promise<void>((resolve) => (this.release = resolve))
      })
      .catch(() => undefined)
  }

  /** The lock manager hands the lock over by itself. */
  nudge(): void {}

  async stop(): Promise<void> {
    this.abort.abort()
    this.leader = false
    this.release?.()
    await this.held
  }
}
