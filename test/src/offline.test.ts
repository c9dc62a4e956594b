/**
 * Offline-first behaviour (issue 3): mutations queued while offline replay in order and exactly
 * once, the offline convergence cases, removal while offline, restarts with a persisted outbox.
 */
import { describe, expect, it } from 'vitest'
import { IDBKeyRange } from 'fake-indexeddb'
import { createEngine, type Room } from '@parlor/engine'
import { deviceOf, interceptingSocket, makeEngine, nextEvent, sharedRelay, signedIn, signedInMany, startRelay, syncAll, uid, keyOf, defer } from './harness.js'

const relay = sharedRelay()

const texts = (comments: { text: string; type: string }[]) => comments.filter((c) => c.type !== 'system_event').map((c) => c.text)

describe('offline replay', () => {
  it('replays an offline createGroupRoom, updateRoom, addParticipants and sendComment in that order', async () => {
    const [alice, bob, carol] = await signedInMany(relay(), ['alice', 'bob', 'carol'])
    await alice.disconnect()
    const room = await alice.createGroupRoom('Draft', [bob.userId])
    await alice.updateRoom({ id: room.id, room_name: 'Final', options: { background: 'red' } })
    await alice.addParticipantsToGroup(room.id, [carol.userId])
    await alice.sendComment(room.id, 'hello all')

    const local = await alice.getRoomById(room.id)
    expect(local).toMatchObject({ name: 'Final', options: { background: 'red' }, syncState: 'pending', participantCount: 3 })
    expect(local.comments.map((c) => [c.text, c.status])).toEqual([['hello all', 'pending']])
    // updateRoom with a name and options queues two mutations: the rename and the options update.
    expect(alice.status()).toMatchObject({ online: false, pending: 5 })

    alice.connect()
    await alice.sync()
    await syncAll(bob, carol)
    for (const e of [alice, bob, carol]) {
      await expect.poll(async () => (await e.getRoomById(room.id)).name).toBe('Final')
      const seen = await e.getRoomById(room.id)
      expect(seen).toMatchObject({ options: { background: 'red' }, participantCount: 3, syncState: 'synced' })
      expect(texts(seen.comments)).toEqual(['hello all'])
      const kinds = seen.comments.filter((c) => c.type === 'system_event').map((c) => (c.payload as { type: string }).type)
      expect(kinds).toEqual(['create', 'change_name', 'add_member'])
    }
    expect(alice.status()).toMatchObject({ online: true, pending: 0 })
  })

  it('ends with one 1-on-1 room with both sides\' options and comments when both create it offline', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    await Promise.all([alice.disconnect(), bob.disconnect()])
    const a = await alice.chatTarget(bob.userId, { fromAlice: '1' })
    const b = await bob.chatTarget(alice.userId, { fromBob: '2' })
    expect(a.id).toBe(b.id)
    await alice.sendComment(a.id, 'hi bob')
    await bob.sendComment(b.id, 'hi alice')
    alice.connect()
    bob.connect()
    await syncAll(alice, bob)
    await syncAll(alice, bob)
    for (const e of [alice, bob]) {
      const rooms = await e.loadRoomList({ show_empty: true })
      expect(rooms.filter((r) => r.type === 'single').map((r) => r.id)).toEqual([a.id])
      await expect.poll(async () => texts((await e.getRoomById(a.id)).comments).sort()).toEqual(['hi alice', 'hi bob'])
      expect((await e.getRoomById(a.id)).options).toEqual({ fromAlice: '1', fromBob: '2' })
    }
    const [fromA, fromB] = [await alice.getRoomById(a.id), await bob.getRoomById(a.id)]
    expect(fromA.comments.map((c) => c.id)).toEqual(fromB.comments.map((c) => c.id))
  })

  it('gives two users who commented offline in the same room every comment once, in the relay\'s order', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const room = await alice.createGroupRoom('Pair', [bob.userId])
    await syncAll(alice, bob)
    await expect.poll(async () => (await bob.getRoomsInfo({ room_ids: [room.id] })).length).toBe(1)
    await Promise.all([alice.disconnect(), bob.disconnect()])
    for (let i = 0; i < 5; i++) {
      await alice.sendComment(room.id, `a${i}`)
      await bob.sendComment(room.id, `b${i}`)
    }
    alice.connect()
    bob.connect()
    await syncAll(alice, bob)
    await syncAll(alice, bob)
    const expectedSet = ['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1', 'b2', 'b3', 'b4']
    await expect.poll(async () => texts(await alice.loadComments(room.id, { limit: 50 })).sort()).toEqual(expectedSet)
    await expect.poll(async () => texts(await bob.loadComments(room.id, { limit: 50 })).sort()).toEqual(expectedSet)
    const aView = await alice.loadComments(room.id, { limit: 50 })
    const bView = await bob.loadComments(room.id, { limit: 50 })
    expect(aView.map((c) => [c.id, c.text])).toEqual(bView.map((c) => [c.id, c.text]))
    expect(texts(aView).filter((t) => t.startsWith('a'))).toEqual(['a0', 'a1', 'a2', 'a3', 'a4'])
    expect(texts(aView).filter((t) => t.startsWith('b'))).toEqual(['b0', 'b1', 'b2', 'b3', 'b4'])
    expect(aView.every((c) => c.status !== 'pending')).toBe(true)
  })

  it('drops a room removed while offline from the list on reconnect and fails its queued mutations with forbidden', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const room = await alice.createGroupRoom('Club', [bob.userId])
    await syncAll(alice, bob)
    await expect.poll(async () => (await bob.loadRoomList({ show_empty: true })).map((r) => r.id)).toContain(room.id)
    await bob.disconnect()
    await bob.sendComment(room.id, 'am I still here?')
    await alice.removeParticipantsFromGroup(room.id, [bob.userId])
    await alice.sync()
    const failed = nextEvent(bob, 'mutation:failed')
    const removed = nextEvent(bob, 'room:removed', (e: { roomId: string }) => e.roomId === room.id)
    bob.connect()
    expect((await failed).error.code).toBe('forbidden')
    await removed
    await bob.sync()
    expect((await bob.loadRoomList({ show_empty: true })).map((r) => r.id)).not.toContain(room.id)
    expect((await bob.getRoomsInfo({ room_ids: [room.id], show_removed: true }))[0]).toMatchObject({ id: room.id, isRemoved: true })
    const comments = await alice.loadComments(room.id, { limit: 50 })
    expect(texts(comments)).toEqual([])
  })
})

