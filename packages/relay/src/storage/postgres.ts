/**
 * Relay storage on PostgreSQL (`pg`), for several relay processes sharing one database.
 *
 * Write transactions are serialized across every process by a row lock on the `seq` counter, taken
 * first thing in the transaction (`SELECT … FOR UPDATE`), as SQLite's BEGIN IMMEDIATE does for one
 * file. So commit order equals seq order (a writer takes its seq only after the previous writer
 * committed, and a rollback gives its seq back), get-or-create of a 1-on-1 room or channel never
 * races (no duplicate room from two nodes), comment ids keep increasing per room, and a
 * read-modify-write never loses an update. Within one process an async mutex queues writers so only
 * one pooled connection at a time waits on the lock. Reads run in parallel on REPEATABLE READ
 * snapshots: since commits happen in seq order, a snapshot holds exactly the changes up to the seq it
 * reports.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { CommentRecord, MutationResult, ParticipantRecord, RoomRecord } from '@parlor/protocol'
import type { RelayChange } from '../fanout/fanout.js'
import { noopLogger, type Logger } from '../logger.js'
import { createAsyncMutex } from './async-mutex.js'
import { migratePostgres } from './postgres-schema.js'
import type { OptionsUpdateRow, RelayStorage, RevokedSessionRow, StorageReader, StorageTx, UserRow } from './relay-storage.js'
import * as rows from './sqlite-rows.js'

/** Options of {@link createPostgresStorage}. */
export interface PostgresStorageOptions {
  /** `postgres://user:password@host:port/database` */
  url: string
  /** Pooled connections (one writes at a time; the others serve reads). Default 10. */
  poolSize?: number
  logger?: Logger
}

/** {@link RelayStorage} plus what several relay processes sharing the database need. */
export interface PostgresStorage extends RelayStorage {
  /** A value every process on this database shares, created once (the cluster id, the token secret). */
  sharedValue(name: string, create: () => string): Promise<string>
  /**
   * The committed changes with seq in (`afterSeq`, `uptoSeq`], rebuilt from the rows that carry those
   * seqs, in seq order, and the current seq. A row rewritten by a later change is not in the result
   * (that later change carries it). Used to fill gaps left by a lost fan-out message.
   */
  changesBetween(afterSeq: number, uptoSeq: number): Promise<{ currentSeq: number; changes: RelayChange[] }>
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>
}

type Row = Record<string, unknown>
type Query = (name: string, text: string, values?: unknown[]) => Promise<Row[]>

const ROOM_COLS = ['id', 'unique_id', 'type', 'name', 'avatar_url', 'options', 'participant_count', 'last_comment',
  'has_comments', 'created_at', 'updated_at', 'last_activity_at', 'version']
const PART_COLS = ['room_id', 'user_id', 'username', 'avatar_url', 'joined_at', 'last_read_comment_id',
  'last_received_comment_id', 'is_removed', 'version']
const USER_COLS = ['user_id', 'username', 'avatar_url', 'key_hash', 'created_at', 'updated_at']
const COMMENT_COLS = ['room_id', 'id', 'unique_id', 'sender_id', 'sender_name', 'sender_avatar_url', 'text', 'type',
  'payload', 'extras', 'timestamp', 'seq']
/** The column types of `comments`, for inserting many rows as one array per column. */
const COMMENT_TYPES = Object.fromEntries(COMMENT_COLS.map((c) => [c, ['id', 'timestamp', 'seq'].includes(c) ? 'bigint' : 'text']))

/** INSERT … ON CONFLICT (key) DO UPDATE: "inserts or replaces", as the storage contract says. */
function upsertSql(table: string, cols: string[], key: string[]): string {
  const updates = cols.filter((c) => !key.includes(c)).map((c) => `${c} = EXCLUDED.${c}`)
  return `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})
    ON CONFLICT (${key.join(', ')}) DO UPDATE SET ${updates.join(', ')}`
}

