import { Dexie, type EntityTable } from 'dexie'
import type { CommentRow, MetaRow, OptionsDocRow, OutboxRow, ParticipantRow, RoomRow, UserRow } from './rows.js'

export interface DbOptions {
  indexedDB?: IDBFactory
  IDBKeyRange?: typeof IDBKeyRange
}

export type ParlorDb = Dexie & {
  rooms: EntityTable<RoomRow, 'id'>
  participants: Dexie.Table<ParticipantRow, [string, string]>
  comments: Dexie.Table<CommentRow, [string, number]>
  outbox: EntityTable<OutboxRow, 'seq'>
  meta: Dexie.Table<MetaRow, string>
  users: EntityTable<UserRow, 'userId'>
  optionDocs: EntityTable<OptionsDocRow, 'roomId'>
}

/** Opens (creating or upgrading) the engine's database. One database per user profile. */
export function openDb(name: string, options: DbOptions = {}): ParlorDb {
  const deps = options.indexedDB ? { indexedDB: options.indexedDB, IDBKeyRange: options.IDBKeyRange! } : undefined
  // 'relaxed': a transaction counts as committed once the browser has handed it to the operating
  // system (it survives a crash of the tab or the browser; an OS crash or power loss may drop the
  // last ones), without waiting for the disk. The relay's SQLite makes the same choice.
  const db = new Dexie(name, { ...deps, chromeTransactionDurability: 'relaxed' }) as ParlorDb
  db.version(1).stores({
    rooms: 'id, &uniqueId, [removedKey+lastActivityAt], [removedKey+hasCommentsKey+lastActivityAt]',
    participants: '[roomId+userId], [roomId+joinedAt+userId], userId',
    comments: '[roomId+id], uniqueId',
    outbox: '++seq, &id, roomId',
    meta: 'key',
    users: 'userId',
  })
  // 2: rooms' options documents (the relay's state of each, merged); pending updates stay in the outbox.
  db.version(2).stores({ optionDocs: 'roomId' })
  return db
}

export const ALL_TABLES = ['rooms', 'participants', 'comments', 'outbox', 'meta', 'users', 'optionDocs'] as const