describe('catch-up', () => {
  /** A ws class that records every frame its engine receives. */
  const recordingSocket = (frames: any[]) => interceptingSocket((data) => (frames.push(JSON.parse(data)), true))

  it('receives only what changed since its cursor after a disconnect', async () => {
    const bob = await signedIn(relay(), uid('bob'))
    const userId = uid('alice')
    const frames: any[] = []
    const { IDBFactory } = await import('fake-indexeddb')
    const alice = createEngine({ relayUrl: relay().url, dbName: `rec-${userId}`, indexedDB: new IDBFactory(), IDBKeyRange, WebSocket: recordingSocket(frames) as never })
    defer(() => alice.close())
    await alice.setUser(userId, keyOf(userId))
    const rooms: Room[] = []
    for (let i = 0; i < 5; i++) rooms.push(await alice.createGroupRoom(`Room ${i}`, [bob.userId]))
    await alice.sync()
    expect(alice.status().catchUp).toBe('full')
    await alice.disconnect()
    await bob.sync()
    await expect.poll(async () => (await bob.getRoomsInfo({ room_ids: [rooms[2]!.id] })).length).toBe(1)
    await bob.sendComment(rooms[2]!.id, 'while you were away')
    await bob.sync()
    frames.length = 0
    alice.connect()
    await alice.sync()
    const catchUp = frames.find((f) => f.type === 'sync')
    expect(catchUp.isFull).toBe(false)
    expect(catchUp.rooms.map((r: { id: string }) => r.id)).toEqual([rooms[2]!.id])
    expect(catchUp.comments.map((c: { text: string }) => c.text)).toEqual(['while you were away'])
    expect(alice.status().catchUp).toBe('incremental')
    expect((await alice.getRoomById(rooms[2]!.id)).unreadCount).toBe(1)
  })

  it('rebuilds from scratch, and says so, when the relay cannot serve its cursor', async () => {
    const first = await startRelay()
    const userId = uid('alice')
    const alice = makeEngine(first, userId)
    await alice.setUser(userId, keyOf(userId))
    const bob = await signedIn(first, uid('bob'))
    await alice.createGroupRoom('Lost with the old relay', [bob.userId])
    await alice.sync()
    // The relay's data is gone: a new relay on the same address with an empty data dir.
    const port = first.port
    await first.stop()
    const fresh = await startRelay({ port })
    const bob2 = await signedIn(fresh, uid('bob'))
    await bob2.createGroupRoom('Newer', [])
    await bob2.sync()
    await alice.sync()
    expect(alice.status().catchUp).toBe('full')
    expect(await alice.loadRoomList({ show_empty: true })).toEqual([])
  })
})