const SQL = {
  currentSeq: `SELECT value FROM counters WHERE name = 'seq'`,
  epoch: `SELECT value FROM counters WHERE name = 'epoch'`,
  lockSeq: `SELECT value FROM counters WHERE name = 'seq' FOR UPDATE`,
  nextSeq: `UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value`,
  setSeq: `UPDATE counters SET value = $1 WHERE name = 'seq'`,
  getUser: `SELECT * FROM users WHERE user_id = $1`,
  putUser: upsertSql('users', USER_COLS, ['user_id']),
  getRoom: `SELECT * FROM rooms WHERE id = $1`,
  putRoom: upsertSql('rooms', ROOM_COLS, ['id']),
  getParticipant: `SELECT * FROM participants WHERE room_id = $1 AND user_id = $2`,
  putParticipant: upsertSql('participants', PART_COLS, ['room_id', 'user_id']),
  listParticipants: `SELECT * FROM participants WHERE room_id = $1 AND ($2 OR NOT is_removed) AND version > $3
    ORDER BY joined_at, user_id LIMIT $4 OFFSET $5`,
  countParticipants: `SELECT count(*)::int AS n FROM participants WHERE room_id = $1 AND NOT is_removed`,
  listMemberships: `SELECT ${ROOM_COLS.map((c) => `r.${c} AS r_${c}`).join(', ')}, ${PART_COLS.map((c) => `me.${c} AS p_${c}`).join(', ')}
    FROM participants me JOIN rooms r ON r.id = me.room_id
    WHERE me.user_id = $1 AND (me.version > $2 OR r.version > $2 OR (r.type <> 'channel' AND EXISTS
      (SELECT 1 FROM participants o WHERE o.room_id = r.id AND o.version > $2)))
    ORDER BY r.id`,
  listActiveRoomIds: `SELECT room_id FROM participants WHERE user_id = $1 AND NOT is_removed`,
  getCommentByUniqueId: `SELECT * FROM comments WHERE room_id = $1 AND unique_id = $2`,
  listComments: `SELECT * FROM (SELECT * FROM comments WHERE room_id = $1 AND id < $2 AND seq > $3
    ORDER BY id DESC LIMIT $4) newest ORDER BY id`,
  insertComment: `INSERT INTO comments (${COMMENT_COLS.join(', ')}) VALUES (${COMMENT_COLS.map((_, i) => `$${i + 1}`).join(', ')})`,
  countUnread: `SELECT count(*)::int AS n FROM comments WHERE room_id = $1 AND id > $2 AND sender_id <> $3 AND type <> 'system_event'`,
  getMutation: `SELECT result FROM mutations WHERE user_id = $1 AND mutation_id = $2`,
  putMutation: `INSERT INTO mutations (user_id, mutation_id, result, created_at) VALUES ($1, $2, $3, $4)`,
  isRevoked: `SELECT 1 AS one FROM revoked_sessions WHERE session_id = $1`,
  revoke: `INSERT INTO revoked_sessions (session_id, user_id, expires_at, revoked_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (session_id) DO NOTHING`,
  pruneRevoked: `DELETE FROM revoked_sessions WHERE expires_at < $1`,
  listOptionsUpdates: `SELECT id, seq, "update" FROM options_updates WHERE room_id = $1 AND id > $2 ORDER BY id`,
  appendOptionsUpdate: `INSERT INTO options_updates (room_id, seq, "update") VALUES ($1, $2, $3) RETURNING id`,
  deleteOptionsUpdates: `DELETE FROM options_updates WHERE room_id = $1`,
  // Many rooms at once (see StorageReader): the newest comments of each by a lateral join, so each
  // room's are read from its primary key as listComments reads them.
  listParticipantsOfRooms: `SELECT * FROM participants WHERE room_id = ANY($1::text[]) AND version > $2`,
  listCommentsOfRooms: `SELECT c.* FROM unnest($1::text[]) AS r(room_id) CROSS JOIN LATERAL
    (SELECT * FROM comments WHERE room_id = r.room_id AND seq > $2 ORDER BY id DESC LIMIT $3) c`,
  countUnreadOfRooms: `SELECT r.room_id, (SELECT count(*)::int FROM comments c WHERE c.room_id = r.room_id AND c.id > r.after_id
    AND c.sender_id <> $3 AND c.type <> 'system_event') AS n FROM unnest($1::text[], $2::bigint[]) AS r(room_id, after_id)`,
  listOptionsUpdatesOfRooms: `SELECT o.room_id, o.id, o.seq, o."update" FROM unnest($1::text[], $2::bigint[]) AS r(room_id, after_id)
    JOIN options_updates o ON o.room_id = r.room_id AND o.id > r.after_id ORDER BY o.id`,
  getMutationResults: `SELECT mutation_id, result FROM mutations WHERE user_id = $1 AND mutation_id = ANY($2::text[])`,
  getCommentsByUniqueIds: `SELECT c.* FROM unnest($1::text[], $2::text[]) AS k(room_id, unique_id)
    JOIN comments c ON c.room_id = k.room_id AND c.unique_id = k.unique_id`,
  // Many rows in one statement: one array per column.
  insertComments: `INSERT INTO comments (${COMMENT_COLS.join(', ')}) SELECT * FROM unnest(${COMMENT_COLS.map((c, i) => `$${i + 1}::${COMMENT_TYPES[c]}[]`).join(', ')})`,
  putMutations: `INSERT INTO mutations (user_id, mutation_id, result, created_at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])`,
  optionsUpdatesBetween: `SELECT room_id, seq, "update" FROM options_updates WHERE seq > $1 AND seq <= $2 ORDER BY id`,
  roomsBetween: `SELECT * FROM rooms WHERE version > $1 AND version <= $2`,
  participantsBetween: `SELECT * FROM participants WHERE version > $1 AND version <= $2 ORDER BY joined_at, user_id`,
  commentsBetween: `SELECT * FROM comments WHERE seq > $1 AND seq <= $2 ORDER BY room_id, id`,
} as const

