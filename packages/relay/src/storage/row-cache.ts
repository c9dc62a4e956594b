/**
 * A write transaction that keeps the room, participant and user rows it has read or written in
 * memory: a frame of a hundred comments in one room reads that room once and writes it once, at
 * the end, instead of a hundred times each. Works over any adapter (it only calls `StorageTx`).
 *
 * - Reads of a cached row answer a copy from memory (callers change the rows they get); rows are
 *   copied one level deep, so nested values (`options`, `lastComment`) must be replaced, never
 *   changed in place — as the core does.
 * - Participants and users are written through at once (other queries count and list them); a
 *   room is written when `flush` is called (before commit) or before a query that reads rooms.
 * - A savepoint that throws puts the cache back as it was when the savepoint began, just as the
 *   adapter undoes the rows written inside it (including rooms flushed meanwhile).
 */
import type { CommentRecord, MutationResult, ParticipantRecord, RoomRecord } from '@parlor/protocol'
import type { MembershipRow, OptionsUpdateRow, RelayStorage, RevokedSessionRow, StorageTx, UserRow } from './relay-storage.js'

/**
 * `storage` with every write transaction run through a {@link CachingTx} (flushed before commit).
 *
 * @example
 * const storage = withRowCache(await createSqliteStorage({ dataDir }))
 */
export function withRowCache(storage: RelayStorage): RelayStorage {
  return {
    transaction: (fn) =>
      storage.transaction(async (inner) => {
        const tx = new CachingTx(inner)
        const result = await fn(tx)
        await tx.flush()
        return result
      }),
    read: (fn) => storage.read(fn),
    close: () => storage.close(),
  }
}

interface RoomEntry {
  /** The row as stored or to be stored (never handed out); undefined: no such room. */
  row: RoomRecord | undefined
  /** Written here, not yet to the adapter. */
  isDirty: boolean
}

export class CachingTx implements StorageTx {
  private readonly rooms = new Map<string, RoomEntry>()
  private readonly participants = new Map<string, ParticipantRecord | undefined>()
  private readonly users = new Map<string, UserRow | undefined>()
  /** One undo list per open savepoint, innermost last. */
  private readonly undoStack: (() => void)[][] = []

  constructor(private readonly inner: StorageTx) {}

  /** Writes the rooms changed since the last flush (call before commit). */
  async flush(): Promise<void> {
    for (const [id, e] of this.rooms) {
      if (!e.isDirty) continue
      await this.inner.putRoom(e.row!)
      this.set(this.rooms, id, { row: e.row, isDirty: false })
    }
  }

  /** Changes a cache entry, remembering how to undo it if the open savepoint throws. */
  private set<K, V>(map: Map<K, V>, key: K, value: V): void {
    const undo = this.undoStack.at(-1)
    if (undo) {
      const had = map.has(key)
      const previous = map.get(key)
      undo.push(had ? () => map.set(key, previous as V) : () => map.delete(key))
    }
    map.set(key, value)
  }

  async savepoint<T>(fn: () => Promise<T>): Promise<T> {
    const undo: (() => void)[] = []
    this.undoStack.push(undo)
    try {
      const result = await this.inner.savepoint(fn)
      this.undoStack.pop()
      // Kept by this savepoint, still undone if an enclosing one throws.
      this.undoStack.at(-1)?.push(...undo)
      return result
    } catch (e) {
      this.undoStack.pop()
      for (let i = undo.length - 1; i >= 0; i--) undo[i]!()
      throw e
    }
  }

  // ---- cached ---------------------------------------------------------------------------------

  async getRoom(roomId: string): Promise<RoomRecord | undefined> {
    let e = this.rooms.get(roomId)
    if (!e) {
      e = { row: await this.inner.getRoom(roomId), isDirty: false }
      this.set(this.rooms, roomId, e)
    }
    return e.row && { ...e.row }
  }

  async putRoom(row: RoomRecord): Promise<void> {
    this.set(this.rooms, row.id, { row: { ...row }, isDirty: true })
  }

  async getParticipant(roomId: string, userId: string): Promise<ParticipantRecord | undefined> {
    const key = `${roomId}\n${userId}`
    let row: ParticipantRecord | undefined
    if (this.participants.has(key)) row = this.participants.get(key)
    else this.set(this.participants, key, (row = await this.inner.getParticipant(roomId, userId)))
    return row && { ...row }
  }

  async putParticipant(row: ParticipantRecord): Promise<void> {
    await this.inner.putParticipant(row)
    this.set(this.participants, `${row.roomId}\n${row.userId}`, { ...row })
  }

  async getUser(userId: string): Promise<UserRow | undefined> {
    let row: UserRow | undefined
    if (this.users.has(userId)) row = this.users.get(userId)
    else this.set(this.users, userId, (row = await this.inner.getUser(userId)))
    return row && { ...row }
  }

  async putUser(row: UserRow): Promise<void> {
    await this.inner.putUser(row)
    this.set(this.users, row.userId, { ...row })
  }

  // ---- reads rooms: flush first ---------------------------------------------------------------

  async listMemberships(userId: string, sinceVersion: number): Promise<MembershipRow[]> {
    await this.flush()
    return this.inner.listMemberships(userId, sinceVersion)
  }

  // ---- passed through (no room rows read) ------------------------------------------------------

  currentSeq(): Promise<number> {
    return this.inner.currentSeq()
  }
  epoch(): Promise<number> {
    return this.inner.epoch()
  }
  listParticipants(roomId: string, opts?: Parameters<StorageTx['listParticipants']>[1]): Promise<ParticipantRecord[]> {
    return this.inner.listParticipants(roomId, opts)
  }
  countParticipants(roomId: string): Promise<number> {
    return this.inner.countParticipants(roomId)
  }
  listActiveRoomIds(userId: string): Promise<string[]> {
    return this.inner.listActiveRoomIds(userId)
  }
  getCommentByUniqueId(roomId: string, uniqueId: string): Promise<CommentRecord | undefined> {
    return this.inner.getCommentByUniqueId(roomId, uniqueId)
  }
  listComments(roomId: string, opts: Parameters<StorageTx['listComments']>[1]): Promise<CommentRecord[]> {
    return this.inner.listComments(roomId, opts)
  }
  countUnread(roomId: string, userId: string, afterId: number): Promise<number> {
    return this.inner.countUnread(roomId, userId, afterId)
  }
  getMutationResult(userId: string, mutationId: string): Promise<MutationResult | undefined> {
    return this.inner.getMutationResult(userId, mutationId)
  }
  isSessionRevoked(sessionId: string): Promise<boolean> {
    return this.inner.isSessionRevoked(sessionId)
  }
  listOptionsUpdates(roomId: string, afterId?: number): Promise<OptionsUpdateRow[]> {
    return this.inner.listOptionsUpdates(roomId, afterId)
  }
  nextSeq(): Promise<number> {
    return this.inner.nextSeq()
  }
  insertComment(row: CommentRecord): Promise<void> {
    return this.inner.insertComment(row)
  }
  putMutationResult(userId: string, mutationId: string, result: MutationResult): Promise<void> {
    return this.inner.putMutationResult(userId, mutationId, result)
  }
  revokeSession(row: RevokedSessionRow): Promise<void> {
    return this.inner.revokeSession(row)
  }
  appendOptionsUpdate(roomId: string, seq: number, update: Uint8Array): Promise<number> {
    return this.inner.appendOptionsUpdate(roomId, seq, update)
  }
  replaceOptionsUpdates(roomId: string, seq: number, state: Uint8Array): Promise<number> {
    return this.inner.replaceOptionsUpdates(roomId, seq, state)
  }
}
