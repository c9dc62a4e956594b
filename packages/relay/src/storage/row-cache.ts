/**
 * A write transaction that keeps the room, participant and user rows it has read or written in
 * memory, and the change counter: a frame of a hundred comments in one room reads that room and
 * its sender once and writes them once, at the end, and takes the counter from the database once,
 * instead of a hundred times each. Works over any adapter (it only calls `StorageTx`).
 *
 * - Reads of a cached row answer a copy from memory (callers change the rows they get); rows are
 *   copied one level deep, so nested values (`options`, `lastComment`) must be replaced, never
 *   changed in place — as the core does.
 * - Rooms, participants and the counter are written when `flush` is called (before commit) or
 *   before a query that reads them (lists and counts); users are written through at once.
 * - Comments and mutation results are written at `flush` too, each kind in one adapter call (one
 *   statement on PostgreSQL, where each call is a round trip), before a query that lists or counts
 *   comments; the lookups by unique id and by mutation id are answered from what the transaction
 *   wrote or read (`getMutationResults`/`getCommentsByUniqueIds` read a frame's at once).
 * - A savepoint that throws puts the cache back as it was when the savepoint began, just as the
 *   adapter undoes the rows written inside it (including what was flushed meanwhile).
 */
import type { CommentRecord, MutationResult, ParticipantRecord, RoomRecord } from '@parlor/protocol'
import type {
  CommentKey,
  MembershipRow,
  OptionsUpdateRow,
  RelayStorage,
  RevokedSessionRow,
  RoomAfter,
  StorageTx,
  StoredResult,
  UserRow,
} from './relay-storage.js'

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

interface Entry<R> {
  /** The row as stored or to be stored (never handed out); undefined: no such row. */
  row: R | undefined
  /** Written here, not yet to the adapter. */
  isDirty: boolean
}

export class CachingTx implements StorageTx {
  private readonly rooms = new Map<string, Entry<RoomRecord>>()
  private readonly participants = new Map<string, Entry<ParticipantRecord>>()
  /** The change counter, once taken from the adapter (the one key is `seq`). */
  private readonly counter = new Map<'seq', Entry<number>>()
  private readonly users = new Map<string, UserRow | undefined>()
  /** Comments by `roomId\nuniqueId` (undefined: none stored); those written here are dirty. */
  private readonly comments = new Map<string, Entry<CommentRecord>>()
  /** Mutation results by `userId\nmutationId` (undefined: none stored); those written here are dirty. */
  private readonly results = new Map<string, Entry<StoredResult>>()
  /** One undo list per open savepoint, innermost last. */
  private readonly undoStack: (() => void)[][] = []

  constructor(private readonly inner: StorageTx) {}

  /** Writes the rows and counter changed since the last flush (call before commit). */
  async flush(): Promise<void> {
    await this.flushDirty(this.rooms, (list) => oneByOne(list, (row) => this.inner.putRoom(row)))
    await this.flushDirty(this.participants, (list) => oneByOne(list, (row) => this.inner.putParticipant(row)))
    await this.flushDirty(this.counter, (list) => oneByOne(list, (value) => this.inner.setSeq(value)))
    await this.flushDirty(this.comments, (list) => this.inner.insertComments(list))
    await this.flushDirty(this.results, (list) => this.inner.putMutationResults(list))
  }

  /** Hands the dirty rows of `map` to `write` (in the order their keys were first cached), then marks them written. */
  private async flushDirty<K, R>(map: Map<K, Entry<R>>, write: (rows: R[]) => Promise<void>): Promise<void> {
    const dirty = [...map].filter(([, e]) => e.isDirty)
    if (dirty.length === 0) return
    await write(dirty.map(([, e]) => e.row!))
    for (const [key, e] of dirty) this.set(map, key, { row: e.row, isDirty: false })
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
    let e = this.participants.get(key)
    if (!e) {
      e = { row: await this.inner.getParticipant(roomId, userId), isDirty: false }
      this.set(this.participants, key, e)
    }
    return e.row && { ...e.row }
  }

  async putParticipant(row: ParticipantRecord): Promise<void> {
    this.set(this.participants, `${row.roomId}\n${row.userId}`, { row: { ...row }, isDirty: true })
  }

  async nextSeq(): Promise<number> {
    const e = this.counter.get('seq')
    // The first seq comes from the adapter (which locks the counter for this transaction).
    const value = e ? e.row! + 1 : await this.inner.nextSeq()
    this.set(this.counter, 'seq', { row: value, isDirty: e !== undefined })
    return value
  }

