/**
 * Rooms' options documents on the relay. Storage holds each document as appended Yjs updates (one
 * row per accepted change, appended in the mutation's transaction); this keeps a cache of merged
 * states for the rooms in use, checks every incoming update against the room's document
 * (`validateOptionsUpdate`), compacts rooms with many rows in the background (one write transaction
 * that merges the rows into one), and evicts documents nobody used for `idleMs`.
 *
 * The cache only ever holds a prefix of what storage holds: it is refreshed from the rows after the
 * last id it applied, so it stays right with several relay processes on one database and never
 * holds an update of a transaction that rolled back.
 */
import * as Y from 'yjs'
import { uint32 } from 'lib0/random'
import {
  compactOptionsState,
  encodeOptionsUpdate,
  legacyOptionsState,
  optionsDocFrom,
  captureUpdate,
  patchOptions,
  validateOptionsUpdate,
  type OptionsPatch,
  type RoomOptions,
  type RoomRecord,
} from '@parlor/protocol'
import type { Logger } from '../logger.js'
import type { OptionsUpdateRow, StorageReader } from '../storage/relay-storage.js'
import type { WriteScope } from './write-scope.js'

export interface OptionsDocsOptions {
  logger: Logger
  /** Runs a compaction as a write transaction of the relay (serialized with mutations). */
  runCompaction: (roomId: string, compact: (reader: StorageReader) => Promise<CompactionPlan | undefined>) => Promise<void>
  /** Documents unused this long are dropped from memory. Default 2 000 ms. */
  idleMs?: number
  /** At most this many documents in memory (least recently used go first). Default 10 000. */
  maxCached?: number
  /** Rows of one document past which it is compacted. Default 32. */
  compactAfterRows?: number
  now?: () => number
}

/** What a compaction writes: one row with the merged state in place of every row up to `seq`. */
export interface CompactionPlan {
  seq: number
  state: Uint8Array
}

/** A document as the relay holds it. */
export interface StoredOptionsDoc {
  /** The merged state; undefined for a room that never had options. */
  state: Uint8Array | undefined
  /** The highest seq that changed it (0 when none). */
  seq: number
}

interface Entry {
  state: Uint8Array | undefined
  lastRowId: number
  seq: number
  /** Rows storage holds for the room, as far as this cache knows (compaction past compactAfterRows). */
  rows: number
  /** The document is the deterministic conversion of the room's options column, not stored yet. */
  isLegacy: boolean
  lastUsed: number
}

export const defaultOptionsDocsOptions = { idleMs: 2_000, maxCached: 10_000, compactAfterRows: 32 } as const

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
    const cached = this.cache.get(room.id)
    const rows = await reader.listOptionsUpdates(room.id, cached?.lastRowId ?? 0)
    const entry = this.merge(room, cached, rows)
    this.touch(room.id, entry)
    if (entry.rows >= this.o.compactAfterRows) this.scheduleCompaction(room.id)
    return { state: entry.state, seq: entry.seq }
  }

  private merge(room: RoomRecord, cached: Entry | undefined, rows: OptionsUpdateRow[]): Entry {
    if (rows.length === 0) {
      if (cached) return cached
      const hasLegacy = Object.keys(room.options).length > 0
      return {
        state: hasLegacy ? legacyOptionsState(room.options) : undefined,
        lastRowId: 0,
        seq: hasLegacy ? room.version : 0,
        rows: 0,
        isLegacy: hasLegacy,
        lastUsed: this.o.now(),
      }
    }
    const base = cached && !cached.isLegacy ? [cached.state] : []
    const parts = [...base, ...rows.map((r) => r.update)].filter((u): u is Uint8Array => u !== undefined)
    // Re-encoded through a document, not just merged: merged updates keep the content of every
    // deleted entry, and this state is what readers are sent.
    const state = parts.length === 1 ? parts[0]! : compactOptionsState(parts)
    return {
      state,
      lastRowId: rows.at(-1)!.id,
      seq: Math.max(cached?.seq ?? 0, ...rows.map((r) => r.seq)),
      rows: (cached?.rows ?? 0) + rows.length,
      isLegacy: false,
      lastUsed: this.o.now(),
    }
  }

  private touch(roomId: string, entry: Entry): void {
    const current = this.cache.get(roomId)
    // Never replace a newer entry (another read may have refreshed it meanwhile).
    if (current && current.lastRowId > entry.lastRowId) {
      current.lastUsed = this.o.now()
      return
    }
    entry.lastUsed = this.o.now()
    this.cache.delete(roomId)
    this.cache.set(roomId, entry)
    if (this.cache.size > this.o.maxCached) this.cache.delete(this.cache.keys().next().value!)
  }

  /**
   * Checks `update` against the room's document and, when it changes something, stores what it
   * changed (with the removal of the entries it made lose) under the scope's seq, sets
   * `room.options` and records the update for the room's change. The caller saves the room.
   * Whether anything changed. Throws `validation`/`limit_exceeded` and stores nothing otherwise.
   */
  async apply(scope: WriteScope, room: RoomRecord, update: Uint8Array): Promise<boolean> {
    const doc = await this.load(scope.tx, room)
    const { options, effective } = validateOptionsUpdate(doc.state, update)
    if (!effective) return false
    const entry = this.cache.get(room.id)
    // The first change of a room converted from the options column stores the conversion too.
    const toStore = entry?.isLegacy && doc.state ? Y.mergeUpdates([doc.state, effective]) : effective
    await scope.tx.appendOptionsUpdate(room.id, await scope.seq(), toStore)
    room.options = options
    scope.noteOptionsUpdate(room.id, entry?.isLegacy ? toStore : effective)
    if (entry?.isLegacy) this.cache.delete(room.id)
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
        .runCompaction(roomId, async (reader) => {
          const rows = await reader.listOptionsUpdates(roomId)
          if (rows.length < 2) return undefined
          return { seq: Math.max(...rows.map((r) => r.seq)), state: compactOptionsState(rows.map((r) => r.update)) }
        })
        .then(
          // The rows it replaced are gone: the next use reloads the compacted state.
          () => this.cache.delete(roomId),
          (err: unknown) => this.o.logger.warn('options compaction failed', { err, roomId }),
        )
        .finally(() => this.compacting.delete(roomId))
    }, 0)
    timer.unref()
  }

  /**
   * Drops every cached document: after a write transaction failed as a whole, the cache may hold
   * rows it read inside it that never committed. The next use of each room reloads it.
   */
  forgetAll(): void {
    this.cache.clear()
  }

  /** Drops documents unused for `idleMs`. */
  sweep(): void {
    const cutoff = this.o.now() - this.o.idleMs
    for (const [roomId, entry] of this.cache) if (entry.lastUsed < cutoff) this.cache.delete(roomId)
  }

  /** Stops the sweeper and scheduling; compactions already queued run through the relay's write lock. */
  close(): void {
    this.isClosed = true
    clearInterval(this.sweeper)
    this.cache.clear()
  }
}
