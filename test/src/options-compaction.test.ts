/**
 * Compaction never loses an unacknowledged update (issue 4): the engine's stored document is
 * merged and re-encoded with every update the relay sends, while its own updates wait in the
 * outbox until acknowledged. Closing the engine in the middle of a stream of merges and reopening
 * the same device keeps every pending update, visible at once and replayed once.
 */
import { describe, expect, it } from 'vitest'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import { createEngine } from '@parlor/engine'
import { defer, interceptingSocket, keyOf, makeEngine, query, session, sharedRelay, signedIn, uid } from './harness.js'

const relay = sharedRelay()

describe('options compaction', () => {
  it('keeps unacknowledged updates when the engine closes mid-compaction, and they reach everyone after reopening', async () => {
    const bob = await signedIn(relay(), uid('bob'))
    const aliceId = uid('alice')
    const idb = new IDBFactory()
    let bobChanges = 0
    let stop: Promise<void> | undefined
    // Alice's socket loses every acknowledgement and the echo of her own updates, so they stay
    // unacknowledged (in her outbox, never in her stored document) while Bob's updates stream in
    // and are merged; at the 30th, she closes.
    const Lossy = interceptingSocket((data) => {
      if (data.startsWith('{"type":"ack"')) return false
      if (!data.startsWith('{"type":"change"')) return true
      const frame = JSON.parse(data) as { optionsUpdate?: string }
      if (frame.optionsUpdate === undefined) return true
      if (Buffer.from(frame.optionsUpdate, 'base64').includes(Buffer.from('alice-'))) return false
      if (++bobChanges === 30) stop = alice.close()
      return true
    })
    const alice = createEngine({ relayUrl: relay().url, dbName: `compact-${aliceId}`, indexedDB: idb, IDBKeyRange, WebSocket: Lossy as never })
    defer(() => alice.close())
    await alice.setUser(aliceId, keyOf(aliceId))
    const room = await alice.createGroupRoom('Churn', [bob.userId])
    // Created and acknowledged? The ack is lost: wait until Bob sees the room instead.
    await expect.poll(async () => (await bob.getRoomsInfo({ room_ids: [room.id] })).length, { timeout: 10_000 }).toBe(1)
    const aliceKeys = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`alice-${i}`, `a${i}`]))
    for (const [k, v] of Object.entries(aliceKeys)) await alice.options(room.id).set(k, v)
    for (let i = 0; i < 100; i++) await bob.options(room.id).set(`bob-${i % 10}`, `b${i}`)
    await bob.sync()
    await expect.poll(() => stop !== undefined, { timeout: 10_000 }).toBe(true)
    await stop

    // Same device, a socket that loses nothing.
    const again = makeEngine(relay(), aliceId, { indexedDB: idb, dbName: `compact-${aliceId}` })
    await again.setUser(aliceId, keyOf(aliceId))
    const offlineView = (await again.getRoomById(room.id)).options
    expect(offlineView).toMatchObject(aliceKeys)
    await again.sync()
    await again.sync()
    const bobKeys = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`bob-${i}`, `b${90 + i}`]))
    const want = { ...aliceKeys, ...bobKeys }
    await expect.poll(async () => (await again.getRoomById(room.id)).options).toEqual(want)
    await expect.poll(async () => (await bob.getRoomById(room.id)).options).toEqual(want)
    const token = await session(relay(), bob.userId)
    expect((await query(relay(), token, { name: 'getRoomById', args: { roomId: room.id } })).body.room.options).toEqual(want)
    expect(again.status().pending).toBe(0)
  })
})