// BIGINT (int8) arrives as a string by default; every int8 here (seqs, ms timestamps, ids) is far
// below 2^53, so numbers are exact. Set on this pool only, not globally for other users of pg.
const INT8_OID = 20
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
}

const bool = (r: Row, ...keys: string[]): Row => {
  const out = { ...r }
  for (const k of keys) out[k] = out[k] ? 1 : 0
  return out
}
const roomFromRow = (r: Row, prefix = '') => rows.roomFromRow(bool(r, prefix + 'has_comments'), prefix)
const participantFromRow = (r: Row, prefix = '') => rows.participantFromRow(bool(r, prefix + 'is_removed'), prefix)
const values = (r: Row, cols: string[]) => cols.map((c) => r[c])
const roomValues = (x: RoomRecord) => values({ ...rows.roomToRow(x), has_comments: x.hasComments }, ROOM_COLS)
const participantValues = (p: ParticipantRecord) => values({ ...rows.participantToRow(p), is_removed: p.isRemoved }, PART_COLS)

function readerOn(q: Query): StorageReader {
  const one = async (name: keyof typeof SQL, params: unknown[]) => (await q(name, SQL[name], params))[0]
  return {
    currentSeq: async () => Number((await one('currentSeq', []))!.value),
    epoch: async () => Number((await one('epoch', []))!.value),
    getUser: async (userId) => {
      const r = await one('getUser', [userId])
      return r && rows.userFromRow(r)
    },
    getRoom: async (roomId) => {
      const r = await one('getRoom', [roomId])
      return r && roomFromRow(r)
    },
    getParticipant: async (roomId, userId) => {
      const r = await one('getParticipant', [roomId, userId])
      return r && participantFromRow(r)
    },
    listParticipants: async (roomId, o = {}) =>
      (await q('listParticipants', SQL.listParticipants, [
        roomId, o.includeRemoved === true, o.sinceVersion ?? -1, o.limit ?? null, o.offset ?? 0,
      ])).map((r) => participantFromRow(r)),
    countParticipants: async (roomId) => (await one('countParticipants', [roomId]))!.n as number,
    listMemberships: async (userId, since) =>
      (await q('listMemberships', SQL.listMemberships, [userId, since])).map((r) => ({
        room: roomFromRow(r, 'r_'),
        me: participantFromRow(r, 'p_'),
      })),
    listActiveRoomIds: async (userId) => (await q('listActiveRoomIds', SQL.listActiveRoomIds, [userId])).map((r) => r.room_id as string),
    getCommentByUniqueId: async (roomId, uniqueId) => {
      const r = await one('getCommentByUniqueId', [roomId, uniqueId])
      return r && rows.commentFromRow(r)
    },
    listComments: async (roomId, o) =>
      (await q('listComments', SQL.listComments, [roomId, o.beforeId ?? Number.MAX_SAFE_INTEGER, o.sinceSeq ?? -1, o.limit]))
        .map(rows.commentFromRow),
    countUnread: async (roomId, userId, afterId) => (await one('countUnread', [roomId, afterId, userId]))!.n as number,
    getMutationResult: async (userId, mutationId) => {
      const r = await one('getMutation', [userId, mutationId])
      return r === undefined ? undefined : rows.mutationResultFromText(r.result as string)
    },
    isSessionRevoked: async (sessionId) => (await one('isRevoked', [sessionId])) !== undefined,
    listOptionsUpdates: async (roomId, afterId = 0) =>
      (await q('listOptionsUpdates', SQL.listOptionsUpdates, [roomId, afterId])).map(optionsUpdateFromRow),
    listParticipantsOfRooms: async (roomIds, sinceVersion) => {
      const found = await q('listParticipantsOfRooms', SQL.listParticipantsOfRooms, [roomIds, sinceVersion])
      const byRoom = groupByRoom(found, (r) => participantFromRow(r))
      for (const list of byRoom.values()) list.sort(rows.byJoinOrder)
      return byRoom
    },
    listCommentsOfRooms: async (roomIds, o) => {
      const found = await q('listCommentsOfRooms', SQL.listCommentsOfRooms, [roomIds, o.sinceSeq ?? -1, o.limit])
      // The lateral join reads each room's newest first; listComments answers oldest first.
      const byRoom = groupByRoom(found, rows.commentFromRow)
      for (const list of byRoom.values()) list.sort((a, b) => a.id - b.id)
      return byRoom
    },
    countUnreadOfRooms: async (userId, rooms) => {
      const found = await q('countUnreadOfRooms', SQL.countUnreadOfRooms, [rooms.map((r) => r.roomId), rooms.map((r) => r.afterId), userId])
      return new Map(found.map((r) => [r.room_id as string, r.n as number]))
    },
    getMutationResults: async (userId, ids) => {
      const found = await q('getMutationResults', SQL.getMutationResults, [userId, ids])
      return new Map(found.map((r) => [r.mutation_id as string, rows.mutationResultFromText(r.result as string)]))
    },
    getCommentsByUniqueIds: async (keys) =>
      (await q('getCommentsByUniqueIds', SQL.getCommentsByUniqueIds, [keys.map((k) => k.roomId), keys.map((k) => k.uniqueId)])).map(rows.commentFromRow),
    listOptionsUpdatesOfRooms: async (rooms) =>
      groupByRoom(
        await q('listOptionsUpdatesOfRooms', SQL.listOptionsUpdatesOfRooms, [rooms.map((r) => r.roomId), rooms.map((r) => r.afterId)]),
        optionsUpdateFromRow,
      ),
  }
}

