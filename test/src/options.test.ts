/**
 * Room options as Yjs documents (issue 4): per-key merges of offline edits, one value for
 * concurrent sets of one key, the `options(roomId)` handle offline and live, refusals and resyncs.
 */
import { describe, expect, it } from 'vitest'
import { Dexie } from 'dexie'
import { IDBKeyRange } from 'fake-indexeddb'
import { LIMITS } from '@parlor/protocol'
import { deviceOf, keyOf, makeEngine, nextEvent, query, session, sharedRelay, signedInMany, syncAll, type SignedEngine } from './harness.js'

const relay = sharedRelay()

async function relayOptions(e: SignedEngine, roomId: string): Promise<Record<string, string>> {
  const token = await session(relay(), e.userId)
  const res = await query(relay(), token, { name: 'getRoomById', args: { roomId } })
  return res.body.room.options
}

async function everyoneHas(engines: SignedEngine[], roomId: string, want: Record<string, string>): Promise<void> {
  for (const e of engines) await expect.poll(async () => (await e.getRoomById(roomId)).options, { timeout: 5_000 }).toEqual(want)
}

/** Three members of a fresh group with options `initial`, all caught up. */
async function trio(initial: Record<string, string> = {}) {
  const [a, b, c] = await signedInMany(relay(), ['alice', 'bob', 'carol'])
  const room = await a.createGroupRoom('Options', [b.userId, c.userId], { options: initial })
  await syncAll(a, b, c)
  for (const e of [b, c]) await expect.poll(async () => (await e.getRoomsInfo({ room_ids: [room.id] })).length).toBe(1)
  return { a, b, c, room, all: [a, b, c] as SignedEngine[] }
}

describe('options offline', () => {
  it('merges edits of different keys made offline by three engines: every engine ends with every key', async () => {
    const { a, b, c, room, all } = await trio({ shared: '0' })
    await Promise.all(all.map((e) => e.disconnect()))
    await a.options(room.id).set('fromAlice', '1')
    await b.options(room.id).set('fromBob', '2')
    await c.options(room.id).set('fromCarol', '3')
    await b.options(room.id).delete('shared')
    // Offline, each sees its own edits at once.
    expect((await a.getRoomById(room.id)).options).toEqual({ shared: '0', fromAlice: '1' })
    expect((await b.getRoomById(room.id)).options).toEqual({ fromBob: '2' })
    for (const e of all) e.connect()
    await syncAll(...all)
    await syncAll(...all)
    const want = { fromAlice: '1', fromBob: '2', fromCarol: '3' }
    await everyoneHas(all, room.id, want)
    expect(await relayOptions(a, room.id)).toEqual(want)
    for (const e of all) expect((await e.getRoomById(room.id)).syncState).toBe('synced')
  })

  it('gives one value everywhere when three engines set the same key offline', async () => {
    const { a, b, c, room, all } = await trio({ color: 'white' })
    await Promise.all(all.map((e) => e.disconnect()))
    await a.options(room.id).set('color', 'red')
    await b.options(room.id).set('color', 'green')
    await c.options(room.id).set('color', 'blue')
    await Promise.all(all.map((e) => e.connect()))
    await syncAll(...all)
    await syncAll(...all)
    const relayValue = await relayOptions(a, room.id)
    expect(['red', 'green', 'blue']).toContain(relayValue.color)
    await everyoneHas(all, room.id, relayValue)
  })

  it('keeps options set offline across an engine restart and replays them once', async () => {
    const { a, b, room } = await trio()
    await a.disconnect()
    await a.options(room.id).set('draft', 'kept')
    const device = deviceOf(a)
    await a.close()
    const again = Object.assign(makeEngine(relay(), a.userId, { indexedDB: device }), { userId: a.userId })
    await again.setUser(a.userId, keyOf(a.userId))
    expect((await again.getRoomById(room.id)).options).toEqual({ draft: 'kept' })
    await again.sync()
    await b.sync()
    await everyoneHas([again, b], room.id, { draft: 'kept' })
    expect(again.status().pending).toBe(0)
  })

  it('sends large option updates queued offline in frames the relay accepts', async () => {
    const { a, b, room } = await trio()
    await a.disconnect()
    const big = (i: number) => Object.fromEntries(Array.from({ length: 7 }, (_, k) => [`k${k}`, `${i}`.repeat(1000)]))
    // 60 updates of ~7–14 KiB each: more than one frame's worth.
    for (let i = 0; i < 60; i++) await a.updateRoom({ id: room.id, options: big(i % 10) })
    a.connect()
    await a.sync()
    await b.sync()
    await everyoneHas([a, b], room.id, big(59 % 10))
    expect(a.status().pending).toBe(0)
  })

  it('refuses the edits of a participant removed while offline and drops its local copy of the options', async () => {
    const { a, b, room } = await trio({ a: '1' })
    await b.disconnect()
    await b.options(room.id).set('intruder', 'yes')
    expect((await b.getRoomById(room.id)).options).toEqual({ a: '1', intruder: 'yes' })
    await a.removeParticipantsFromGroup(room.id, [b.userId])
    await a.sync()
    const failed = nextEvent(b, 'mutation:failed', (e: any) => e.mutation.name === 'updateOptions')
    b.connect()
    expect((await failed).error.code).toBe('forbidden')
    await b.sync()
    expect(await relayOptions(a, room.id)).toEqual({ a: '1' })
    const [seen] = await b.getRoomsInfo({ room_ids: [room.id], show_removed: true })
    expect(seen).toMatchObject({ isRemoved: true, options: {} })
    // The stored document is gone from the device too.
    const db = new Dexie(`parlor-${b.userId}`, { indexedDB: deviceOf(b), IDBKeyRange })
    await db.open()
    expect(await db.table('optionDocs').get(room.id)).toBeUndefined()
    db.close()
  })

  it('resyncs a room whose update the relay refused: the engine ends with the relay\'s options', async () => {
    const { a, b, room, all } = await trio()
    await a.disconnect()
    // Alice adds 40 keys offline while Bob adds 40 others: together past the 64-key limit.
    await a.updateRoom({ id: room.id, options: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`a${i}`, 'x'])) })
    await b.updateRoom({ id: room.id, options: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`b${i}`, 'y'])) })
    await b.sync()
    const failed = nextEvent(a, 'mutation:failed', (e: any) => e.mutation.name === 'updateOptions')
    a.connect()
    expect((await failed).error.code).toBe('limit_exceeded')
    await syncAll(...all)
    const want = await relayOptions(b, room.id)
    expect(Object.keys(want)).toHaveLength(40)
    await everyoneHas(all, room.id, want)
    expect(Object.keys(want).length).toBeLessThanOrEqual(LIMITS.maxOptionKeys)
  })
})

