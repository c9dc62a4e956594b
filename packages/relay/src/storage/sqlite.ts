/**
 * The default relay storage: one SQLite file (`relay.db`) in the data directory, in WAL mode,
 * migrated on open. better-sqlite3 is synchronous, so every transaction runs on one connection
 * behind an async mutex, between BEGIN IMMEDIATE and COMMIT (ROLLBACK when its function throws).
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { CommentRecord, MutationResult, ParticipantRecord, RoomRecord } from '@parlor/protocol'
import { createAsyncMutex } from './async-mutex.js'
import type { RelayStorage, RevokedSessionRow, StorageReader, StorageTx, UserRow } from './relay-storage.js'
import { migrate } from './sqlite-schema.js'
import * as rows from './sqlite-rows.js'

/** Options of {@link createSqliteStorage}. */
export interface SqliteStorageOptions {
  /** Directory of the database file; created if missing. */
  dataDir: string
  /** File name inside `dataDir`; default `relay.db`. */
  fileName?: string
  /**
   * The WAL is copied into the database file (checkpointed) once no write transaction has run for
   * this long, in ms (default 500), instead of by the commit that happens to fill it: a burst of
   * writes does not stop for it. SQLite still checkpoints by itself past `WAL_AUTOCHECKPOINT_PAGES`.
   */
  idleCheckpointMs?: number
}

const ROOM_COLS = ['id', 'unique_id', 'type', 'name', 'avatar_url', 'options', 'participant_count', 'last_comment',
  'has_comments', 'created_at', 'updated_at', 'last_activity_at', 'version']
const PART_COLS = ['room_id', 'user_id', 'username', 'avatar_url', 'joined_at', 'last_read_comment_id',
  'last_received_comment_id', 'is_removed', 'version']
/** A cursor at most this many seqs behind is caught up from the rows changed since (see `listRecentMemberships`). */
const RECENT_SEQS = 10_000
/** WAL pages (4 KiB) past which a commit checkpoints by itself (writes that never pause). */
const WAL_AUTOCHECKPOINT_PAGES = 10_000
const insertSql = (table: string, cols: string[]) =>
  `INSERT OR REPLACE INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((c) => '@' + c).join(', ')})`

/**
 * Opens (creating and migrating if needed) the SQLite store in `dataDir`.
 *
 * @example
 * const storage = await createSqliteStorage({ dataDir: './data' })
 */
