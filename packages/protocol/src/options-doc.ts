/**
 * A room's options as a Yjs document: a last-writer-wins key–value on the Y.Array `options`, whose
 * entries are `[key, value]` pairs of strings (the idea of y-utility's YKeyValue, written for
 * Parlor). A pair encodes 8 bytes shorter than a `{ key, val }` object, the form documents were
 * written in before, which is still read and accepted.
 *
 * - **set** deletes the key's live entries and inserts one new entry; **delete** deletes them.
 * - Concurrent sets of one key leave several live entries: the **rightmost wins** on every replica
 *   (Yjs gives every replica the same order), and a replica that sees duplicates may delete the
 *   losers ({@link removeDuplicateOptions}; the relay does it for every update it accepts).
 * - **Bounded size.** A Y.Map keeps one tombstone per overwrite, each carrying its origin ids. Here a
 *   client always inserts right after the last entry *it* inserted (live or deleted), so each
 *   client's entries form one run of consecutive clocks; deleted entries of a run merge into one
 *   struct, and a document under any churn stays near the size of its live entries plus a few bytes
 *   per writing client (see options-doc.test.ts: 100,000 overwrites by 3 clients).
 *
 * Pure: no I/O. Every function that changes a document runs in one Yjs transaction.
 */
import * as Y from 'yjs'
import { fromBase64, toBase64 } from 'lib0/buffer'
import { ParlorError } from './errors.js'
import { BASE64_PATTERN, LIMITS } from './limits.js'
import type { RoomOptions } from './model.js'
import { checkOptionEntry, checkOptions } from './options.js'

/** The name of the root Y.Array that holds the entries. */
export const OPTIONS_ROOT = 'options'

/**
 * A new empty document. The guid is fixed: Yjs only uses it for subdocuments (options documents
 * have none), and the default one costs 31 calls to `crypto.getRandomValues` (about 60 µs, more
 * than everything else validating an update takes).
 */
export function newOptionsDoc(): Y.Doc {
  return new Y.Doc({ guid: OPTIONS_ROOT })
}

/** One entry of the options array, as read (whichever form it is stored in). */
export interface OptionEntry {
  key: string
  val: string
}

/** An entry as stored: a `[key, value]` pair, or a `{ key, val }` object (documents written before pairs). */
export type StoredOptionEntry = readonly [string, string] | OptionEntry

/** The options array of `doc` (created on first use). */
export function optionsArray(doc: Y.Doc): Y.Array<StoredOptionEntry> {
  return doc.getArray<StoredOptionEntry>(OPTIONS_ROOT)
}

/** The entry a stored value holds: a pair of strings, or an object with exactly `key` and `val` strings; else undefined. */
function entryOf(v: unknown): OptionEntry | undefined {
  if (Array.isArray(v)) {
    return v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string' ? { key: v[0], val: v[1] } : undefined
  }
  if (typeof v !== 'object' || v === null) return undefined
  const o = v as Record<string, unknown>
  const isPair = Object.keys(o).length === 2 && Object.hasOwn(o, 'key') && Object.hasOwn(o, 'val')
  return isPair && typeof o.key === 'string' && typeof o.val === 'string' ? { key: o.key, val: o.val } : undefined
}

const RESERVED = new Set(['__proto__', 'constructor', 'prototype'])

/** The options map: for each key, the value of its rightmost live entry. Malformed entries are skipped. */
export function readOptions(doc: Y.Doc): RoomOptions {
  const out: RoomOptions = {}
  for (const v of optionsArray(doc).toArray()) {
    const e = entryOf(v)
    if (e && !RESERVED.has(e.key)) out[e.key] = e.val
  }
  return out
}

/** Live entries with their index, in document order (`entry` undefined: malformed). */
function liveEntries(arr: Y.Array<StoredOptionEntry>): { index: number; entry: OptionEntry | undefined }[] {
  return arr.toArray().map((v, index) => ({ index, entry: entryOf(v) }))
}

/** Deletes the entries at `indexes` (any order). */
function deleteAt(arr: Y.Array<StoredOptionEntry>, indexes: number[]): void {
  for (const i of [...indexes].sort((a, b) => b - a)) arr.delete(i, 1)
}

