import { describe, expect, it } from 'vitest'
import { channelRoomId } from '@parlor/protocol'
import { query, rejection, session, sharedRelay, signedIn, signedInMany, syncAll, uid } from './harness.js'

const relay = sharedRelay()

describe('getOrCreateRoomByChannel', () => {
  it('creates the channel with the creator as its first participant', async () => {
    const alice = await signedIn(relay(), uid('alice'))
    const uniqueId = uid('news')
    const room = await alice.getOrCreateRoomByChannel(uniqueId, 'News', 'https://example.com/n.png', { topic: 'daily' })
    expect(room).toMatchObject({
      id: channelRoomId(uniqueId),
      uniqueId,
      type: 'channel',
      name: 'News',
      avatarUrl: 'https://example.com/n.png',
      participantCount: 1,
    })
    await alice.sync()
    const token = await session(relay(), alice.userId)
    const res = await query(relay(), token, { name: 'getRoomById', args: { roomId: room.id } })
    expect(res.status).toBe(200)
    expect(res.body.room).toMatchObject({ uniqueId, type: 'channel', name: 'News', participantCount: 1, options: { topic: 'daily' } })
    expect(res.body.isParticipant).toBe(true)
    const [cached] = await alice.getRoomsInfo({ room_unique_ids: [uniqueId] })
    expect(cached?.syncState).toBe('synced')
  })

  it("joins a second caller, and both see two participants after sync", async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const uniqueId = uid('lobby')
    const created = await alice.getOrCreateRoomByChannel(uniqueId, 'Lobby')
    await alice.sync()
    const joined = await bob.getOrCreateRoomByChannel(uniqueId)
    expect(joined.id).toBe(created.id)
    await syncAll(bob, alice)
    await alice.sync()
    for (const e of [alice, bob]) {
      const [r] = await e.getRoomsInfo({ room_unique_ids: [uniqueId] })
      expect(r?.participantCount, `${e.userId}'s count`).toBe(2)
      expect(r?.name).toBe('Lobby')
    }
    const page = await bob.getParticipants(uniqueId)
    expect(page.map((p) => p.userId).sort()).toEqual([alice.userId, bob.userId].sort())
    // Joining twice changes nothing.
    await bob.getOrCreateRoomByChannel(uniqueId)
    await bob.sync()
    const [again] = await bob.getRoomsInfo({ room_unique_ids: [uniqueId] })
    expect(again?.participantCount).toBe(2)
  })

  it('renames the channel for everyone when a later call passes a name', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const uniqueId = uid('ops')
    await alice.getOrCreateRoomByChannel(uniqueId, 'Ops')
    await alice.sync()
    await bob.getOrCreateRoomByChannel(uniqueId)
    await bob.sync()

    // A call without a name leaves the name alone.
    await bob.getOrCreateRoomByChannel(uniqueId)
    await bob.sync()
    const renamed = await alice.getOrCreateRoomByChannel(uniqueId, 'Operations', 'https://example.com/ops.png')
    expect(renamed.name).toBe('Operations')
    await alice.sync()
    await bob.sync()
    for (const e of [alice, bob]) {
      const [r] = await e.getRoomsInfo({ room_unique_ids: [uniqueId] })
      expect(r, `${e.userId} sees the rename`).toMatchObject({ name: 'Operations', avatarUrl: 'https://example.com/ops.png' })
    }
  })

  it('rejects channel ids outside 1–128 characters of A–Z a–z 0–9 . _ : - at once', async () => {
    const alice = await signedIn(relay(), uid('alice'))
    for (const bad of ['', 'has space', 'slash/y', 'émoji', 'x'.repeat(129), 'semi;colon']) {
      const err = await rejection(alice.getOrCreateRoomByChannel(bad, 'Bad'))
      expect(err, JSON.stringify(bad)).toMatchObject({ name: 'ParlorError', code: 'validation' })
    }
    await alice.disconnect()
    const offline = await rejection(alice.getOrCreateRoomByChannel('no spaces allowed'))
    expect(offline).toMatchObject({ code: 'validation' })
    expect(alice.status().pending).toBe(0)
    expect(await alice.loadRoomList({ show_empty: true })).toEqual([])
  })

  it('accepts the full channel id charset and 128 characters', async () => {
    const alice = await signedIn(relay(), uid('alice'))
    const odd = `${uid('A.z_0:9-')}`
    const long = `L${uid('x')}`.padEnd(128, 'y')
    const a = await alice.getOrCreateRoomByChannel(odd)
    const b = await alice.getOrCreateRoomByChannel(long)
    await alice.sync()
    const rooms = await alice.getRoomsInfo({ room_unique_ids: [odd, long] })
    expect(rooms.map((r) => r.id).sort()).toEqual([a.id, b.id].sort())
    expect(rooms.every((r) => r.syncState === 'synced')).toBe(true)
  })
})
