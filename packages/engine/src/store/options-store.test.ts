/**
 * The engine's stored options documents: compaction (every merge re-encodes the stored state) runs
 * inside one IndexedDB transaction, so two tabs merging at once lose nothing, and pending updates
 * (outbox rows) are never part of what is compacted.
 */
import { describe, expect, it } from 'vitest'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import * as Y from 'yjs'
import { encodeOptionsUpdate, optionsArray, optionsOfState, setOption, type ChangeFrame } from '@parlor/protocol'
import { openDb } from './db.js'
import { Reader } from './reader.js'
import { Writer } from './writer.js'

const me = { userId: 'alice', username: 'Alice', avatarUrl: '' }
const roomId = 'g:room'

function room(version: number) {
  return {
    id: roomId, uniqueId: roomId, type: 'group' as const, name: 'R', avatarUrl: '', options: {}, participantCount: 1,
    lastComment: null, hasComments: false, createdAt: 1, updatedAt: 1, lastActivityAt: 1, version,
  }
}

/** A relay-side document and the updates it makes, one per set. */
function relayDoc() {
  const doc = new Y.Doc()
  optionsArray(doc)
  const updates: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => void updates.push(u))
  return { doc, updates }
}

const change = (seq: number, update: Uint8Array): ChangeFrame => ({ type: 'change', seq, roomId, optionsUpdate: encodeOptionsUpdate(update) })

async function seeded(idb: IDBFactory, name: string) {
  const db = openDb(name, { indexedDB: idb, IDBKeyRange })
  const writer = new Writer(db, () => me.userId)
  await writer.applyChanges([{ type: 'change', seq: 1, roomId, room: room(1) }])
  return { db, writer, reader: new Reader(db, () => me) }
}

describe('stored options documents', () => {
  it('loses no update when two tabs merge updates into the same document at once', async () => {
    const idb = new IDBFactory()
    const tab1 = await seeded(idb, 'two-tabs')
    const tab2 = { db: openDb('two-tabs', { indexedDB: idb, IDBKeyRange }) }
    const writer2 = new Writer(tab2.db, () => me.userId)
    const { doc, updates } = relayDoc()
    for (let i = 0; i < 40; i++) setOption(doc, `k${i % 8}`, `v${i}`)
    // Each tab merges every other update, all at once.
    await Promise.all(updates.map((u, i) => (i % 2 === 0 ? tab1.writer : writer2).applyChanges([change(2 + i, u)])))
    const stored = await tab1.db.optionDocs.get(roomId)
    expect(optionsOfState(stored!.state)).toEqual(optionsOfState(Y.encodeStateAsUpdate(doc)))
    expect(stored!.options).toEqual(optionsOfState(Y.encodeStateAsUpdate(doc)))
    expect((await tab1.reader.room(roomId))?.options).toEqual(optionsOfState(Y.encodeStateAsUpdate(doc)))
    tab1.db.close()
    tab2.db.close()
  })

  it('keeps pending updates when the database closes in the middle of merging, and shows them after reopening', async () => {
    const idb = new IDBFactory()
    const first = await seeded(idb, 'closing')
    // A pending local change, in the outbox as any mutation.
    const local = new Y.Doc()
    optionsArray(local)
    let pendingUpdate: Uint8Array | undefined
    local.on('update', (u: Uint8Array) => (pendingUpdate = u))
    setOption(local, 'mine', 'pending')
    const mutation = { id: 'm1', name: 'updateOptions' as const, args: { roomId, update: encodeOptionsUpdate(pendingUpdate!) }, createdAt: 1 }
    await first.db.outbox.add({ id: 'm1', roomId, mutation, createdAt: 1, attempts: 0 })
    const { doc, updates } = relayDoc()
    for (let i = 0; i < 30; i++) setOption(doc, `remote${i % 5}`, `v${i}`)
    const merging = Promise.allSettled(updates.map((u, i) => first.writer.applyChanges([change(2 + i, u)])))
    first.db.close()
    await merging

    const again = openDb('closing', { indexedDB: idb, IDBKeyRange })
    const reader = new Reader(again, () => me)
    expect(await again.outbox.count()).toBe(1)
    const visible = await reader.options(roomId)
    expect(visible?.mine).toBe('pending')
    // Whatever was merged before the close is whole: the stored map is the stored state's.
    const stored = await again.optionDocs.get(roomId)
    if (stored) expect(stored.options).toEqual(optionsOfState(stored.state))
    again.close()
  })
})
