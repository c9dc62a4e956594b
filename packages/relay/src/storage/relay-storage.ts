/**
 * The relay's storage seam: a narrow, asynchronous, transactional row and query interface.
 *
 * Domain rules (authorization, room semantics, system events, unread counting rules) live in
 * `core/`; a storage adapter only stores rows and answers the queries below, so a PostgreSQL
 * adapter shared by several relay processes can implement the same interface. Adapters must:
 * - run each `transaction` atomically and serializably with respect to other write transactions
 *   (SQLite: one connection, an async mutex and BEGIN IMMEDIATE; PostgreSQL: the `seq` counter row
 *   is updated with a row lock inside the transaction, which serializes writers in seq order);
 * - roll back everything written in a transaction whose function throws, seq included;
 * - give `read` a consistent snapshot (the seq it reports matches the rows it returns).
 */
import type { CommentRecord, MutationResult, ParticipantRecord, RoomRecord } from '@parlor/protocol'

/** A registered user. `keyHash` is the scrypt hash of the user key (see `auth.ts`). */
export interface UserRow {
  userId: string
  username: string
  avatarUrl: string
  keyHash: string
  createdAt: number
  updatedAt: number
}

/** A room the user is or was in, with the user's own participant row. */
export interface MembershipRow {
  room: RoomRecord
  me: ParticipantRecord
}

/** Reads available inside any transaction. */
export interface StorageReader {
  /** The highest seq taken so far (0 on a new database). */
  currentSeq(): Promise<number>
  /** A random number made when the database was created: cursors from another database are void. */
  epoch(): Promise<number>
  getUser(userId: string): Promise<UserRow | undefined>
  getRoom(roomId: string): Promise<RoomRecord | undefined>
  getParticipant(roomId: string, userId: string): Promise<ParticipantRecord | undefined>
  /**
   * Participant rows of a room ordered by (joinedAt, userId). `includeRemoved` adds removed rows;
   * `sinceVersion` keeps rows with version > it; `offset`/`limit` page the result.
   */
  listParticipants(
    roomId: string,
    opts?: { includeRemoved?: boolean; sinceVersion?: number; offset?: number; limit?: number },
  ): Promise<ParticipantRecord[]>
  /** Active participants of a room. */
  countParticipants(roomId: string): Promise<number>
  /**
   * The rooms `userId` is or was in, with their own row, where the room row, the user's row or
   * (for rooms that are not channels) any participant row has version > `sinceVersion`.
   * Order: room id.
   */
  listMemberships(userId: string, sinceVersion: number): Promise<MembershipRow[]>
  /** Ids of the rooms `userId` is an active participant of. */
  listActiveRoomIds(userId: string): Promise<string[]>
  getCommentByUniqueId(roomId: string, uniqueId: string): Promise<CommentRecord | undefined>
  /**
   * The newest `limit` comments of a room with id < `beforeId` and seq > `sinceSeq` (when given),
   * returned oldest first.
   */
  listComments(roomId: string, opts: { limit: number; beforeId?: number; sinceSeq?: number }): Promise<CommentRecord[]>
  /** Comments with id > `afterId`, not sent by `userId`, of a type other than `system_event`. */
  countUnread(roomId: string, userId: string, afterId: number): Promise<number>
  /** The stored result of mutation `mutationId` of `userId`, if it was applied. */
  getMutationResult(userId: string, mutationId: string): Promise<MutationResult | undefined>
  /** Whether session `sessionId` was revoked (logged out); see {@link StorageTx.revokeSession}. */
  isSessionRevoked(sessionId: string): Promise<boolean>
  /**
   * The stored rows of a room's options document (Yjs updates, merged they are the document) with
   * id > `afterId` (default: all), in id order. Ids only increase, never reused, so a reader that has
   * applied the rows up to id N can catch up by asking for the rows after N.
   */
  listOptionsUpdates(roomId: string, afterId?: number): Promise<OptionsUpdateRow[]>

  // Reads of many rooms at once, each answering what the read of one room above answers, by room
  // id (rooms with nothing to answer are absent, but for counts). A catch-up reads every room of a
  // user: over a network (PostgreSQL) one query per room and read would cost a round trip each.

