import type { ParlorDb } from '../store/db.js'
import type { Leadership } from './leadership.js'
import { LeaseLeadership } from './lease-leadership.js'
import { WebLocksLeadership } from './web-locks-leadership.js'

/** Web Locks where the platform has them (browsers), else the database lease (Node, old browsers). */
export function chooseLeadership(db: ParlorDb, dbName: string, owner: string): Leadership {
  const locks = (globalThis as { navigator?: { locks?: ConstructorParameters<typeof WebLocksLeadership>[0] } }).navigator?.locks
  return locks ? new WebLocksLeadership(locks, `parlor-leader:${dbName}`) : new LeaseLeadership(db, owner)
}
