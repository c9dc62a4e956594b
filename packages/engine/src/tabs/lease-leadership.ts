import type { ParlorDb } from '../store/db.js'
import type { LeaderRow } from '../store/rows.js'
import type { Leadership } from './leadership.js'

export interface LeaseOptions {
  /** How long a lease lasts without renewal (a crashed leader is replaced after this). */
  leaseMs: number
  /** How often the leader renews and the others try. */
  renewMs: number
}

export const defaultLeaseOptions: LeaseOptions = { leaseMs: 3000, renewMs: 1000 }

/**
 * Leadership through a lease row in the shared database, for platforms without Web Locks (Node,
 * old browsers). The leader renews it; a closing leader deletes it and says so on the tab channel,
 * and the others take over at once (`nudge`); a crashed leader's lease expires.
 */
export class LeaseLeadership implements Leadership {
  private leader = false
  private timer: ReturnType<typeof setInterval> | undefined
  private onChange: (isLeader: boolean) => void = () => {}
  private stopped = false

  constructor(
    private readonly db: ParlorDb,
    private readonly owner: string,
    private readonly opts: LeaseOptions = defaultLeaseOptions,
  ) {}

  get isLeader(): boolean {
    return this.leader
  }

  start(onChange: (isLeader: boolean) => void): void {
    this.onChange = onChange
    this.timer = setInterval(() => void this.tick(), this.opts.renewMs)
    void this.tick()
  }

  private async tick(): Promise<void> {
    if (this.stopped) return
    const now = Date.now()
    const isLeader = await this.db
      .transaction('rw', this.db.meta, async () => {
        const row = (await this.db.meta.get('leader')) as LeaderRow | undefined
        if (row && row.owner !== this.owner && row.expiresAt > now) return false
        await this.db.meta.put({ key: 'leader', owner: this.owner, expiresAt: now + this.opts.leaseMs })
        return true
      })
      .catch(() => false)
    if (this.stopped || isLeader === this.leader) return
    this.leader = isLeader
    this.onChange(isLeader)
  }

  nudge(): void {
    void this.tick()
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    if (!this.leader) return
    this.leader = false
    await this.db
      .transaction('rw', this.db.meta, async () => {
        const row = (await this.db.meta.get('leader')) as LeaderRow | undefined
        if (row?.owner === this.owner) await this.db.meta.delete('leader')
      })
      .catch(() => undefined)
  }
}