  /** `listParticipants(roomId, { includeRemoved: true, sinceVersion })` of each room. */
  listParticipantsOfRooms(roomIds: readonly string[], sinceVersion: number): Promise<Map<string, ParticipantRecord[]>>
  /** `listComments(roomId, { limit, sinceSeq })` of each room. */
  listCommentsOfRooms(roomIds: readonly string[], opts: { limit: number; sinceSeq?: number }): Promise<Map<string, CommentRecord[]>>
  /** `countUnread(roomId, userId, afterId)` of each room (every room is in the answer). */
  countUnreadOfRooms(userId: string, rooms: readonly RoomAfter[]): Promise<Map<string, number>>
  /** `listOptionsUpdates(roomId, afterId)` of each room. */
  listOptionsUpdatesOfRooms(rooms: readonly RoomAfter[]): Promise<Map<string, OptionsUpdateRow[]>>
  /** `getMutationResult(userId, id)` of each id that has a result, by id (a frame's, at once). */
  getMutationResults(userId: string, mutationIds: readonly string[]): Promise<Map<string, MutationResult>>
  /** The comments of these (roomId, uniqueId) keys that exist (`getCommentByUniqueId` of each, at once). */
  getCommentsByUniqueIds(keys: readonly CommentKey[]): Promise<CommentRecord[]>
}

/** A comment's dedup key. */
export interface CommentKey {
  roomId: string
  uniqueId: string
}

/** A mutation's result as stored. */
export interface StoredResult {
  userId: string
  mutationId: string
  result: MutationResult
}

/** A room and an id to read its rows after (a read pointer, the last options row read). */
export interface RoomAfter {
  roomId: string
  afterId: number
}

/** One stored piece of a room's options document. */
export interface OptionsUpdateRow {
  /** Increases with every row written (across rooms); never reused. */
  id: number
  /** The seq of the transaction that wrote it (a compacted row: the highest seq it merges). */
  seq: number
  /** A Yjs v1 update. */
  update: Uint8Array
}

/** A revoked session (logout): tokens of it are refused until `expiresAt`, after which the row may go. */
export interface RevokedSessionRow {
  sessionId: string
  userId: string
  /** When the session's token expires anyway; the row can be pruned after it. */
  expiresAt: number
  revokedAt: number
}

/** Reads and writes of one write transaction. */
export interface StorageTx extends StorageReader {
  /** Takes the next value of the global change counter (visible to others once committed). */
  nextSeq(): Promise<number>
  /**
   * Sets the change counter to `value`, a seq handed out since this transaction's `nextSeq` (the
   * row cache takes one seq here and counts on in memory, then stores where it got to).
   */
  setSeq(value: number): Promise<void>
  /** Inserts or replaces (by user id). */
  putUser(row: UserRow): Promise<void>
  /** Inserts or replaces (by room id). */
  putRoom(row: RoomRecord): Promise<void>
  /** Inserts or replaces (by room id and user id). */
  putParticipant(row: ParticipantRecord): Promise<void>
  /** Inserts a comment; (roomId, id) and (roomId, uniqueId) are unique. */
  insertComment(row: CommentRecord): Promise<void>
  /** Records a mutation's result; (userId, mutationId) is unique. */
  putMutationResult(userId: string, mutationId: string, result: MutationResult): Promise<void>
  /** `insertComment` of each row, in one statement where the adapter can (the row cache writes them so). */
  insertComments(rows: readonly CommentRecord[]): Promise<void>
  /** `putMutationResult` of each, in one statement where the adapter can. */
  putMutationResults(rows: readonly StoredResult[]): Promise<void>
  /** Records a revoked session (idempotent) and prunes revocations whose tokens expired before `row.revokedAt`. */
  revokeSession(row: RevokedSessionRow): Promise<void>
  /** Appends an update to a room's options document; answers the new row's id. */
  appendOptionsUpdate(roomId: string, seq: number, update: Uint8Array): Promise<number>
  /**
   * Compaction: replaces every row of the room's options document with one row holding `state`
   * (their merge, made by the caller in this same transaction); answers the new row's id.
   */
  replaceOptionsUpdates(roomId: string, seq: number, state: Uint8Array): Promise<number>
  /**
   * Runs `fn` inside a savepoint of this transaction: keeps its writes when it resolves, undoes them
   * (seq included) and rethrows when it throws, and the transaction goes on either way. Lets one
   * transaction carry many mutations, each of which may be refused on its own.
   */
  savepoint<T>(fn: () => Promise<T>): Promise<T>
}

/** A relay storage adapter (SQLite by default; see `sqlite.ts`). */
export interface RelayStorage {
  /**
   * Runs `fn` in one write transaction: commits when it resolves, rolls back when it throws (and
   * rethrows). Transactions are serialized; never call `transaction`/`read` from inside `fn`.
   */
  transaction<T>(fn: (tx: StorageTx) => Promise<T>): Promise<T>
  /** Runs `fn` on a consistent read-only snapshot. */
  read<T>(fn: (reader: StorageReader) => Promise<T>): Promise<T>
  /** Waits for running transactions, then releases the database. */
  close(): Promise<void>
}