export async function createSqliteStorage(options: SqliteStorageOptions): Promise<RelayStorage> {
  mkdirSync(options.dataDir, { recursive: true })
  const db = new Database(join(options.dataDir, options.fileName ?? 'relay.db'))
  try {
    db.pragma('journal_mode = WAL')
    // NORMAL is crash-safe in WAL mode (no corruption, committed data survives a process crash);
    // only an OS crash or power loss may drop the last transactions.
    db.pragma('synchronous = NORMAL')
    db.pragma('busy_timeout = 5000')
    db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`)
    db.pragma('foreign_keys = ON')
    migrate(db)
  } catch (e) {
    db.close()
    throw e
  }

  const s = {
    savepoint: db.prepare('SAVEPOINT sp'),
    release: db.prepare('RELEASE sp'),
    rollbackTo: db.prepare('ROLLBACK TO sp'),
    currentSeq: db.prepare(`SELECT value FROM counters WHERE name = 'seq'`).pluck(),
    epoch: db.prepare(`SELECT value FROM counters WHERE name = 'epoch'`).pluck(),
    nextSeq: db.prepare(`UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value`).pluck(),
    setSeq: db.prepare(`UPDATE counters SET value = ? WHERE name = 'seq'`),
    getUser: db.prepare(`SELECT * FROM users WHERE user_id = ?`),
    putUser: db.prepare(insertSql('users', ['user_id', 'username', 'avatar_url', 'key_hash', 'created_at', 'updated_at'])),
    getRoom: db.prepare(`SELECT * FROM rooms WHERE id = ?`),
    putRoom: db.prepare(insertSql('rooms', ROOM_COLS)),
    getParticipant: db.prepare(`SELECT * FROM participants WHERE room_id = ? AND user_id = ?`),
    putParticipant: db.prepare(insertSql('participants', PART_COLS)),
    // Paged in (joinedAt, userId) order by SQLite (a channel's list is long); a whole list (a group's
    // few rows) is sorted in JS: SQLite would sort it in a temporary B-tree, which costs more than the
    // search itself (a full catch-up lists every room's participants).
    listParticipantsPage: db.prepare(
      `SELECT * FROM participants WHERE room_id = @roomId AND (@all = 1 OR is_removed = 0) AND version > @since
       ORDER BY joined_at, user_id LIMIT @limit OFFSET @offset`,
    ),
    listParticipants: db.prepare(
      `SELECT * FROM participants WHERE room_id = @roomId AND (@all = 1 OR is_removed = 0) AND version > @since`,
    ),
    countParticipants: db.prepare(`SELECT count(*) FROM participants WHERE room_id = ? AND is_removed = 0`).pluck(),
    listMemberships: db.prepare(
      `SELECT ${ROOM_COLS.map((c) => `r.${c} AS r_${c}`).join(', ')}, ${PART_COLS.map((c) => `me.${c} AS p_${c}`).join(', ')}
       FROM participants me JOIN rooms r ON r.id = me.room_id
       WHERE me.user_id = @userId AND (me.version > @since OR r.version > @since OR (r.type <> 'channel' AND EXISTS
         (SELECT 1 FROM participants o WHERE o.room_id = r.id AND o.version > @since)))
       ORDER BY r.id`,
    ),
    // The same, starting from the rows changed since (by the version indexes): for a recent cursor
    // that is a few rows, where the user's memberships may be thousands. The plan is spelled out
    // (INDEXED BY, CROSS JOIN keeps `changed` outermost): without ANALYZE statistics SQLite would
    // scan the user's memberships instead.
    listRecentMemberships: db.prepare(
      `SELECT ${ROOM_COLS.map((c) => `r.${c} AS r_${c}`).join(', ')}, ${PART_COLS.map((c) => `me.${c} AS p_${c}`).join(', ')}
       FROM (SELECT room_id FROM participants INDEXED BY participants_by_version_only WHERE version > @since
             UNION SELECT id FROM rooms INDEXED BY rooms_by_version WHERE version > @since) changed
       CROSS JOIN participants me ON me.room_id = changed.room_id AND me.user_id = @userId
       CROSS JOIN rooms r ON r.id = changed.room_id
       WHERE me.version > @since OR r.version > @since OR (r.type <> 'channel' AND EXISTS
         (SELECT 1 FROM participants o WHERE o.room_id = r.id AND o.version > @since))
       ORDER BY r.id`,
    ),
    listActiveRoomIds: db.prepare(`SELECT room_id FROM participants WHERE user_id = ? AND is_removed = 0`).pluck(),
    getCommentByUniqueId: db.prepare(`SELECT * FROM comments WHERE room_id = ? AND unique_id = ?`),
    insertComment: db.prepare(
      `INSERT INTO comments (room_id, id, unique_id, sender_id, sender_name, sender_avatar_url, text, type, payload,
       extras, timestamp, seq) VALUES (@room_id, @id, @unique_id, @sender_id, @sender_name, @sender_avatar_url, @text,
       @type, @payload, @extras, @timestamp, @seq)`,
    ),
    countUnread: db.prepare(
      `SELECT count(*) FROM comments WHERE room_id = ? AND id > ? AND sender_id <> ? AND type <> 'system_event'`,
    ).pluck(),
    getMutation: db.prepare(`SELECT result FROM mutations WHERE user_id = ? AND mutation_id = ?`).pluck(),
    putMutation: db.prepare(`INSERT INTO mutations (user_id, mutation_id, result, created_at) VALUES (?, ?, ?, ?)`),
    isRevoked: db.prepare(`SELECT 1 FROM revoked_sessions WHERE session_id = ?`).pluck(),
    revoke: db.prepare(
      `INSERT OR IGNORE INTO revoked_sessions (session_id, user_id, expires_at, revoked_at) VALUES (?, ?, ?, ?)`,
    ),
    pruneRevoked: db.prepare(`DELETE FROM revoked_sessions WHERE expires_at < ?`),
    listOptionsUpdates: db.prepare(`SELECT id, seq, "update" FROM options_updates WHERE room_id = ? AND id > ? ORDER BY id`),
    appendOptionsUpdate: db.prepare(`INSERT INTO options_updates (room_id, seq, "update") VALUES (?, ?, ?) RETURNING id`).pluck(),
    deleteOptionsUpdatesBefore: db.prepare(`DELETE FROM options_updates WHERE room_id = ? AND id < ?`),
  }

  /**
   * The newest comments of a room, newest first as the primary key reads them (reversed in JS: a
   * sort in SQL costs a temporary B-tree), one statement per limit: SQLite runs this query in less
   * than half the time with the limit written in it than with the limit bound (measured, ~5 vs 12 µs).
   * Limits are integers the query schemas bound, so there are few.
   */
  const newestComments = new Map<number, Database.Statement>()
  const listNewestComments = (limit: number): Database.Statement => {
    let st = newestComments.get(limit)
    if (!st) {
      if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`a comment limit is a non-negative integer, not ${limit}`)
      st = db.prepare(`SELECT * FROM comments WHERE room_id = ? AND id < ? AND seq > ? ORDER BY id DESC LIMIT ${limit}`)
      newestComments.set(limit, st)
    }
    return st
  }

  /** Answers `read(room)` of each room that has something to answer, by room id. */
  const eachRoom = async <R, T>(rooms: readonly R[], idOf: (r: R) => string, read: (r: R) => Promise<T[]>): Promise<Map<string, T[]>> => {
    const found = new Map<string, T[]>()
    for (const r of rooms) {
      const list = await read(r)
      if (list.length > 0) found.set(idOf(r), list)
    }
    return found
  }

  const reader: StorageReader = {
    currentSeq: async () => s.currentSeq.get() as number,
    epoch: async () => s.epoch.get() as number,
    getUser: async (userId) => {
      const r = s.getUser.get(userId) as Record<string, unknown> | undefined
      return r && rows.userFromRow(r)
    },
    getRoom: async (roomId) => {
      const r = s.getRoom.get(roomId) as Record<string, unknown> | undefined
      return r && rows.roomFromRow(r)
    },
    getParticipant: async (roomId, userId) => {
      const r = s.getParticipant.get(roomId, userId) as Record<string, unknown> | undefined
      return r && rows.participantFromRow(r)
    },
    listParticipants: async (roomId, o = {}) => {
      const where = { roomId, all: o.includeRemoved ? 1 : 0, since: o.sinceVersion ?? -1 }
      if (o.limit !== undefined || o.offset !== undefined) {
        const page = s.listParticipantsPage.all({ ...where, limit: o.limit ?? -1, offset: o.offset ?? 0 }) as Record<string, unknown>[]
        return page.map((r) => rows.participantFromRow(r))
      }
      const found = (s.listParticipants.all(where) as Record<string, unknown>[]).map((r) => rows.participantFromRow(r))
      return found.sort(rows.byJoinOrder)
    },
    countParticipants: async (roomId) => s.countParticipants.get(roomId) as number,
    listMemberships: async (userId, since) => {
      const isRecent = (s.currentSeq.get() as number) - since <= RECENT_SEQS
      const found = (isRecent ? s.listRecentMemberships : s.listMemberships).all({ userId, since }) as Record<string, unknown>[]
      return found.map((r) => ({ room: rows.roomFromRow(r, 'r_'), me: rows.participantFromRow(r, 'p_') }))
    },
    listActiveRoomIds: async (userId) => s.listActiveRoomIds.all(userId) as string[],
    getCommentByUniqueId: async (roomId, uniqueId) => {
      const r = s.getCommentByUniqueId.get(roomId, uniqueId) as Record<string, unknown> | undefined
      return r && rows.commentFromRow(r)
    },
    listComments: async (roomId, o) =>
      (listNewestComments(o.limit).all(roomId, o.beforeId ?? Number.MAX_SAFE_INTEGER, o.sinceSeq ?? -1) as Record<string, unknown>[])
        .map(rows.commentFromRow)
        .reverse(),
    countUnread: async (roomId, userId, afterId) => s.countUnread.get(roomId, afterId, userId) as number,
    getMutationResult: async (userId, mutationId) => {
      const t = s.getMutation.get(userId, mutationId) as string | undefined
      return t === undefined ? undefined : rows.mutationResultFromText(t)
    },
    isSessionRevoked: async (sessionId) => s.isRevoked.get(sessionId) !== undefined,
    listOptionsUpdates: async (roomId, afterId = 0) =>
      (s.listOptionsUpdates.all(roomId, afterId) as { id: number; seq: number; update: Buffer }[]).map((r) => ({
        id: r.id,
        seq: r.seq,
        update: new Uint8Array(r.update.buffer, r.update.byteOffset, r.update.byteLength),
      })),
    // In-process, a read of one room costs a few µs: the batches are loops over the reads above.
    listParticipantsOfRooms: (roomIds, sinceVersion) =>
      eachRoom(roomIds, (id) => id, (id) => reader.listParticipants(id, { includeRemoved: true, sinceVersion })),
    listCommentsOfRooms: (roomIds, o) => eachRoom(roomIds, (id) => id, (id) => reader.listComments(id, o)),
    countUnreadOfRooms: async (userId, rooms) => {
      const counts = new Map<string, number>()
      for (const r of rooms) counts.set(r.roomId, await reader.countUnread(r.roomId, userId, r.afterId))
      return counts
    },
    listOptionsUpdatesOfRooms: (rooms) => eachRoom(rooms, (r) => r.roomId, (r) => reader.listOptionsUpdates(r.roomId, r.afterId)),
    getMutationResults: async (userId, ids) => {
      const found = new Map<string, MutationResult>()
      for (const id of ids) {
        const result = await reader.getMutationResult(userId, id)
        if (result) found.set(id, result)
      }
      return found
    },
    getCommentsByUniqueIds: async (keys) => {
      const found: CommentRecord[] = []
      for (const k of keys) {
        const c = await reader.getCommentByUniqueId(k.roomId, k.uniqueId)
        if (c) found.push(c)
      }
      return found
    },
  }

  const writer: Omit<StorageTx, keyof StorageReader> = {
    nextSeq: async () => s.nextSeq.get() as number,
    setSeq: async (value: number) => void s.setSeq.run(value),
    putUser: async (u: UserRow) => void s.putUser.run(rows.userToRow(u)),
    putRoom: async (r: RoomRecord) => void s.putRoom.run(rows.roomToRow(r)),
    putParticipant: async (p: ParticipantRecord) => void s.putParticipant.run(rows.participantToRow(p)),
    insertComment: async (c: CommentRecord) => void s.insertComment.run(rows.commentToRow(c)),
    putMutationResult: async (userId: string, mutationId: string, result: MutationResult) =>
      void s.putMutation.run(userId, mutationId, JSON.stringify(result), Date.now()),
    insertComments: async (list) => {
      for (const c of list) s.insertComment.run(rows.commentToRow(c))
    },
    putMutationResults: async (list) => {
      const at = Date.now()
      for (const r of list) s.putMutation.run(r.userId, r.mutationId, JSON.stringify(r.result), at)
    },
    revokeSession: async (r: RevokedSessionRow) => {
      s.pruneRevoked.run(r.revokedAt)
      s.revoke.run(r.sessionId, r.userId, r.expiresAt, r.revokedAt)
    },
    appendOptionsUpdate: async (roomId: string, seq: number, update: Uint8Array) =>
      s.appendOptionsUpdate.get(roomId, seq, toBuffer(update)) as number,
    replaceOptionsUpdates: async (roomId: string, seq: number, state: Uint8Array) => {
      // Written first, so its id is above the ids it replaces (ids are never reused: migration 7).
      const id = s.appendOptionsUpdate.get(roomId, seq, toBuffer(state)) as number
      s.deleteOptionsUpdatesBefore.run(roomId, id)
      return id
    },
    // Savepoints nest by name (the innermost `sp` is the one released or rolled back to).
    savepoint: async <T>(fn: () => Promise<T>): Promise<T> => {
      s.savepoint.run()
      try {
        const result = await fn()
        s.release.run()
        return result
      } catch (e) {
        s.rollbackTo.run()
        s.release.run()
        throw e
      }
    },
  }

  const mutex = createAsyncMutex()
  let isClosed = false

  /** Runs fn between BEGIN and COMMIT; a handle used after the transaction ended throws. */
  async function inTransaction<T, H extends object>(begin: string, handle: H, fn: (h: H) => Promise<T>): Promise<T> {
    if (isClosed) throw new Error('storage is closed')
    let isOpen = true
    const guarded = new Proxy(handle, {
      get(target, key, receiver) {
        if (!isOpen) throw new Error('storage transaction used after it ended')
        return Reflect.get(target, key, receiver)
      },
    })
    db.exec(begin)
    try {
      const result = await fn(guarded)
      db.exec('COMMIT')
      return result
    } catch (e) {
      if (db.inTransaction) db.exec('ROLLBACK')
      throw e
    } finally {
      isOpen = false
    }
  }

  // Idle checkpoints: one timer, armed by the first write after the last checkpoint and pushed back
  // (when it fires) while writes go on.
  const idleCheckpointMs = options.idleCheckpointMs ?? 500
  let lastWriteAt = 0
  let checkpointTimer: NodeJS.Timeout | undefined
  const checkpointWhenIdle = (delay: number) => {
    checkpointTimer = setTimeout(() => {
      const quietFor = Date.now() - lastWriteAt
      if (quietFor < idleCheckpointMs) return checkpointWhenIdle(idleCheckpointMs - quietFor)
      checkpointTimer = undefined
      // (A passive checkpoint that fails leaves the WAL as it was; the next one, or SQLite's own past
      // WAL_AUTOCHECKPOINT_PAGES, copies it.)
      mutex
        .run(async () => {
          if (!isClosed) db.pragma('wal_checkpoint(PASSIVE)')
        })
        .catch(() => {})
    }, delay)
    checkpointTimer.unref()
  }
  const wrote = () => {
    lastWriteAt = Date.now()
    if (!checkpointTimer) checkpointWhenIdle(idleCheckpointMs)
  }

  const txHandle: StorageTx = { ...reader, ...writer }
  return {
    transaction: (fn) => mutex.run(() => inTransaction('BEGIN IMMEDIATE', txHandle, fn).finally(wrote)),
    read: (fn) => mutex.run(() => inTransaction('BEGIN', reader, fn)),
    close: async () => {
      if (isClosed) return
      clearTimeout(checkpointTimer)
      await mutex.run(async () => {
        isClosed = true
        db.close()
      })
    },
  }
}

const toBuffer = (u: Uint8Array): Buffer => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength))