const optionsUpdateFromRow = (r: Row): OptionsUpdateRow => ({ id: Number(r.id), seq: Number(r.seq), update: bytesOf(r.update) })

/** Rows by their `room_id`, each converted, in the order they came. */
function groupByRoom<T>(found: Row[], convert: (r: Row) => T): Map<string, T[]> {
  const byRoom = new Map<string, T[]>()
  for (const r of found) {
    const roomId = r.room_id as string
    const list = byRoom.get(roomId)
    if (list) list.push(convert(r))
    else byRoom.set(roomId, [convert(r)])
  }
  return byRoom
}

/** A BYTEA value (a Buffer) as a plain view of the same bytes. */
const bytesOf = (v: unknown): Uint8Array => {
  const b = v as Buffer
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}
const toBuffer = (u: Uint8Array): Buffer => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength))

function writerOn(q: Query): Omit<StorageTx, keyof StorageReader | 'savepoint'> {
  return {
    nextSeq: async () => Number((await q('nextSeq', SQL.nextSeq))[0]!.value),
    setSeq: async (value: number) => void (await q('setSeq', SQL.setSeq, [value])),
    putUser: async (u: UserRow) => void (await q('putUser', SQL.putUser, values(rows.userToRow(u), USER_COLS))),
    putRoom: async (r: RoomRecord) => void (await q('putRoom', SQL.putRoom, roomValues(r))),
    putParticipant: async (p: ParticipantRecord) => void (await q('putParticipant', SQL.putParticipant, participantValues(p))),
    insertComment: async (c: CommentRecord) => void (await q('insertComment', SQL.insertComment, values(rows.commentToRow(c), COMMENT_COLS))),
    putMutationResult: async (userId: string, mutationId: string, result: MutationResult) =>
      void (await q('putMutation', SQL.putMutation, [userId, mutationId, JSON.stringify(result), Date.now()])),
    insertComments: async (list) => {
      if (list.length === 0) return
      const table = list.map((c) => rows.commentToRow(c))
      await q('insertComments', SQL.insertComments, COMMENT_COLS.map((col) => table.map((r) => r[col])))
    },
    putMutationResults: async (list) => {
      if (list.length === 0) return
      const at = Date.now()
      await q('putMutations', SQL.putMutations, [list.map((r) => r.userId), list.map((r) => r.mutationId), list.map((r) => JSON.stringify(r.result)), list.map(() => at)])
    },
    revokeSession: async (r: RevokedSessionRow) => {
      await q('pruneRevoked', SQL.pruneRevoked, [r.revokedAt])
      await q('revoke', SQL.revoke, [r.sessionId, r.userId, r.expiresAt, r.revokedAt])
    },
    appendOptionsUpdate: async (roomId: string, seq: number, update: Uint8Array) =>
      Number((await q('appendOptionsUpdate', SQL.appendOptionsUpdate, [roomId, seq, toBuffer(update)]))[0]!.id),
    replaceOptionsUpdates: async (roomId: string, seq: number, state: Uint8Array) => {
      await q('deleteOptionsUpdates', SQL.deleteOptionsUpdates, [roomId])
      return Number((await q('appendOptionsUpdate', SQL.appendOptionsUpdate, [roomId, seq, toBuffer(state)]))[0]!.id)
    },
  }
}

