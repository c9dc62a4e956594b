/**
 * The PostgreSQL schema as an ordered list of migrations, recorded in `parlor_schema(version)`.
 * Several relay processes may start at once against one database: `migrate` runs under a
 * transaction-scoped advisory lock, so exactly one of them migrates and the others see the result.
 * Append new migrations; never edit one that has shipped.
 *
 * Ids that are sorted (`ORDER BY r.id`, participants by `user_id`) use `COLLATE "C"`, so order is by
 * bytes as on SQLite, whatever the database's locale.
 */
import type { PoolClient } from 'pg'

export const PG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE relay_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);

  CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
  INSERT INTO counters (name, value) VALUES ('seq', 0);
  -- The database's epoch: engines holding a cursor of another database get a full sync. Every relay
  -- process on this database reports the same one, so an engine moving between nodes keeps its cursor.
  INSERT INTO counters (name, value) VALUES ('epoch', floor(random() * 9007199254740991)::bigint);

  CREATE TABLE users (
    user_id TEXT COLLATE "C" PRIMARY KEY, username TEXT NOT NULL, avatar_url TEXT NOT NULL,
    key_hash TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL
  );

  CREATE TABLE rooms (
    id TEXT COLLATE "C" PRIMARY KEY, unique_id TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL,
    avatar_url TEXT NOT NULL, options TEXT NOT NULL, participant_count INTEGER NOT NULL,
    last_comment TEXT, has_comments BOOLEAN NOT NULL, created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL, last_activity_at BIGINT NOT NULL, version BIGINT NOT NULL
  );
  CREATE INDEX rooms_by_version ON rooms (version);

  CREATE TABLE participants (
    room_id TEXT COLLATE "C" NOT NULL, user_id TEXT COLLATE "C" NOT NULL, username TEXT NOT NULL,
    avatar_url TEXT NOT NULL, joined_at BIGINT NOT NULL, last_read_comment_id BIGINT NOT NULL,
    last_received_comment_id BIGINT NOT NULL, is_removed BOOLEAN NOT NULL, version BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
  );
  CREATE INDEX participants_by_user ON participants (user_id, is_removed);
  CREATE INDEX participants_by_order ON participants (room_id, is_removed, joined_at, user_id);
  CREATE INDEX participants_by_room_version ON participants (room_id, version);
  CREATE INDEX participants_by_version ON participants (version);

  CREATE TABLE comments (
    room_id TEXT COLLATE "C" NOT NULL, id BIGINT NOT NULL, unique_id TEXT NOT NULL, sender_id TEXT NOT NULL,
    sender_name TEXT NOT NULL, sender_avatar_url TEXT NOT NULL, text TEXT NOT NULL, type TEXT NOT NULL,
    payload TEXT, extras TEXT, timestamp BIGINT NOT NULL, seq BIGINT NOT NULL,
    PRIMARY KEY (room_id, id)
  );
  CREATE UNIQUE INDEX comments_by_unique_id ON comments (room_id, unique_id);
  CREATE INDEX comments_by_room_seq ON comments (room_id, seq);
  CREATE INDEX comments_by_seq ON comments (seq);

  CREATE TABLE mutations (
    user_id TEXT NOT NULL, mutation_id TEXT NOT NULL, result TEXT NOT NULL, created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, mutation_id)
  );
  `,
  // 2: revoked sessions (logout), kept until their tokens would have expired anyway.
  `
  CREATE TABLE revoked_sessions (
    session_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, expires_at BIGINT NOT NULL, revoked_at BIGINT NOT NULL
  );
  CREATE INDEX revoked_sessions_by_expiry ON revoked_sessions (expires_at);
  `,
  // 3: rooms' options documents, as appended Yjs updates (compacted by merging). Writers are
  // serialized (seq row lock), so ids are taken and committed in order and never reused.
  `
  CREATE TABLE options_updates (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, room_id TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL, "update" BYTEA NOT NULL
  );
  CREATE INDEX options_updates_by_room ON options_updates (room_id, id);
  CREATE INDEX options_updates_by_seq ON options_updates (seq);
  `,
]

/** An arbitrary constant naming the advisory lock that serializes migrations across processes. */
const MIGRATION_LOCK = 0x7061726c // 'parl'

/**
 * Brings the database up to the newest schema in one transaction; refuses a database made by a
 * newer relay. Safe to call from several processes at once.
 */
export async function migratePostgres(client: PoolClient): Promise<void> {
  await client.query('BEGIN')
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
    await client.query('CREATE TABLE IF NOT EXISTS parlor_schema (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)')
    const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM parlor_schema')
    const current = rows[0]?.v ?? 0
    if (current > PG_MIGRATIONS.length) {
      throw new Error(`database schema version ${current} is newer than this relay supports (${PG_MIGRATIONS.length})`)
    }
    for (let v = current; v < PG_MIGRATIONS.length; v++) {
      await client.query(PG_MIGRATIONS[v]!)
      await client.query('INSERT INTO parlor_schema (version, applied_at) VALUES ($1, $2)', [v + 1, Date.now()])
    }
    await client.query('COMMIT')
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw e
  }
}