/**
 * Inserts `entry` right after the last item this client inserted (live or deleted), or at the end
 * when it has none, so a client's entries keep consecutive clocks next to each other and their
 * tombstones merge. `Y.Array` has no public "insert after this item", so the item is built the way
 * Yjs' own list insertion builds it.
 */
function insertEntry(doc: Y.Doc, arr: Y.Array<StoredOptionEntry>, entry: StoredOptionEntry, tr: Y.Transaction): void {
  const own = doc.store.clients.get(doc.clientID)
  const last = own?.[own.length - 1]
  if (!(last instanceof Y.Item) || last.parent !== arr) {
    arr.push([entry])
    return
  }
  const right = last.right
  const item = new Y.Item(
    Y.createID(doc.clientID, Y.getState(doc.store, doc.clientID)),
    last,
    last.lastId,
    right,
    right && right.id,
    arr,
    null,
    new Y.ContentAny([entry]),
  )
  item.integrate(tr, 0)
  // Index caches of the array do not know of this item: drop them (they are rebuilt on demand).
  const markers = (arr as unknown as { _searchMarker: unknown[] | null })._searchMarker
  if (markers) markers.length = 0
}

/** Sets `key` to `val` in a transaction of its own (or the caller's). */
export function setOption(doc: Y.Doc, key: string, val: string): void {
  doc.transact((tr) => {
    const arr = optionsArray(doc)
    deleteAt(arr, liveEntries(arr).filter((e) => e.entry?.key === key).map((e) => e.index))
    insertEntry(doc, arr, [key, val], tr)
  })
}

/** Deletes `key` (every entry of it). */
export function deleteOption(doc: Y.Doc, key: string): void {
  doc.transact(() => {
    const arr = optionsArray(doc)
    deleteAt(arr, liveEntries(arr).filter((e) => e.entry?.key === key).map((e) => e.index))
  })
}

/**
 * Makes the map equal `target` touching only what differs: keys absent from `target` are deleted,
 * keys whose value differs are set, the others are left alone (so a concurrent edit of another key
 * survives the merge).
 */
export function replaceOptions(doc: Y.Doc, target: RoomOptions): void {
  doc.transact(() => {
    const current = readOptions(doc)
    for (const key of Object.keys(current)) if (!Object.hasOwn(target, key)) deleteOption(doc, key)
    for (const [key, val] of Object.entries(target)) if (current[key] !== val) setOption(doc, key, val)
  })
}

/** Applies a merge patch (a string sets, `null` deletes). */
export function patchOptions(doc: Y.Doc, patch: Record<string, string | null>): void {
  doc.transact(() => {
    const current = readOptions(doc)
    for (const [key, val] of Object.entries(patch)) {
      if (val === null) {
        if (Object.hasOwn(current, key)) deleteOption(doc, key)
      } else if (current[key] !== val) setOption(doc, key, val)
    }
  })
}

/**
 * Deletes every live entry that loses (an entry of a key with a live entry further right) and every
 * malformed one. Deletions take no clock, so any replica may do it. Whether anything was deleted.
 */
export function removeDuplicateOptions(doc: Y.Doc): boolean {
  const arr = optionsArray(doc)
  const entries = liveEntries(arr)
  const seen = new Set<string>()
  const losers: number[] = []
  for (let i = entries.length - 1; i >= 0; i--) {
    const { index, entry } = entries[i]!
    if (!entry || seen.has(entry.key)) losers.push(index)
    else seen.add(entry.key)
  }
  if (losers.length === 0) return false
  doc.transact(() => deleteAt(arr, losers))
  return true
}

/** The update made by `fn` on `doc` (one transaction), or undefined when it changed nothing. */
export function captureUpdate(doc: Y.Doc, fn: (doc: Y.Doc) => void): Uint8Array | undefined {
  const parts: Uint8Array[] = []
  const onUpdate = (u: Uint8Array) => void parts.push(u)
  doc.on('update', onUpdate)
  try {
    doc.transact(() => fn(doc))
  } finally {
    doc.off('update', onUpdate)
  }
  if (parts.length === 0) return undefined
  return parts.length === 1 ? parts[0] : Y.mergeUpdates(parts)
}