/**
 * A write transaction's handle. A savepoint is sent to the server only before the first statement
 * that runs inside it: until then the database is as it was when the savepoint began, so one sent
 * then undoes the same. A savepoint whose body runs no statement (a mutation of a frame answered
 * from the row cache, its rows written at the end) costs no round trip, where SAVEPOINT and RELEASE
 * were two per mutation. Savepoints nest by name (the innermost `sp` is released or rolled back to).
 */
function txHandle(q: Query): StorageTx {
  /** The open savepoints, outermost first; `sent`: its SAVEPOINT, once a statement ran inside it. */
  const levels: { sent?: Promise<unknown> }[] = []
  // Queued in order on the connection: every savepoint not sent yet goes before the statement.
  const inside: Query = (name, text, params) => {
    for (const level of levels) level.sent ??= q('savepoint', 'SAVEPOINT sp')
    return q(name, text, params)
  }
  return {
    ...readerOn(inside),
    ...writerOn(inside),
    savepoint: async <T>(fn: () => Promise<T>): Promise<T> => {
      const level: { sent?: Promise<unknown> } = {}
      levels.push(level)
      try {
        const result = await fn()
        if (level.sent) {
          await level.sent
          await q('releaseSavepoint', 'RELEASE SAVEPOINT sp')
        }
        return result
      } catch (e) {
        if (level.sent) {
          await q('rollbackToSavepoint', 'ROLLBACK TO SAVEPOINT sp')
          await q('releaseSavepoint', 'RELEASE SAVEPOINT sp')
        }
        throw e
      } finally {
        levels.pop()
      }
    },
  }
}

/**
 * Connects to PostgreSQL, migrates the schema (once, even with several processes starting
 * together) and returns the storage.
 *
 * @throws if the database cannot be reached or was made by a newer relay
 * @example
 * const storage = await createPostgresStorage({ url: 'postgres://parlor@127.0.0.1/parlor' })
 */
