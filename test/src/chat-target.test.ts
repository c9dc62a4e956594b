import { describe, expect, it } from 'vitest'
import { singleRoomId, type Room } from '@parlor/protocol'
import { isAboutRoom, nextEvent, rejection, sharedRelay, signedIn, syncAll, uid } from './harness.js'

const relay = sharedRelay()

const listAll = (e: { loadRoomList(o: object): Promise<Room[]> }) => e.loadRoomList({ show_empty: true, limit: 100 })

describe('chatTarget', () => {
  it('creates the 1-on-1 room once and both sides get the same room after sync', async () => {
    const [alice, bob] = await Promise.all([signedIn(relay(), uid('alice')), signedIn(relay(), uid('bob'))])
    const expectedId = singleRoomId(alice.userId, bob.userId)

    const room = await alice.chatTarget(bob.userId)
    expect(room.id).toBe(expectedId)
    expect(room.type).toBe('single')
    expect(room.syncState).toBe('pending')

    await syncAll(alice, bob)
    const [aliceList, bobList] = await Promise.all([listAll(alice), listAll(bob)])
    expect(aliceList.map((r) => r.id)).toEqual([expectedId])
    expect(bobList.map((r) => r.id)).toEqual([expectedId])
    const [a] = await alice.getRoomsInfo({ room_ids: [expectedId] })
    const [b] = await bob.getRoomsInfo({ room_ids: [expectedId] })
    expect(a?.syncState).toBe('synced')
    expect(b?.syncState).toBe('synced')
    for (const r of [a, b]) {
      expect(r?.participants?.map((p) => p.userId).sort()).toEqual([alice.userId, bob.userId].sort())
      expect(r?.participantCount).toBe(2)
    }
  })

  it('returns the same room when called again, by either side, and never makes a second one', async () => {
    const [alice, bob] = await Promise.all([signedIn(relay(), uid('alice')), signedIn(relay(), uid('bob'))])
    const first = await alice.chatTarget(bob.userId)
    await syncAll(alice, bob)
    const again = await alice.chatTarget(bob.userId)
    const fromBob = await bob.chatTarget(alice.userId)
    expect(again.id).toBe(first.id)
    expect(fromBob.id).toBe(first.id)
    await syncAll(alice, bob)
    await syncAll(alice, bob)
    for (const e of [alice, bob]) {
      const singles = (await listAll(e)).filter((r) => r.type === 'single')
      expect(singles.map((r) => r.id)).toEqual([first.id])
      expect(singles[0]?.participantCount).toBe(2)
    }
  })

  it('ends with one room when both users create it concurrently while offline', async () => {
    const [alice, bob] = await Promise.all([signedIn(relay(), uid('alice')), signedIn(relay(), uid('bob'))])
    await alice.disconnect()
    await bob.disconnect()
    const [a, b] = await Promise.all([alice.chatTarget(bob.userId), bob.chatTarget(alice.userId)])
    expect(a.id).toBe(b.id)
    alice.connect()
    bob.connect()
    await syncAll(alice, bob)
    await syncAll(alice, bob)
    for (const e of [alice, bob]) {
      const singles = (await listAll(e)).filter((r) => r.type === 'single')
      expect(singles.map((r) => r.id)).toEqual([a.id])
      expect(singles[0]?.participantCount).toBe(2)
      expect(singles[0]?.syncState).toBe('synced')
    }
  })

  it('rejects chatting with yourself at once with validation, online or offline, queueing nothing', async () => {
    const alice = await signedIn(relay(), uid('alice'))
    const online = await rejection(alice.chatTarget(alice.userId))
    expect(online).toMatchObject({ name: 'ParlorError', code: 'validation' })
    await alice.disconnect()
    const offline = await rejection(alice.chatTarget(alice.userId))
    expect(offline).toMatchObject({ name: 'ParlorError', code: 'validation' })
    expect(alice.status().pending).toBe(0)
    expect(await listAll(alice)).toEqual([])
  })

  it('fails with unknown_user for a user the relay does not know and rolls the room back', async () => {
    const alice = await signedIn(relay(), uid('alice'))
    const ghost = uid('ghost')
    const roomId = singleRoomId(alice.userId, ghost)
    const failed = nextEvent(alice, 'mutation:failed', (p: any) => p?.mutation?.name === 'chatTarget')

    const optimistic = await alice.chatTarget(ghost)
    expect(optimistic.id).toBe(roomId)
    expect(optimistic.syncState).toBe('pending')

    const event = await failed
    expect(event.error).toMatchObject({ name: 'ParlorError', code: 'unknown_user' })
    expect(event.mutation.args).toMatchObject({ userId: ghost })
    await alice.sync()
    expect((await listAll(alice)).map((r) => r.id)).not.toContain(roomId)
    expect(await alice.getRoomsInfo({ room_ids: [roomId], show_removed: true })).toEqual([])
    expect(alice.status().pending).toBe(0)
    // The relay never made it either: reading it asks the relay, which does not let us in.
    const err = await rejection(alice.getRoomById(roomId))
    expect(['not_found', 'forbidden']).toContain(err.code)
  })

  it('emits a room event for the other side when the room is created', async () => {
    const [alice, bob] = await Promise.all([signedIn(relay(), uid('alice')), signedIn(relay(), uid('bob'))])
    const roomId = singleRoomId(alice.userId, bob.userId)
    const seen = nextEvent(bob, 'room', (p) => isAboutRoom(p, roomId))
    await alice.chatTarget(bob.userId)
    await seen
    expect((await listAll(bob)).map((r) => r.id)).toEqual([roomId])
  })
})