/**
 * A document holding `updates` (each a Yjs v1 update), optionally writing as `clientID` from then
 * on. The id is set after the updates are applied: Yjs gives a document a new random id when a
 * remote update carries its own (it takes that for another client using it), and the updates here
 * may well hold earlier changes of the same writer.
 */
export function optionsDocFrom(updates: readonly (Uint8Array | undefined)[], clientID?: number): Y.Doc {
  const doc = newOptionsDoc()
  optionsArray(doc)
  for (const u of updates) if (u && u.length > 0) Y.applyUpdate(doc, u)
  if (clientID !== undefined) doc.clientID = clientID
  return doc
}

/** The options map held by a state (or several updates). */
export function optionsOfState(...updates: (Uint8Array | undefined)[]): RoomOptions {
  const doc = optionsDocFrom(updates)
  try {
    return readOptions(doc)
  } finally {
    doc.destroy()
  }
}

/** Merges updates into one compact state (tombstones merged, deleted content dropped). */
export function compactOptionsState(updates: readonly Uint8Array[]): Uint8Array {
  const doc = optionsDocFrom(updates)
  try {
    return Y.encodeStateAsUpdate(doc)
  } finally {
    doc.destroy()
  }
}

/**
 * The state of a room whose options predate options documents: the entries in key order, written
 * by client 0 in one transaction. Deterministic, so every relay (and every read) makes the same
 * bytes and replicas that receive it twice hold it once — which is why its entries keep the
 * `{ key, val }` form they had when relays first made these states.
 */
export function legacyOptionsState(options: RoomOptions): Uint8Array {
  const doc = newOptionsDoc()
  doc.clientID = 0
  const keys = Object.keys(options).sort()
  optionsArray(doc).push(keys.map((key) => ({ key, val: options[key]! })))
  const state = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return state
}

/** The result of an accepted update. */
export interface ValidatedOptionsUpdate {
  /** The options map after the update (and the removal of duplicates). */
  options: RoomOptions
  /**
   * What the update changed, plus the deletion of the entries it made lose: the update to store and
   * publish. Undefined when the document already held everything the update carries.
   */
  effective: Uint8Array | undefined
}

/**
 * Applies `update` to a copy of the document held by `state` and checks the result: only the root
 * `options`, holding only `[key, value]` string pairs or `{ key, val }` string objects (no nested
 * types, no map entries, no other content), every dependency present, and the limits of SPEC §3
 * (64 keys, keys ≤ 64 bytes, values ≤ 1 KiB, the map ≤ 8 KiB as JSON, the encoded document ≤
 * `LIMITS.maxOptionsDocBytes`). Duplicate
 * entries left by concurrent sets are removed (the rightmost stays). `state` itself is never changed.
 *
 * @throws ParlorError `validation` (malformed or hostile bytes, wrong structure) or `limit_exceeded`;
 *   never anything else
 * @example
 * const { options, effective } = validateOptionsUpdate(storedState, fromBase64(mutation.args.update))
 */
export function validateOptionsUpdate(state: Uint8Array | undefined, update: Uint8Array): ValidatedOptionsUpdate {
  const doc = new ValidatedOptionsDoc(state)
  try {
    return doc.apply(update)
  } finally {
    doc.destroy()
  }
}

/**
 * A room's options document kept in memory to check many updates in turn, each against the
 * document as the previous ones left it, without rebuilding a copy per update (the relay holds one
 * per room being written). {@link apply} runs the checks of {@link validateOptionsUpdate} on the
 * document itself: the structure only of the structs the update added (the document was checked
 * as a whole the first time), the limits on the live entries (at most 64) and the encoded size. A
 * refused update leaves the document exactly as it was: it is rebuilt from the state before it.
 *
 * @example
 * const doc = new ValidatedOptionsDoc(storedState)
 * const { effective } = doc.apply(update) // throws validation / limit_exceeded; doc unchanged then
 * store(effective); send(doc.state)
 */