export async function createPostgresStorage(options: PostgresStorageOptions): Promise<PostgresStorage> {
  const logger = options.logger ?? noopLogger
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    types,
    // A relay that dies mid-transaction must not hold the seq lock: the server ends such sessions.
    options: '-c idle_in_transaction_session_timeout=60000',
  })
  // An idle pooled connection that breaks (server restart) is reported here; without a listener it
  // would crash the process. The pool replaces it on the next checkout.
  pool.on('error', (err) => logger.warn('postgres connection lost', { err }))
  const setup = await pool.connect()
  try {
    await migratePostgres(setup)
  } catch (e) {
    setup.release()
    await pool.end()
    throw e
  }
  setup.release()

  const writeMutex = createAsyncMutex()
  let isClosed = false

  /** Runs fn between `begin` and COMMIT on one pooled connection; the handle dies with the transaction. */
  async function inTransaction<T, H extends object>(begin: string, make: (q: Query) => H, fn: (h: H) => Promise<T>): Promise<T> {
    if (isClosed) throw new Error('storage is closed')
    const client = await pool.connect()
    let isOpen = true
    let broken: Error | undefined
    // Callers may issue queries concurrently (Promise.all over rooms); one connection runs one
    // query at a time, so they queue here rather than inside pg (deprecated there).
    let queue: Promise<unknown> = Promise.resolve()
    const q: Query = (name, text, params) => {
      if (!isOpen) return Promise.reject(new Error('storage transaction used after it ended'))
      const run = queue.then(async () => (await client.query({ name, text, values: params ?? [] })).rows as Row[])
      queue = run.catch(() => undefined)
      return run
    }
    const handle = make(q)
    const guarded = new Proxy(handle, {
      get(target, key, receiver) {
        if (!isOpen) throw new Error('storage transaction used after it ended')
        return Reflect.get(target, key, receiver)
      },
    })
    try {
      await client.query(begin)
      const result = await fn(guarded)
      await queue
      await client.query('COMMIT')
      return result
    } catch (e) {
      await queue
      await client.query('ROLLBACK').catch((err: Error) => (broken = err))
      throw e
    } finally {
      isOpen = false
      // A connection whose ROLLBACK failed is in an unknown state: destroy it instead of reusing it.
      client.release(broken)
    }
  }

  // BEGIN and the lock in one round trip (simple protocol, no parameters).
  const beginWrite = `BEGIN; ${SQL.lockSeq}`
  const beginRead = 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY'

  return {
    transaction: (fn) => writeMutex.run(() => inTransaction(beginWrite, txHandle, fn)),
    read: (fn) => inTransaction(beginRead, readerOn, fn),

    async sharedValue(name, create) {
      const candidate = create()
      const { rows: found } = await pool.query<{ value: string }>(
        `INSERT INTO relay_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
         RETURNING value`,
        [name, candidate],
      )
      return found[0]!.value
    },

    changesBetween: (afterSeq, uptoSeq) =>
      inTransaction(beginRead, (q) => q, async (q) => {
        const currentSeq = Number((await q('currentSeq', SQL.currentSeq))[0]!.value)
        const upto = Math.min(uptoSeq, currentSeq)
        if (upto <= afterSeq) return { currentSeq, changes: [] }
        const [roomRows, partRows, commentRows, optionRows] = [
          await q('roomsBetween', SQL.roomsBetween, [afterSeq, upto]),
          await q('participantsBetween', SQL.participantsBetween, [afterSeq, upto]),
          await q('commentsBetween', SQL.commentsBetween, [afterSeq, upto]),
          await q('optionsUpdatesBetween', SQL.optionsUpdatesBetween, [afterSeq, upto]),
        ]
        const byKey = new Map<string, RelayChange>()
        const entry = (seq: number, roomId: string) => {
          const key = `${seq} ${roomId}`
          let c = byKey.get(key)
          if (!c) byKey.set(key, (c = { seq, roomId }))
          return c
        }
        for (const r of roomRows.map((r) => roomFromRow(r))) entry(r.version, r.id).room = r
        for (const p of partRows.map((r) => participantFromRow(r))) (entry(p.version, p.roomId).participants ??= []).push(p)
        for (const c of commentRows.map(rows.commentFromRow)) (entry(c.seq, c.roomId).comments ??= []).push(c)
        // One options row per (seq, room); a compacted row stands for its newest seq and carries the
        // whole document, which applies as well (Yjs updates are idempotent). A change whose row was
        // compacted away reaches engines without its update: they notice the room's options differ
        // from their document and fetch the document.
        for (const o of optionRows) entry(Number(o.seq), o.room_id as string).optionsUpdate = (o.update as Buffer).toString('base64')
        const changes = [...byKey.values()].sort((a, b) => a.seq - b.seq || (a.roomId < b.roomId ? -1 : a.roomId > b.roomId ? 1 : 0))
        return { currentSeq, changes }
      }),

    ping: async () => void (await pool.query('SELECT 1')),

    async close() {
      if (isClosed) return
      await writeMutex.run(async () => {
        isClosed = true
      })
      await pool.end()
    },
  }
}

/** A fresh random value for {@link PostgresStorage.sharedValue}. */
export const randomToken = (bytes = 32): string => randomBytes(bytes).toString('base64url')