describe('options handle and events', () => {
  it('gets, sets, deletes and observes offline, and observes remote changes live', async () => {
    const { a, b, room } = await trio({ one: '1' })
    const handle = await b.options(room.id).ready
    expect(handle.get('one')).toBe('1')
    expect(handle.toJSON()).toEqual({ one: '1' })
    const seen: Record<string, string>[] = []
    const off = handle.observe((o) => seen.push(o))
    // Remote: alice's change reaches bob's handle and its observers.
    await a.options(room.id).set('two', '2')
    await expect.poll(() => handle.get('two')).toBe('2')
    expect(seen.at(-1)).toEqual({ one: '1', two: '2' })
    // Local and offline.
    await b.disconnect()
    await handle.set('three', '3')
    await handle.delete('one')
    expect(handle.toJSON()).toEqual({ two: '2', three: '3' })
    expect(seen.at(-1)).toEqual({ two: '2', three: '3' })
    expect((await b.getRoomById(room.id)).options).toEqual({ two: '2', three: '3' })
    off()
    b.connect()
    await syncAll(a, b)
    await everyoneHas([a, b], room.id, { two: '2', three: '3' })
  })

  it('fires the options event and live queries on remote changes, and Room objects carry the options', async () => {
    const { a, b, room } = await trio()
    const rooms: { options: Record<string, string> }[] = []
    const sub = b.live({ type: 'room', roomId: room.id }).subscribe({ next: (r: any) => r && rooms.push(r) })
    const event = nextEvent(b, 'options', (e: any) => e.roomId === room.id && e.options.theme === 'dark')
    await a.updateRoom({ id: room.id, options: { theme: 'dark' } })
    await event
    await expect.poll(() => rooms.at(-1)?.options).toEqual({ theme: 'dark' })
    sub.unsubscribe()
    const [listed] = await b.getRoomsInfo({ room_ids: [room.id] })
    expect(listed?.options).toEqual({ theme: 'dark' })
    const list = await b.loadRoomList({ show_empty: true })
    expect(list.find((r) => r.id === room.id)?.options).toEqual({ theme: 'dark' })
  })

  it('works on 1-on-1 rooms, and refuses values past the limits at once, queueing nothing', async () => {
    const [a, b] = await signedInMany(relay(), ['alice', 'bob'])
    const room = await a.chatTarget(b.userId, { hello: 'there' })
    await syncAll(a, b)
    await a.options(room.id).set('lat', '52.52')
    await syncAll(a, b)
    await everyoneHas([a, b], room.id, { hello: 'there', lat: '52.52' })
    await expect(a.options(room.id).set('big', 'v'.repeat(LIMITS.maxOptionValueBytes + 1))).rejects.toMatchObject({ code: 'validation' })
    await expect(a.options(room.id).set('k'.repeat(LIMITS.maxOptionKeyBytes + 1), 'v')).rejects.toMatchObject({ code: 'validation' })
    expect(a.status().pending).toBe(0)
  })
})