describe('durability', () => {
  it('keeps the outbox across an engine restart and replays it once', async () => {
    const userId = uid('alice')
    const bob = await signedIn(relay(), uid('bob'))
    const first = await signedIn(relay(), userId)
    const room = await first.createGroupRoom('Durable', [bob.userId])
    await first.sync()
    await first.disconnect()
    for (const t of ['one', 'two', 'three']) await first.sendComment(room.id, t)
    const device = deviceOf(first)
    await first.close()

    const second = makeEngine(relay(), userId, { indexedDB: device })
    await second.setUser(userId, keyOf(userId))
    expect(second.status().pending).toBe(3)
    await second.sync()
    await bob.sync()
    await expect.poll(async () => texts(await bob.loadComments(room.id))).toEqual(['one', 'two', 'three'])
  })

  it('never duplicates a mutation whose acknowledgement was lost', async () => {
    const bob = await signedIn(relay(), uid('bob'))
    const userId = uid('alice')
    let dropped = 0
    // A socket that loses the first ack it receives and then the connection, as a flaky network would.
    const LossySocket = interceptingSocket((data, socket) => {
      if (dropped > 0 || !data.startsWith('{"type":"ack"')) return true
      dropped++
      socket.terminate()
      return false
    })
    const { IDBFactory } = await import('fake-indexeddb')
    const engine = createEngine({ relayUrl: relay().url, dbName: `lossy-${userId}`, indexedDB: new IDBFactory(), IDBKeyRange, WebSocket: LossySocket as never })
    defer(() => engine.close())
    await engine.setUser(userId, keyOf(userId))
    await engine.sync()
    const room = await engine.createGroupRoom('Lossy', [bob.userId])
    await engine.sendComment(room.id, 'once')
    await engine.sync()
    expect(dropped).toBe(1)
    await bob.sync()
    await expect.poll(async () => texts(await bob.loadComments(room.id))).toEqual(['once'])
    const rooms = await bob.loadRoomList({ show_empty: true })
    expect(rooms.filter((r) => r.name === 'Lossy')).toHaveLength(1)
  })

  it('answers reads from the cache and restores the session with the relay unreachable', async () => {
    const userId = uid('alice')
    const bob = await signedIn(relay(), uid('bob'))
    const online = await signedIn(relay(), userId)
    const room = await online.createGroupRoom('Cached', [bob.userId])
    await online.sendComment(room.id, 'kept')
    await online.sync()
    const device = deviceOf(online)
    await online.close()

    // Same device, but the only relay URL refuses connections.
    const offline = makeEngine('http://127.0.0.1:9', userId, { indexedDB: device })
    const user = await offline.setUser(userId, keyOf(userId))
    expect(user.userId).toBe(userId)
    const started = Date.now()
    const [listed] = await offline.loadRoomList()
    expect(listed).toMatchObject({ id: room.id, name: 'Cached' })
    expect(texts((await offline.getRoomById(room.id)).comments)).toEqual(['kept'])
    expect(await offline.getTotalUnreadCount()).toBe(0)
    expect(Date.now() - started).toBeLessThan(1000)
    expect(offline.status().online).toBe(false)
    await expect(offline.getRoomById('g:never-cached-room')).rejects.toMatchObject({ code: 'offline' })
  })

  it('signs in again on a device without the relay only with the right key, and resumes without the key', async () => {
    const userId = uid('alice')
    const online = await signedIn(relay(), userId)
    await online.createGroupRoom('Mine', [])
    await online.sync()
    const device = deviceOf(online)
    await online.close()

    const wrong = makeEngine('http://127.0.0.1:9', userId, { indexedDB: device })
    await expect(wrong.setUser(userId, 'not-the-key')).rejects.toMatchObject({ code: 'offline' })
    await wrong.close()

    const resumed = makeEngine('http://127.0.0.1:9', userId, { indexedDB: device })
    expect(await resumed.resume()).toMatchObject({ userId })
    expect((await resumed.loadRoomList({ show_empty: true })).map((r) => r.name)).toEqual(['Mine'])
    await resumed.close()

    const fresh = makeEngine(relay(), uid('nobody'))
    expect(await fresh.resume()).toBeUndefined()
  })

  it('tells status listeners at once when a mutation is queued', async () => {
    const alice = await signedIn(relay(), uid('alice'))
    const room = await alice.createGroupRoom('Status', [])
    await alice.sync()
    await alice.disconnect()
    const seen: number[] = []
    alice.on('status', (s) => seen.push(s.pending))
    await alice.sendComment(room.id, 'one')
    await alice.sendComment(room.id, 'two')
    expect(seen.slice(0, 2)).toEqual([1, 2])
    expect(alice.status()).toMatchObject({ online: false, pending: 2 })
  })
})