export class ValidatedOptionsDoc {
  private doc: Y.Doc
  /**
   * What rebuilds the document: `base` (a state) then `since` (the updates applied after it, in
   * order). `encoded`: the current state when known. Encoding the whole document for every update
   * would cost more than the rest of its checks, so it is encoded only when asked, when `since`
   * grows long, or when the document might pass its size limit (see `maxSize`).
   */
  private base: Uint8Array | undefined
  private since: Uint8Array[] = []
  private encoded: Uint8Array | undefined
  /** An upper bound of the encoded size (exact right after an encoding). */
  private maxSize: number
  /** Whether every struct of the document has passed the structure check (else the next apply checks all). */
  private isChecked = false
  private readonly parts: Uint8Array[] = []
  private readonly onUpdate = (u: Uint8Array) => void this.parts.push(u)

  /** A document holding `state` (trusted: what storage holds); checked in full by the first apply. */
  constructor(state?: Uint8Array) {
    this.doc = this.build(state, [])
    this.base = state && state.length > 0 ? state : undefined
    this.encoded = this.base
    this.maxSize = this.base ? this.base.length : Y.encodeStateAsUpdate(this.doc).length
  }

  private build(state: Uint8Array | undefined, since: readonly Uint8Array[]): Y.Doc {
    const doc = optionsDocFrom([state, ...since])
    doc.on('update', this.onUpdate)
    return doc
  }

  /** The document as one Yjs update (the state readers are sent); re-encoded only after a change. */
  get state(): Uint8Array {
    if (!this.encoded) {
      this.encoded = Y.encodeStateAsUpdate(this.doc)
      this.base = this.encoded
      this.since = []
      this.maxSize = this.encoded.length
    }
    return this.encoded
  }

  /** The options map. */
  get options(): RoomOptions {
    return readOptions(this.doc)
  }

  /** Whether the document holds nothing at all (no update ever brought it anything). */
  get isEmpty(): boolean {
    return this.doc.store.clients.size === 0
  }

  /** Notes that `update` changed the document (it can be rebuilt, and its size bound grows). */
  private changed(update: Uint8Array): void {
    this.encoded = undefined
    this.since.push(update)
    this.maxSize += maxGrowth(update)
    if (this.since.length > 32) void this.state
  }

  /**
   * Applies a stored update (or state) as it is, unchecked: rows written by a relay, which checked
   * them on their way in. Whether the document changed.
   */
  merge(update: Uint8Array): boolean {
    this.parts.length = 0
    Y.applyUpdate(this.doc, update)
    const isChanged = this.parts.length > 0
    this.parts.length = 0
    if (isChanged) this.changed(update)
    return isChanged
  }

