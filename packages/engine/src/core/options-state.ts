/**
 * The engine's side of room options documents, as functions over bytes (no database): merging the
 * relay's updates into the stored state, the visible map (stored state + pending updates, the
 * rebase), and making a local change as an update.
 */
import * as Y from 'yjs'
import {
  captureUpdate,
  checkOptionEntry,
  checkOptions,
  optionsArray,
  optionsDocFrom,
  readOptions,
  type RoomOptions,
} from '@parlor/protocol'

/** Whether two options maps hold the same pairs. */
export function sameOptions(a: RoomOptions, b: RoomOptions): boolean {
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  for (const k of ka) if (!Object.hasOwn(b, k) || a[k] !== b[k]) return false
  return true
}

/**
 * `state` with `update` merged in, re-encoded (so tombstones merge and deleted content goes: the
 * stored state is compacted with every update), and the map it holds. Throws on bytes Yjs refuses.
 */
export function mergeOptionsState(state: Uint8Array | undefined, update: Uint8Array): { state: Uint8Array; options: RoomOptions } {
  const doc = optionsDocFrom([state, update])
  try {
    return { state: Y.encodeStateAsUpdate(doc), options: readOptions(doc) }
  } finally {
    doc.destroy()
  }
}

/** A small memo of visible maps, keyed by the bytes they were made from (reads repeat a lot). */
const memo = new Map<string, RoomOptions>()
const MEMO_SIZE = 256

function memoKey(base: Uint8Array | undefined, pending: readonly Uint8Array[]): string {
  let h = 2166136261
  const mix = (u: Uint8Array) => {
    h = Math.imul(h ^ u.length, 16777619)
    for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i]!, 16777619)
  }
  if (base) mix(base)
  for (const p of pending) mix(p)
  return `${h >>> 0}:${base?.length ?? -1}:${pending.map((p) => p.length).join(',')}`
}

/**
 * The options a user sees: the relay's document with the pending updates on top, in the order they
 * were made. A pending update the document cannot hold (it depends on a refused one) shows nothing.
 */
export function visibleOptions(base: Uint8Array | undefined, pending: readonly Uint8Array[]): RoomOptions {
  const key = memoKey(base, pending)
  const known = memo.get(key)
  if (known) return { ...known }
  let options: RoomOptions
  const doc = new Y.Doc()
  try {
    optionsArray(doc)
    for (const u of [base, ...pending]) {
      if (!u || u.length === 0) continue
      try {
        Y.applyUpdate(doc, u)
      } catch {
        // Unreadable bytes never reach the outbox or the store; skipping keeps reads working anyway.
      }
    }
    options = readOptions(doc)
  } finally {
    doc.destroy()
  }
  memo.set(key, options)
  if (memo.size > MEMO_SIZE) memo.delete(memo.keys().next().value!)
  return { ...options }
}

/**
 * Makes a local change: applies `change` to the visible document (the relay's state and the pending
 * updates) as `clientId`, and answers the update it made and the map after it — or undefined when
 * it changed nothing. Checks SPEC §3 limits first: throws `validation`/`limit_exceeded` at once.
 */
export function makeOptionsUpdate(
  base: Uint8Array | undefined,
  pending: readonly Uint8Array[],
  clientId: number,
  change: (doc: Y.Doc) => void,
): { update: Uint8Array; options: RoomOptions } | undefined {
  const doc = optionsDocFrom([])
  try {
    for (const u of [base, ...pending]) {
      if (!u || u.length === 0) continue
      try {
        Y.applyUpdate(doc, u)
      } catch {
        // As in visibleOptions.
      }
    }
    // Only now (see optionsDocFrom): the pending updates hold this engine's earlier changes.
    doc.clientID = clientId
    const update = captureUpdate(doc, change)
    if (!update) return undefined
    const options = readOptions(doc)
    for (const [k, v] of Object.entries(options)) checkOptionEntry(k, v)
    checkOptions(options)
    return { update, options }
  } finally {
    doc.destroy()
  }
}
