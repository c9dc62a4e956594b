/**
 * Rooms' options documents on the relay. Storage holds each document as appended Yjs updates (one
 * row per accepted change, appended in the mutation's transaction); this keeps the documents of the
 * rooms in use in memory, checks every incoming update against the room's document, compacts rooms
 * with many rows in the background (one write transaction that replaces the rows with one: the
 * state of the document in memory when it holds exactly those rows, else their merge), and
 * evicts documents nobody used for `idleMs`.
 *
 * A room being written has a {@link ValidatedOptionsDoc}: each update is checked and applied on it
 * in place (no copy of the document per update; a refused update leaves it as it was). Rooms only
 * read keep their merged state as bytes.
 *
 * What the cache holds is what storage holds, up to the rows read so far (it is refreshed from the
 * rows after the last id it applied, so it stays right with several relay processes on one
 * database), plus the updates this process appended itself and has not read back yet
 * (`unconfirmed`). A row read back confirms its update. A write transaction that no longer sees
 * one of them proves it was rolled back (a failed transaction or savepoint): the document is
 * rebuilt from storage. A reader that cannot tell (its snapshot may predate the commit) answers from
 * storage alone. So readers are never sent an update that storage does not hold.
 */
import * as Y from 'yjs'
import { uint32 } from 'lib0/random'
import {
  ValidatedOptionsDoc,
  compactOptionsState,
  encodeOptionsUpdate,
  legacyOptionsState,
  optionsDocFrom,
  captureUpdate,
  patchOptions,
  type OptionsPatch,
  type RoomOptions,
  type RoomRecord,
} from '@parlor/protocol'
import type { Logger } from '../logger.js'
import type { OptionsUpdateRow, StorageReader, StorageTx } from '../storage/relay-storage.js'
import type { WriteScope } from './write-scope.js'

export interface OptionsDocsOptions {
  logger: Logger
  /** Runs a compaction as a write transaction of the relay (serialized with mutations). */
  runCompaction: (compact: (tx: StorageTx) => Promise<void>) => Promise<void>
  /** Documents unused this long are dropped from memory. Default 2 000 ms. */
  idleMs?: number
  /** At most this many documents in memory (least recently used go first). Default 10 000. */
  maxCached?: number
  /** Rows of one document past which it is compacted. Default 32. */
  compactAfterRows?: number
  now?: () => number
}

/** A document as the relay holds it. */
export interface StoredOptionsDoc {
  /** The merged state; undefined for a room that never had options. */
  state: Uint8Array | undefined
  /** The highest seq that changed it (0 when none). */
  seq: number
}

/** An update checked against a room's document (in memory), not stored yet: see {@link OptionsDocs.store}. */
export interface PreparedOptionsUpdate {
  readonly roomId: string
  readonly options: RoomOptions
  /** What to append (the effective update, with the legacy conversion for a room's first change). */
  readonly toStore: Uint8Array
  /** What the room's change carries. */
  readonly toPublish: Uint8Array
}

interface Entry {
  /** The document of a room being written (undefined until the first update checked). */
  live: ValidatedOptionsDoc | undefined
  /** The merged state of a room only read (undefined for no document, or when `live` holds it). */
  state: Uint8Array | undefined
  lastRowId: number
  seq: number
  /**
   * Rows of the room this entry has read from storage (compaction past compactAfterRows; a
   * compaction checks it against the rows storage holds).
   */
  rows: number
  /** The document is the deterministic conversion of the room's options column, not stored yet. */
  isLegacy: boolean
  /** Ids of rows this process appended and has not read back yet. */
  unconfirmed: number[]
  /** Updates applied to `live` whose row is being appended right now. */
  appending: number
  lastUsed: number
}

export const defaultOptionsDocsOptions = { idleMs: 2_000, maxCached: 10_000, compactAfterRows: 32 } as const

/** The state readers are sent; undefined for a room that has no document (refused updates make none). */
const stateOf = (e: Entry): Uint8Array | undefined => (e.live ? (e.live.isEmpty ? undefined : e.live.state) : e.state)

/** What a reader is answered: a cached entry's state, or a detached answer as it is. */
const stored = (e: Entry | StoredOptionsDoc): StoredOptionsDoc => ('lastRowId' in e ? { state: stateOf(e), seq: e.seq } : e)

export class OptionsDocs {
  private readonly cache = new Map<string, Entry>()
  private readonly o: Required<Omit<OptionsDocsOptions, 'now'>> & { now: () => number }
  /** The relay's own client id for the changes it writes (HTTP option patches, creation maps). */
  private readonly clientId = uint32()
  private readonly compacting = new Set<string>()
  private readonly sweeper: ReturnType<typeof setInterval>
  private isClosed = false