  async currentSeq(): Promise<number> {
    return this.counter.get('seq')?.row ?? this.inner.currentSeq()
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

  async setSeq(value: number): Promise<void> {
    this.set(this.counter, 'seq', { row: value, isDirty: true })
  }

  // ---- comments and mutation results ----------------------------------------------------------

  async getCommentByUniqueId(roomId: string, uniqueId: string): Promise<CommentRecord | undefined> {
    const key = `${roomId}\n${uniqueId}`
    let e = this.comments.get(key)
    if (!e) this.set(this.comments, key, (e = { row: await this.inner.getCommentByUniqueId(roomId, uniqueId), isDirty: false }))
    return e.row && { ...e.row }
  }

  async getCommentsByUniqueIds(keys: readonly CommentKey[]): Promise<CommentRecord[]> {
    const keyOf = (k: CommentKey) => `${k.roomId}\n${k.uniqueId}`
    const missing = keys.filter((k) => !this.comments.has(keyOf(k)))
    if (missing.length > 0) {
      const found = new Map((await this.inner.getCommentsByUniqueIds(missing)).map((c) => [keyOf(c), c]))
      for (const k of missing) this.set(this.comments, keyOf(k), { row: found.get(keyOf(k)), isDirty: false })
    }
    return keys.flatMap((k) => {
      const row = this.comments.get(keyOf(k))?.row
      return row ? [{ ...row }] : []
    })
  }

  async insertComment(row: CommentRecord): Promise<void> {
    const key = `${row.roomId}\n${row.uniqueId}`
    if (this.comments.get(key)?.row) throw new Error(`UNIQUE constraint failed: comment ${row.uniqueId} of room ${row.roomId} exists`)
    this.set(this.comments, key, { row: { ...row }, isDirty: true })
  }

  async insertComments(rows: readonly CommentRecord[]): Promise<void> {
    for (const row of rows) await this.insertComment(row)
  }

  async getMutationResult(userId: string, mutationId: string): Promise<MutationResult | undefined> {
    const key = `${userId}\n${mutationId}`
    let e = this.results.get(key)
    if (!e) {
      const result = await this.inner.getMutationResult(userId, mutationId)
      this.set(this.results, key, (e = { row: result && { userId, mutationId, result }, isDirty: false }))
    }
    return e.row?.result
  }

  async getMutationResults(userId: string, mutationIds: readonly string[]): Promise<Map<string, MutationResult>> {
    const missing = mutationIds.filter((id) => !this.results.has(`${userId}\n${id}`))
    if (missing.length > 0) {
      const found = await this.inner.getMutationResults(userId, missing)
      for (const id of missing) {
        const result = found.get(id)
        this.set(this.results, `${userId}\n${id}`, { row: result && { userId, mutationId: id, result }, isDirty: false })
      }
    }
    const answer = new Map<string, MutationResult>()
    for (const id of mutationIds) {
      const row = this.results.get(`${userId}\n${id}`)?.row
      if (row) answer.set(id, row.result)
    }
    return answer
  }

  async putMutationResult(userId: string, mutationId: string, result: MutationResult): Promise<void> {
    const key = `${userId}\n${mutationId}`
    if (this.results.get(key)?.row) throw new Error(`UNIQUE constraint failed: mutation ${mutationId} of ${userId} has a result`)
    this.set(this.results, key, { row: { userId, mutationId, result }, isDirty: true })
  }

  async putMutationResults(rows: readonly StoredResult[]): Promise<void> {
    for (const r of rows) await this.putMutationResult(r.userId, r.mutationId, r.result)
  }

  // ---- reads rooms, participants or comments: flush first --------------------------------------

  async listMemberships(userId: string, sinceVersion: number): Promise<MembershipRow[]> {
    await this.flush()
    return this.inner.listMemberships(userId, sinceVersion)
  }
  async listParticipants(roomId: string, opts?: Parameters<StorageTx['listParticipants']>[1]): Promise<ParticipantRecord[]> {
    await this.flush()
    return this.inner.listParticipants(roomId, opts)
  }
  async listParticipantsOfRooms(roomIds: readonly string[], sinceVersion: number): Promise<Map<string, ParticipantRecord[]>> {
    await this.flush()
    return this.inner.listParticipantsOfRooms(roomIds, sinceVersion)
  }
  async listComments(roomId: string, opts: Parameters<StorageTx['listComments']>[1]): Promise<CommentRecord[]> {
    await this.flush()
    return this.inner.listComments(roomId, opts)
  }
  async countUnread(roomId: string, userId: string, afterId: number): Promise<number> {
    await this.flush()
    return this.inner.countUnread(roomId, userId, afterId)
  }
  async listCommentsOfRooms(roomIds: readonly string[], opts: Parameters<StorageTx['listCommentsOfRooms']>[1]): Promise<Map<string, CommentRecord[]>> {
    await this.flush()
    return this.inner.listCommentsOfRooms(roomIds, opts)
  }
  async countUnreadOfRooms(userId: string, rooms: readonly RoomAfter[]): Promise<Map<string, number>> {
    await this.flush()
    return this.inner.countUnreadOfRooms(userId, rooms)
  }
  async countParticipants(roomId: string): Promise<number> {
    await this.flush()
    return this.inner.countParticipants(roomId)
  }
  async listActiveRoomIds(userId: string): Promise<string[]> {
    await this.flush()
    return this.inner.listActiveRoomIds(userId)
  }

  // ---- passed through (no cached rows read) ----------------------------------------------------

  epoch(): Promise<number> {
    return this.inner.epoch()
  }
  isSessionRevoked(sessionId: string): Promise<boolean> {
    return this.inner.isSessionRevoked(sessionId)
  }
  listOptionsUpdates(roomId: string, afterId?: number): Promise<OptionsUpdateRow[]> {
    return this.inner.listOptionsUpdates(roomId, afterId)
  }
  listOptionsUpdatesOfRooms(rooms: readonly RoomAfter[]): Promise<Map<string, OptionsUpdateRow[]>> {
    return this.inner.listOptionsUpdatesOfRooms(rooms)
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

/** Writes `rows` one call each, in order (kinds whose rows a transaction changes few of). */
async function oneByOne<R>(rows: readonly R[], write: (row: R) => Promise<void>): Promise<void> {
  for (const row of rows) await write(row)
}
