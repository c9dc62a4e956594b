/**
 * The SQLite schema as an ordered list of migrations. `PRAGMA user_version` records how many have
 * run; each runs in its own transaction, so a crash mid-migration leaves the previous version intact.
 * Append new migrations; never edit one that has shipped.
 */
import type { Database } from 'better-sqlite3'

export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO counters (name, value) VALUES ('seq', 0);

  CREATE TABLE users (
    user_id TEXT PRIMARY KEY, username TEXT NOT NULL, avatar_url TEXT NOT NULL, key_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE rooms (
    id TEXT PRIMARY KEY, unique_id TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL,
    avatar_url TEXT NOT NULL, options TEXT NOT NULL, participant_count INTEGER NOT NULL,
    last_comment TEXT, has_comments INTEGER NOT NULL, created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL, last_activity_at INTEGER NOT NULL, version INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE participants (
    room_id TEXT NOT NULL, user_id TEXT NOT NULL, username TEXT NOT NULL, avatar_url TEXT NOT NULL,
    joined_at INTEGER NOT NULL, last_read_comment_id INTEGER NOT NULL,
    last_received_comment_id INTEGER NOT NULL, is_removed INTEGER NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
  ) WITHOUT ROWID;
  CREATE INDEX participants_by_user ON participants (user_id, is_removed);
  CREATE INDEX participants_by_order ON participants (room_id, is_removed, joined_at, user_id);
  CREATE INDEX participants_by_version ON participants (room_id, version);

  CREATE TABLE comments (
    room_id TEXT NOT NULL, id INTEGER NOT NULL, unique_id TEXT NOT NULL, sender_id TEXT NOT NULL,
    sender_name TEXT NOT NULL, sender_avatar_url TEXT NOT NULL, text TEXT NOT NULL, type TEXT NOT NULL,
    payload TEXT, extras TEXT, timestamp INTEGER NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (room_id, id)
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX comments_by_unique_id ON comments (room_id, unique_id);
  CREATE INDEX comments_by_seq ON comments (room_id, seq);

  CREATE TABLE mutations (
    user_id TEXT NOT NULL, mutation_id TEXT NOT NULL, result TEXT NOT NULL, created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, mutation_id)
  ) WITHOUT ROWID;
  `,
  // 2: the database's epoch, so engines holding a cursor of another database get a full sync.
  `INSERT INTO counters (name, value) VALUES ('epoch', abs(random()) % 9007199254740991);`,
  // 3: revoked sessions (logout), kept until their tokens would have expired anyway.
  `CREATE TABLE revoked_sessions (
    session_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, expires_at INTEGER NOT NULL, revoked_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX revoked_sessions_by_expiry ON revoked_sessions (expires_at);`,
  // 4: rooms' options documents, as appended Yjs updates (compacted by merging). AUTOINCREMENT: ids
  // are never reused, so a cache that applied the rows up to id N catches up with the rows after N.
  `CREATE TABLE options_updates (
    id INTEGER PRIMARY KEY AUTOINCREMENT, room_id TEXT NOT NULL, seq INTEGER NOT NULL, "update" BLOB NOT NULL
  );
  CREATE INDEX options_updates_by_room ON options_updates (room_id, id);`,
  // 5: rows changed since a recent cursor, found by version (a reconnect of a user in many rooms).
  `CREATE INDEX rooms_by_version ON rooms (version);
  CREATE INDEX participants_by_version_only ON participants (version);`,
  // 6: mutation results in a rowid table. Without rowid, each result (a comment and its room, a few
  // hundred bytes) sat in the primary key's B-tree, where random mutation ids put every insert on
  // another page; now results append and only the key goes where the id sorts.
  `CREATE TABLE mutations_by_rowid (
    user_id TEXT NOT NULL, mutation_id TEXT NOT NULL, result TEXT NOT NULL, created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, mutation_id)
  );
  INSERT INTO mutations_by_rowid (user_id, mutation_id, result, created_at)
    SELECT user_id, mutation_id, result, created_at FROM mutations;
  DROP TABLE mutations;
  ALTER TABLE mutations_by_rowid RENAME TO mutations;`,
  // 7: options update ids without AUTOINCREMENT, whose counter row in sqlite_sequence was one more
  // page written by every update. Ids still only grow: a row takes the largest id plus one, and a
  // compaction writes its row before it deletes the rows it replaces (see replaceOptionsUpdates), so
  // no deleted id is ever the largest.
  `CREATE TABLE options_updates_v7 (
    id INTEGER PRIMARY KEY, room_id TEXT NOT NULL, seq INTEGER NOT NULL, "update" BLOB NOT NULL
  );
  INSERT INTO options_updates_v7 (id, room_id, seq, "update") SELECT id, room_id, seq, "update" FROM options_updates;
  DROP TABLE options_updates;
  ALTER TABLE options_updates_v7 RENAME TO options_updates;
  CREATE INDEX options_updates_by_room ON options_updates (room_id, id);
  DELETE FROM sqlite_sequence WHERE name = 'options_updates';`,
]

/** Brings the database up to the newest schema; refuses a database made by a newer relay. */
export function migrate(db: Database): void {
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this relay supports (${MIGRATIONS.length})`)
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!)
      db.pragma(`user_version = ${v + 1}`)
    }).immediate()
  }
}
