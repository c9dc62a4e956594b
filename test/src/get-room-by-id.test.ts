import { describe, expect, it } from 'vitest'
import { query, rejection, session, sharedRelay, signedIn, signedInMany, syncAll, uid } from './harness.js'

const relay = sharedRelay()

describe('getRoomById', () => {
  it('returns the room with its newest 20 comments, oldest first (25 sent)', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const room = await alice.createGroupRoom('Chatty', [bob.userId])
    for (let i = 1; i <= 25; i++) await alice.sendComment(room.id, `m${i}`)
    await syncAll(alice, bob)
    await bob.sync()

    const want = Array.from({ length: 20 }, (_, i) => `m${i + 6}`)
    for (const e of [alice, bob]) {
      const got = await e.getRoomById(room.id)
      expect(got.id).toBe(room.id)
      expect(got.name).toBe('Chatty')
      expect(got.comments.map((c) => c.text), `${e.userId}'s view`).toEqual(want)
      const ids = got.comments.map((c) => c.id as number)
      expect(ids.every((id) => typeof id === 'number')).toBe(true)
      expect([...ids].sort((a, b) => a - b)).toEqual(ids)
      expect(new Set(ids).size).toBe(20)
      expect(got.comments.every((c) => c.status !== 'pending' && c.roomId === room.id)).toBe(true)
      expect(got.comments[0]?.sender.userId).toBe(alice.userId)
    }
  })

  it('answers from the cache with pending comments before the relay confirms them', async () => {
    const alice = await signedIn(relay(), uid('alice'))
    const room = await alice.createGroupRoom('Offline', [])
    await alice.sync()
    await alice.disconnect()
    await alice.sendComment(room.id, 'queued')
    const got = await alice.getRoomById(room.id)
    expect(got.comments.at(-1)).toMatchObject({ text: 'queued', status: 'pending' })
    alice.connect()
    await alice.sync()
    const after = await alice.getRoomById(room.id)
    expect(after.comments.at(-1)).toMatchObject({ text: 'queued', status: 'sent' })
    expect(typeof after.comments.at(-1)?.id).toBe('number')
  })

  it('is forbidden for a group the user is not in (asked of the relay)', async () => {
    const [alice, bob, mallory] = await signedInMany(relay(), ['alice', 'bob', 'mallory'])
    const room = await alice.createGroupRoom('Private', [bob.userId])
    await alice.sendComment(room.id, 'secret')
    await alice.sync()
    const err = await rejection(mallory.getRoomById(room.id))
    expect(err).toMatchObject({ name: 'ParlorError', code: 'forbidden' })
    // The raw relay agrees, and nothing leaked into mallory's cache.
    const token = await session(relay(), mallory.userId)
    const res = await query(relay(), token, { name: 'getRoomById', args: { roomId: room.id } })
    expect(res.status).toBe(403)
    expect(res.body.error.code).toBe('forbidden')
    expect(await mallory.getRoomsInfo({ room_ids: [room.id], show_removed: true })).toEqual([])
  })

  it('is forbidden for a 1-on-1 room of two other users', async () => {
    const [alice, bob, mallory] = await signedInMany(relay(), ['alice', 'bob', 'mallory'])
    const room = await alice.chatTarget(bob.userId)
    await alice.sync()
    const err = await rejection(mallory.getRoomById(room.id))
    expect(err).toMatchObject({ code: 'forbidden' })
  })

  it('rejects with offline when the cache never held the room and the engine is offline', async () => {
    const [alice, carol] = await signedInMany(relay(), ['alice', 'carol'])
    const room = await alice.getOrCreateRoomByChannel(uid('ch'), 'Somewhere')
    await alice.sync()
    await carol.disconnect()
    const err = await rejection(carol.getRoomById(room.id))
    expect(err).toMatchObject({ code: 'offline' })
  })

  it('lets a signed-in non-participant read a channel without joining it', async () => {
    const [alice, carol] = await signedInMany(relay(), ['alice', 'carol'])
    const uniqueId = uid('public')
    const room = await alice.getOrCreateRoomByChannel(uniqueId, 'Public')
    await alice.sendComment(room.id, 'hello world')
    await alice.sync()

    const read = await carol.getRoomById(room.id)
    expect(read).toMatchObject({ id: room.id, type: 'channel', name: 'Public', participantCount: 1 })
    expect(read.comments.map((c) => c.text)).toContain('hello world')

    // Reading did not join: the relay still counts one participant and carol's list has no channel.
    await carol.sync()
    const token = await session(relay(), alice.userId)
    const res = await query(relay(), token, { name: 'getRoomById', args: { roomId: room.id } })
    expect(res.body.room.participantCount).toBe(1)
    expect((await carol.loadRoomList({ show_empty: true })).map((r) => r.id)).not.toContain(room.id)
  })
})