  /**
   * Checks `update` against the document and applies it (with the removal of the entries it made
   * lose). Returns the options after it and the effective update (undefined when the document held
   * everything already). Throws like {@link validateOptionsUpdate}, and then the document is as before.
   */
  apply(update: Uint8Array): ValidatedOptionsUpdate {
    if (!(update instanceof Uint8Array) || update.length === 0) throw new ParlorError('validation', 'the options update is empty')
    if (update.length > LIMITS.maxOptionsUpdateBytes) {
      throw new ParlorError('limit_exceeded', `an options update may take at most ${LIMITS.maxOptionsUpdateBytes} bytes`)
    }
    const store = this.doc.store
    const clocks = new Map<number, number>()
    for (const [client, structs] of store.clients) {
      const last = structs[structs.length - 1]!
      clocks.set(client, last.id.clock + last.length)
    }
    this.parts.length = 0
    try {
      try {
        Y.applyUpdate(this.doc, update)
      } catch (e) {
        throw new ParlorError('validation', 'the options update is not a valid Yjs update', { cause: e })
      }
      if (this.parts.length === 0 && store.pendingStructs === null && store.pendingDs === null) {
        // Nothing new (a client resending what the relay holds): nothing to check or store.
        return { options: readOptions(this.doc), effective: undefined }
      }
      checkStructure(this.doc, this.isChecked ? clocks : undefined)
      removeDuplicateOptions(this.doc)
      for (const { entry } of liveEntries(optionsArray(this.doc))) if (entry) checkOptionEntry(entry.key, entry.val)
      const options = readOptions(this.doc)
      checkOptions(options)
      const effective = this.parts.length === 1 ? this.parts[0]! : Y.mergeUpdates(this.parts)
      let exact: Uint8Array | undefined
      if (this.maxSize + maxGrowth(effective) > LIMITS.maxOptionsDocBytes) {
        // It might pass the limit: measured exactly.
        exact = Y.encodeStateAsUpdate(this.doc)
        if (exact.length > LIMITS.maxOptionsDocBytes) {
          throw new ParlorError('limit_exceeded', `an options document may take at most ${LIMITS.maxOptionsDocBytes} bytes`)
        }
      }
      this.changed(effective)
      if (exact) {
        this.encoded = this.base = exact
        this.since = []
        this.maxSize = exact.length
      }
      this.isChecked = true
      return { options, effective }
    } catch (e) {
      // Whatever the update did to the document is undone by rebuilding it from before.
      this.doc.destroy()
      this.doc = this.build(this.base, this.since)
      if (e instanceof ParlorError) throw e
      throw new ParlorError('validation', 'the options update could not be checked', { cause: e })
    } finally {
      this.parts.length = 0
    }
  }

  destroy(): void {
    this.doc.destroy()
  }
}

/**
 * An upper bound of how much applying `update` can grow a document's encoding: its new structs
 * encode as in the update, and every id or deleted range it holds (2 bytes or more each) can split
 * a struct of the document at each end, a split costing at most 26 bytes (a struct's info byte,
 * two ids, a length); plus a few bytes of per-client headers.
 */
const maxGrowth = (update: Uint8Array): number => 32 * update.length + 64

/**
 * Throws `validation` unless the document holds only string entries in the root `options` and
 * nothing is pending. With `clocks` (each client's next clock before the last update), only the
 * structs added since are checked (from the struct holding that clock: added structs may have
 * merged into an older one).
 */
function checkStructure(doc: Y.Doc, clocks?: ReadonlyMap<number, number>): void {
  if (doc.store.pendingStructs !== null || doc.store.pendingDs !== null) {
    throw new ParlorError('validation', 'the options update depends on changes the relay does not have')
  }
  for (const name of doc.share.keys()) {
    if (name !== OPTIONS_ROOT) throw new ParlorError('validation', `an options document holds only "${OPTIONS_ROOT}", not "${name}"`)
  }
  const arr = optionsArray(doc)
  if (arr._map.size > 0) throw new ParlorError('validation', `"${OPTIONS_ROOT}" is an array of entries, not a map`)
  for (const [client, structs] of doc.store.clients) {
    const from = clocks?.get(client) ?? 0
    const last = structs[structs.length - 1]!
    if (last.id.clock + last.length <= from) continue
    for (let i = from === 0 ? 0 : Y.findIndexSS(structs, from); i < structs.length; i++) {
      const s = structs[i]!
      if (!(s instanceof Y.Item)) continue
      if (s.parent !== arr || s.parentSub !== null) throw new ParlorError('validation', 'options entries must sit directly in the options array')
      if (s.deleted) continue
      const isPlain = s.content instanceof Y.ContentAny && s.content.getContent().every((v) => entryOf(v) !== undefined)
      if (!isPlain) throw new ParlorError('validation', 'options entries must be [key, value] pairs of strings')
    }
  }
}

/** Base64 of a Yjs update, as it travels in JSON frames. */
export const encodeOptionsUpdate = (update: Uint8Array): string => toBase64(update)

/** The bytes of a base64 update; `validation` when it is not base64. */
export function decodeOptionsUpdate(text: string): Uint8Array {
  if (typeof text !== 'string' || !BASE64_PATTERN.test(text)) throw new ParlorError('validation', 'an options update is base64 text')
  try {
    return fromBase64(text)
  } catch (e) {
    throw new ParlorError('validation', 'an options update is base64 text', { cause: e })
  }
}
