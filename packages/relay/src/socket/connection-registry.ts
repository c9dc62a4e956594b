/**
 * Which live connection gets which change. Connections are indexed by user and by the rooms their
 * user is an active participant of, so routing a change costs the room's connections, not all of
 * them. Connections still computing their catch-up receive every change (they buffer and filter it
 * against their snapshot), so nothing committed during a handshake is missed.
 */
import type { RelayChange } from '../fanout/fanout.js'

/** What the registry needs of a connection. */
export interface RoutedConnection {
  readonly userId: string | undefined
  onChange(change: RelayChange): void
}

export class ConnectionRegistry<C extends RoutedConnection = RoutedConnection> {
  private readonly byUser = new Map<string, Set<C>>()
  private readonly byRoom = new Map<string, Set<C>>()
  private readonly syncing = new Set<C>()

  /** Starts delivering every change to `conn` (before its catch-up is computed). */
  addSyncing(conn: C): void {
    this.syncing.add(conn)
  }

  /** Indexes a connection that finished its catch-up by its user and active rooms. */
  goLive(conn: C, roomIds: Iterable<string>): void {
    this.syncing.delete(conn)
    if (conn.userId !== undefined) add(this.byUser, conn.userId, conn)
    for (const roomId of roomIds) add(this.byRoom, roomId, conn)
  }

  joinRoom(conn: C, roomId: string): void {
    add(this.byRoom, roomId, conn)
  }

  leaveRoom(conn: C, roomId: string): void {
    remove(this.byRoom, roomId, conn)
  }

  /** Forgets a closed connection everywhere. */
  remove(conn: C, roomIds: Iterable<string>): void {
    this.syncing.delete(conn)
    if (conn.userId !== undefined) remove(this.byUser, conn.userId, conn)
    for (const roomId of roomIds) remove(this.byRoom, roomId, conn)
  }

  /**
   * Hands `change` to the connections that may need it: those of the room's active participants,
   * those of users whose participant row it carries (added or removed users), and syncing ones.
   * Each connection decides for itself (it knows its user's memberships, in delivery order).
   */
  route(change: RelayChange): void {
    const targets = new Set<C>(this.syncing)
    // A channel change that only moves someone's read pointer concerns that user alone.
    const isPrivate = change.roomId.startsWith('c:') && !change.room && !change.comments && change.optionsUpdate === undefined
    if (!isPrivate) for (const c of this.byRoom.get(change.roomId) ?? []) targets.add(c)
    for (const p of change.participants ?? []) for (const c of this.byUser.get(p.userId) ?? []) targets.add(c)
    for (const conn of targets) conn.onChange(change)
  }

  /** Counts for tests and metrics. */
  size(): { users: number; rooms: number; syncing: number } {
    return { users: this.byUser.size, rooms: this.byRoom.size, syncing: this.syncing.size }
  }
}

function add<C>(index: Map<string, Set<C>>, key: string, conn: C): void {
  let set = index.get(key)
  if (!set) index.set(key, (set = new Set()))
  set.add(conn)
}

function remove<C>(index: Map<string, Set<C>>, key: string, conn: C): void {
  const set = index.get(key)
  if (!set) return
  set.delete(conn)
  if (set.size === 0) index.delete(key)
}