  constructor(options: OptionsDocsOptions) {
    this.o = { ...defaultOptionsDocsOptions, now: Date.now, ...options }
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, this.o.idleMs / 2))
    this.sweeper.unref()
  }

  /** Documents held in memory (for metrics and tests). */
  get size(): number {
    return this.cache.size
  }

  /**
   * The room's document as storage holds it (refreshing the cache with rows written since). A room
   * whose options predate documents gets its deterministic conversion.
   */
  async load(reader: StorageReader, room: RoomRecord): Promise<StoredOptionsDoc> {
    return stored(await this.refresh(reader, room, false))
  }

  /** {@link load} of each room (by room id), reading the rows written since of all of them at once. */
  async loadMany(reader: StorageReader, rooms: readonly RoomRecord[]): Promise<Map<string, StoredOptionsDoc>> {
    const seen = rooms.map((room) => {
      const cached = this.cache.get(room.id)
      return { room, cached, afterId: cached?.lastRowId ?? 0 }
    })
    const rows = await reader.listOptionsUpdatesOfRooms(seen.map(({ room, afterId }) => ({ roomId: room.id, afterId })))
    const docs = new Map<string, StoredOptionsDoc>()
    for (const { room, cached, afterId } of seen) {
      docs.set(room.id, stored(await this.refreshWith(reader, room, false, cached, afterId, rows.get(room.id) ?? [])))
    }
    return docs
  }

  /**
   * The cached entry of `room`, with the rows written since read into it. `isWriter`: `reader` is a
   * write transaction of this process (no other write of it runs meanwhile), so an update it does
   * not see was rolled back. A reader that cannot tell gets a detached answer from storage alone.
   */
  private async refresh(reader: StorageReader, room: RoomRecord, isWriter: true): Promise<Entry>
  private async refresh(reader: StorageReader, room: RoomRecord, isWriter: boolean): Promise<Entry | StoredOptionsDoc>
  private async refresh(reader: StorageReader, room: RoomRecord, isWriter: boolean): Promise<Entry | StoredOptionsDoc> {
    const cached = this.cache.get(room.id)
    const afterId = cached?.lastRowId ?? 0
    return this.refreshWith(reader, room, isWriter, cached, afterId, await reader.listOptionsUpdates(room.id, afterId))
  }

  /** {@link refresh} with the rows after `afterId` read already, `cached` being the entry when the read began. */
  private async refreshWith(
    reader: StorageReader,
    room: RoomRecord,
    isWriter: boolean,
    cached: Entry | undefined,
    afterId: number,
    rows: OptionsUpdateRow[],
  ): Promise<Entry | StoredOptionsDoc> {
    const current = this.cache.get(room.id)
    if (!cached || current !== cached || cached.lastRowId !== afterId) {
      // Nothing cached, or the cache moved on while this read ran: start from this read alone.
      return this.fromStorage(reader, room, !cached && !current ? rows : undefined, isWriter)
    }
    const entry = cached
    /** Rows this process appended: their updates are in the document already. */
    let own: ReadonlySet<number> | undefined
    if (entry.unconfirmed.length > 0 || entry.appending > 0) {
      const seen = new Set(rows.map((r) => r.id))
      if (entry.appending === 0 && entry.unconfirmed.every((id) => seen.has(id))) {
        own = new Set(entry.unconfirmed)
        entry.unconfirmed = []
      } else if (isWriter) {
        // Rolled back (a failed transaction or savepoint): the document holds an update storage does not.
        this.drop(room.id)
        return this.fromStorage(reader, room, undefined, isWriter)
      } else return this.detached(reader, room)
    }
    if (rows.length > 0) this.mergeRows(entry, rows, own)
    this.touch(room.id, entry)
    return entry
  }

  /** A new entry from every row of the room (`rows`: read already), cached unless the cache moved on. */
  private async fromStorage(reader: StorageReader, room: RoomRecord, rows: OptionsUpdateRow[] | undefined, isWriter: boolean): Promise<Entry | StoredOptionsDoc> {
    const entry = this.entryFrom(room, rows ?? (await reader.listOptionsUpdates(room.id, 0)))
    if (this.cache.has(room.id)) {
      // Another read filled the cache meanwhile: a reader answers its own view and leaves the cache
      // alone; a writer's view is the newest there is (writes of this process are serialized).
      if (!isWriter) return { state: entry.state, seq: entry.seq }
      this.drop(room.id)
    }
    this.touch(room.id, entry)
    return entry
  }

  /** The room's document from storage alone, not cached. */
  private async detached(reader: StorageReader, room: RoomRecord): Promise<StoredOptionsDoc> {
    const entry = this.entryFrom(room, await reader.listOptionsUpdates(room.id, 0))
    return { state: entry.state, seq: entry.seq }
  }

  private entryFrom(room: RoomRecord, rows: OptionsUpdateRow[]): Entry {
    const base = { live: undefined, unconfirmed: [], appending: 0, lastUsed: this.o.now() }
    if (rows.length === 0) {
      const hasLegacy = Object.keys(room.options).length > 0
      return { ...base, state: hasLegacy ? legacyOptionsState(room.options) : undefined, lastRowId: 0, seq: hasLegacy ? room.version : 0, rows: 0, isLegacy: hasLegacy }
    }
    // Re-encoded through a document, not just merged: merged updates keep the content of every
    // deleted entry, and this state is what readers are sent.
    const state = rows.length === 1 ? rows[0]!.update : compactOptionsState(rows.map((r) => r.update))
    return { ...base, state, lastRowId: rows.at(-1)!.id, seq: Math.max(...rows.map((r) => r.seq)), rows: rows.length, isLegacy: false }
  }

  /**
   * Reads rows written since into the entry (stored rows are applied unchecked: a relay checked
   * them), but for `own` rows, whose updates the document holds already.
   */
  private mergeRows(entry: Entry, rows: OptionsUpdateRow[], own?: ReadonlySet<number>): void {
    if (entry.isLegacy) {
      // The first stored row holds the conversion (see prepare): storage is the document from now on.
      entry.live?.destroy()
      entry.live = undefined
      entry.state = undefined
      entry.isLegacy = false
    }
    if (entry.live) {
      for (const r of rows) if (!own?.has(r.id)) entry.live.merge(r.update)
    } else {
      const parts = [entry.state, ...rows.map((r) => r.update)].filter((u): u is Uint8Array => u !== undefined)
      entry.state = parts.length === 1 ? parts[0]! : compactOptionsState(parts)
    }
    entry.lastRowId = rows.at(-1)!.id
    entry.seq = Math.max(entry.seq, ...rows.map((r) => r.seq))
    entry.rows += rows.length
  }

  private touch(roomId: string, entry: Entry): void {
    entry.lastUsed = this.o.now()
    // Most recently used last, for the size bound.
    this.cache.delete(roomId)
    this.cache.set(roomId, entry)
    if (this.cache.size > this.o.maxCached) this.drop(this.cache.keys().next().value!)
    if (entry.rows >= this.o.compactAfterRows) this.scheduleCompaction(roomId)
  }

  private drop(roomId: string): void {
    this.cache.get(roomId)?.live?.destroy()
    this.cache.delete(roomId)
  }

  /**
   * Checks `update` against the room's document (refreshed in the write transaction `reader`) and
   * applies it there; nothing is written. Answers what to store, or undefined when the update brings
   * nothing new. Throws `validation`/`limit_exceeded` (the document unchanged then). An update
   * prepared must be stored next ({@link store}, same transaction, nothing awaited in between);
   * if that transaction fails, call {@link forget}.
   */
  async prepare(reader: StorageReader, room: RoomRecord, update: Uint8Array): Promise<PreparedOptionsUpdate | undefined> {
    const entry = await this.refresh(reader, room, true)
    if (!entry.live) {
      entry.live = new ValidatedOptionsDoc(entry.state)
      entry.state = undefined
    }
    const legacy = entry.isLegacy ? entry.live.state : undefined
    const { options, effective } = entry.live.apply(update)
    if (!effective) return undefined
    // From now until stored, readers must not take the document for what storage holds.
    entry.appending++
    // The first change of a room converted from the options column stores the conversion too.
    const toStore = legacy ? Y.mergeUpdates([legacy, effective]) : effective
    return { roomId: room.id, options, toStore, toPublish: toStore }
  }

  /**
   * Appends a prepared update under the scope's seq, sets `room.options` and records the update for
   * the room's change. The caller saves the room.
   */
  async store(scope: WriteScope, room: RoomRecord, prepared: PreparedOptionsUpdate): Promise<void> {
    const entry = this.cache.get(room.id)
    try {
      const id = await scope.tx.appendOptionsUpdate(room.id, await scope.seq(), prepared.toStore)
      entry?.unconfirmed.push(id)
    } catch (e) {
      // The document holds an update that is not stored.
      this.forget([room.id])
      throw e
    } finally {
      if (entry) entry.appending--
    }
    room.options = { ...prepared.options }
    scope.noteOptionsUpdate(room.id, prepared.toPublish)
  }

  /**
   * Checks `update` against the room's document and, when it changes something, stores what it
   * changed (with the removal of the entries it made lose) under the scope's seq, sets
   * `room.options` and records the update for the room's change. The caller saves the room.
   * Whether anything changed. Throws `validation`/`limit_exceeded` and stores nothing otherwise.
   */
  async apply(scope: WriteScope, room: RoomRecord, update: Uint8Array): Promise<boolean> {
    const prepared = await this.prepare(scope.tx, room, update)
    if (!prepared) return false
    await this.store(scope, room, prepared)
    return true
  }

  /** Applies a merge patch (HTTP callers, creation maps) as a change made by the relay. */
  async patch(scope: WriteScope, room: RoomRecord, patch: OptionsPatch | RoomOptions): Promise<boolean> {
    const { state } = await this.load(scope.tx, room)
    const doc = optionsDocFrom([state], this.clientId)
    let update: Uint8Array | undefined
    try {
      update = captureUpdate(doc, (d) => patchOptions(d, patch))
    } finally {
      doc.destroy()
    }
    return update ? this.apply(scope, room, update) : false
  }

  /** The state to send with a room, as base64; undefined when the room has no options document. */
  static encode(doc: StoredOptionsDoc): string | undefined {
    return doc.state && doc.state.length > 0 ? encodeOptionsUpdate(doc.state) : undefined
  }

  private scheduleCompaction(roomId: string): void {
    if (this.isClosed || this.compacting.has(roomId)) return
    this.compacting.add(roomId)
    const timer = setTimeout(() => {
      if (this.isClosed) return void this.compacting.delete(roomId)
      void this.o
        .runCompaction((tx) => this.compact(tx, roomId))
        .catch((err: unknown) => {
          this.forget([roomId])
          this.o.logger.warn('options compaction failed', { err, roomId })
        })
        .finally(() => this.compacting.delete(roomId))
    }, 0)
    timer.unref()
  }

  /**
   * Replaces the room's rows with one holding their merged state, in the write transaction `tx`.
   * When the cached document holds exactly the rows storage holds (checked against them), its
   * state is what is written: the rows are not applied again to a new document, and the new row
   * is the document's own (not applied again when read back). Otherwise the rows are merged anew
   * and the cached document is dropped.
   */
  private async compact(tx: StorageTx, roomId: string): Promise<void> {
    const rows = await tx.listOptionsUpdates(roomId)
    const entry = this.cache.get(roomId)
    const isExact = entry !== undefined && this.catchUpWith(entry, rows)
    if (entry && !isExact) this.drop(roomId)
    if (rows.length < 2) return
    const seq = Math.max(...rows.map((r) => r.seq))
    const cached = isExact ? stateOf(entry) : undefined
    const id = await tx.replaceOptionsUpdates(roomId, seq, cached ?? compactOptionsState(rows.map((r) => r.update)))
    if (isExact && cached) {
      // Read back, it confirms the document; if this transaction rolls back, the next writer misses
      // it and rebuilds the document from storage (see refresh).
      entry.unconfirmed.push(id)
      entry.rows = 0
    } else this.drop(roomId)
  }

  /**
   * Brings `entry` up to `rows` (every row storage holds for the room, read by a write transaction
   * of this process): confirms its own rows, applies the others after the last it applied. Whether
   * it then holds exactly those rows (false also when one of its own updates is missing: rolled back).
   */
  private catchUpWith(entry: Entry, rows: OptionsUpdateRow[]): boolean {
    if (entry.appending > 0 || entry.isLegacy) return false
    const newer = rows.filter((r) => r.id > entry.lastRowId)
    let own: ReadonlySet<number> | undefined
    if (entry.unconfirmed.length > 0) {
      const seen = new Set(newer.map((r) => r.id))
      if (!entry.unconfirmed.every((id) => seen.has(id))) return false
      own = new Set(entry.unconfirmed)
      entry.unconfirmed = []
    }
    if (newer.length > 0) this.mergeRows(entry, newer, own)
    // A row it never read (committed late below its last id, or a compaction elsewhere) shows here.
    return entry.rows === rows.length
  }

  /**
   * Drops the named rooms' documents: after a write transaction that prepared or stored updates of
   * them failed as a whole. The next use of each reloads it from storage.
   */
  forget(roomIds: Iterable<string>): void {
    for (const id of roomIds) this.drop(id)
  }

  /**
   * Drops every cached document: after a write transaction failed as a whole, the cache may hold
   * rows it read inside it that never committed. The next use of each room reloads it.
   */
  forgetAll(): void {
    for (const id of [...this.cache.keys()]) this.drop(id)
  }

  /** Drops documents unused for `idleMs`. */
  sweep(): void {
    const cutoff = this.o.now() - this.o.idleMs
    for (const [roomId, entry] of this.cache) if (entry.lastUsed < cutoff && entry.appending === 0) this.drop(roomId)
  }

  /** Stops the sweeper and scheduling; compactions already queued run through the relay's write lock. */
  close(): void {
    this.isClosed = true
    clearInterval(this.sweeper)
    this.forgetAll()
  }
}
