import { describe, expect, it } from 'vitest'
import { LIMITS } from '@parlor/protocol'
import { query, rejection, session, sharedRelay, signedIn, signedInMany, syncAll, uid } from './harness.js'

const relay = sharedRelay()

describe('createGroupRoom', () => {
  it('makes the creator and the deduplicated user ids participants, on the relay and on every member', async () => {
    const [alice, bob, carol] = await signedInMany(relay(), ['alice', 'bob', 'carol'])
    const expected = [alice.userId, bob.userId, carol.userId].sort()

    const room = await alice.createGroupRoom('Team', [bob.userId, alice.userId, bob.userId, carol.userId, carol.userId])
    expect(room.id).toMatch(/^g:/)
    expect(room.type).toBe('group')
    expect(room.name).toBe('Team')
    expect(room.participantCount).toBe(3)
    expect(room.syncState).toBe('pending')

    await syncAll(alice, bob, carol)

    const token = await session(relay(), alice.userId)
    const res = await query(relay(), token, { name: 'getRoomById', args: { roomId: room.id } })
    expect(res.status).toBe(200)
    expect(res.body.room.participantCount).toBe(3)
    expect(res.body.participants.map((p: { userId: string }) => p.userId).sort()).toEqual(expected)

    for (const e of [alice, bob, carol]) {
      const [r] = await e.getRoomsInfo({ room_ids: [room.id], show_participants: true })
      expect(r?.name, `${e.userId} sees the room`).toBe('Team')
      expect(r?.participantCount).toBe(3)
      expect(r?.participants?.map((p) => p.userId).sort()).toEqual(expected)
      expect(r?.syncState).toBe('synced')
    }
  })

  it('always makes a new group, even with the same name and members', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const one = await alice.createGroupRoom('Same', [bob.userId])
    const two = await alice.createGroupRoom('Same', [bob.userId])
    expect(one.id).not.toBe(two.id)
    await syncAll(alice, bob)
    const ids = (await bob.loadRoomList({ show_empty: true })).map((r) => r.id).sort()
    expect(ids).toEqual([one.id, two.id].sort())
  })

  it('keeps the room name, avatar and options given at creation for every member', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const room = await alice.createGroupRoom('Styled', [bob.userId], {
      avatarURL: 'https://example.com/a.png',
      options: { background: 'red', lat: '52.5' },
    })
    expect(room.options).toEqual({ background: 'red', lat: '52.5' })
    await syncAll(alice, bob)
    const [seen] = await bob.getRoomsInfo({ room_ids: [room.id] })
    expect(seen).toMatchObject({ name: 'Styled', avatarUrl: 'https://example.com/a.png', options: { background: 'red', lat: '52.5' } })
  })

  it('rejects more than 100 user ids at once, queueing nothing', async () => {
    const alice = await signedIn(relay(), uid('alice'))
    const ids = Array.from({ length: LIMITS.maxUserIdsPerCall + 1 }, (_, i) => `nobody-${i}`)
    const before = await alice.loadRoomList({ show_empty: true, limit: 100 })
    const err = await rejection(alice.createGroupRoom('Too many', ids))
    expect(err.name).toBe('ParlorError')
    expect(['validation', 'limit_exceeded']).toContain(err.code)
    expect(alice.status().pending).toBe(0)
    expect(await alice.loadRoomList({ show_empty: true, limit: 100 })).toEqual(before)
  })
})
