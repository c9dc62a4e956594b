import { describe, expect, it } from 'vitest'
import { LIMITS } from '@parlor/protocol'
import {
  clockTick,
  isAboutRoom,
  mutate,
  mutation,
  nextEvent,
  query,
  rejection,
  session,
  sharedRelay,
  signedIn,
  signedInMany,
  syncAll,
  uid,
} from './harness.js'

const relay = sharedRelay()

/** Registers users over HTTP (cheaper than engines), answering their ids and tokens. */
async function users<const P extends readonly string[]>(
  prefixes: P,
): Promise<{ -readonly [K in keyof P]: { userId: string; token: string } }> {
  return Promise.all(
    prefixes.map(async (p) => {
      const userId = uid(p)
      return { userId, token: await session(relay(), userId) }
    }),
  ) as Promise<any>
}

/** The relay's participant records of a room, sorted by join time, then user id (our own sort). */
async function relayOrder(token: string, roomUniqueId: string): Promise<string[]> {
  const res = await query(relay(), token, { name: 'getParticipants', args: { roomUniqueId, page: 1, limit: 100 } })
  expect(res.status, res.text).toBe(200)
  const parts = res.body.participants as Array<{ userId: string; joinedAt: number }>
  return [...parts]
    .sort((a, b) => a.joinedAt - b.joinedAt || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0))
    .map((p) => p.userId)
}

describe('getParticipants', () => {
  it('pages a group in a stable order: join time, then user id', async () => {
    const alice = await signedIn(relay(), uid('alice'))
    // Ids handed over in reverse order, so that only the id tie-break can sort them.
    const [c, b, a] = await users(['pc', 'pb', 'pa'])
    const [e, d] = await users(['pe', 'pd'])
    const [f] = await users(['pf'])
    const room = await alice.createGroupRoom('Many', [c!.userId, b!.userId, a!.userId])
    await alice.sync()
    await clockTick()
    await alice.addParticipantsToGroup(room.id, [e!.userId, d!.userId])
    await alice.sync()
    await clockTick()
    await alice.addParticipantsToGroup(room.id, [f!.userId])
    await alice.sync()

    // The relay's order (join time, then id) keeps the three batches apart, in the order they joined.
    const expected = await relayOrder(a!.token, room.uniqueId)
    expect(new Set(expected.slice(0, 4))).toEqual(new Set([alice.userId, a!.userId, b!.userId, c!.userId]))
    expect(new Set(expected.slice(4, 6))).toEqual(new Set([d!.userId, e!.userId]))
    expect(expected.slice(6)).toEqual([f!.userId])

    const all = await alice.getParticipants(room.uniqueId)
    expect(all.map((p) => p.userId)).toEqual(expected)
    for (const limit of [1, 2, 3]) {
      const seen: string[] = []
      for (let page = 1; ; page++) {
        const got = await alice.getParticipants(room.uniqueId, page, limit)
        expect(got.length).toBeLessThanOrEqual(limit)
        if (got.length === 0) break
        seen.push(...got.map((p) => p.userId))
      }
      expect(seen, `limit ${limit}`).toEqual(expected)
    }
    expect(all[0]).toMatchObject({ userId: expected[0], username: expect.any(String), avatarUrl: expect.any(String) })
  })

  it("pages a channel's participants from the relay in join order, for a member and a non-member", async () => {
    const [alice, outsider] = await signedInMany(relay(), ['alice', 'outsider'])
    const uniqueId = uid('crowd')
    const room = await alice.getOrCreateRoomByChannel(uniqueId, 'Crowd')
    await alice.sync()
    const joiners = await users(['j1', 'j2', 'j3', 'j4'])
    for (const j of joiners) {
      await clockTick()
      const [r] = await mutate(relay(), j.token, mutation('getOrCreateChannel', { roomId: room.id, uniqueId }))
      expect(r.ok).toBe(true)
    }
    const expected = [alice.userId, ...joiners.map((j) => j.userId)]
    expect(await relayOrder(joiners[0]!.token, uniqueId)).toEqual(expected)
    await alice.sync()
    const pages = [await alice.getParticipants(uniqueId, 1, 2), await alice.getParticipants(uniqueId, 2, 2), await alice.getParticipants(uniqueId, 3, 2)]
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1])
    expect(pages.flat().map((p) => p.userId)).toEqual(expected)
    expect(await alice.getParticipants(uniqueId, 4, 2)).toEqual([])
    const fromOutside = await outsider.getParticipants(uniqueId)
    expect(fromOutside.map((p) => p.userId)).toEqual(expected)
  })

  it('rejects page and limit out of bounds at once with validation', async () => {
    const alice = await signedIn(relay(), uid('alice'))
    const room = await alice.createGroupRoom('Bounds', [])
    for (const [page, limit] of [[0, 10], [1, 0], [1, LIMITS.maxParticipantsLimit + 1], [-1, 10]] as const) {
      const err = await rejection(alice.getParticipants(room.uniqueId, page, limit))
      expect(err, `page ${page} limit ${limit}`).toMatchObject({ code: 'validation' })
    }
  })

  it('is forbidden for a group the user is not in', async () => {
    const [alice, mallory] = await signedInMany(relay(), ['alice', 'mallory'])
    const room = await alice.createGroupRoom('Closed', [])
    await alice.sync()
    expect(await rejection(mallory.getParticipants(room.uniqueId))).toMatchObject({ code: 'forbidden' })
  })
})

describe('addParticipantsToGroup / removeParticipantsFromGroup', () => {
  it("shows the room in the added user's list live, without that user calling anything", async () => {
    const [alice, bob, carol] = await signedInMany(relay(), ['alice', 'bob', 'carol'])
    const room = await alice.createGroupRoom('Growing', [bob.userId])
    await alice.sendComment(room.id, 'before carol')
    await alice.sync()
    await carol.sync()
    expect(await carol.loadRoomList()).toEqual([])

    const roomEvent = nextEvent(carol, 'room', (p) => isAboutRoom(p, room.id))
    const added = await alice.addParticipantsToGroup(room.id, [carol.userId])
    expect(added.map((p) => p.userId)).toEqual([carol.userId])

    await roomEvent
    await expect.poll(async () => (await carol.loadRoomList()).map((r) => r.id)).toEqual([room.id])
    const [seen] = await carol.loadRoomList({ show_participants: true })
    expect(seen?.participants?.map((p) => p.userId).sort()).toEqual([alice.userId, bob.userId, carol.userId].sort())
    // The new member gets the room's recent history with it.
    const history = await carol.getRoomById(room.id)
    expect(history.comments.filter((c) => c.type === 'text').map((c) => c.text)).toEqual(['before carol'])
    // The other member sees the new participant live too.
    await expect.poll(async () => (await bob.getParticipants(room.uniqueId)).length).toBe(3)
  })

  it('returns the participants added and rejects more than 100 user ids at once', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const room = await alice.createGroupRoom('Cap', [])
    const tooMany = Array.from({ length: LIMITS.maxUserIdsPerCall + 1 }, (_, i) => `nobody-${i}`)
    const err = await rejection(alice.addParticipantsToGroup(room.id, tooMany))
    expect(['validation', 'limit_exceeded']).toContain(err.code)
    const added = await alice.addParticipantsToGroup(room.id, [bob.userId])
    expect(added).toEqual([expect.objectContaining({ userId: bob.userId, username: expect.any(String) })])
    await syncAll(alice, bob)
    const [r] = await bob.getRoomsInfo({ room_ids: [room.id] })
    expect(r?.participantCount).toBe(2)
  })

  it("removes the room from the removed user's list live; they lose access at once", async () => {
    const [alice, bob, carol] = await signedInMany(relay(), ['alice', 'bob', 'carol'])
    const room = await alice.createGroupRoom('Shrinking', [bob.userId, carol.userId])
    await alice.sendComment(room.id, 'hello all')
    await syncAll(alice, bob, carol)
    await carol.sync()
    expect((await carol.loadRoomList()).map((r) => r.id)).toEqual([room.id])

    const removedEvent = nextEvent(carol, 'room:removed', (p) => isAboutRoom(p, room.id))
    const removed = await alice.removeParticipantsFromGroup(room.id, [carol.userId])
    expect(removed).toEqual([carol.userId])

    await removedEvent
    await expect.poll(async () => (await carol.loadRoomList({ show_empty: true })).map((r) => r.id)).toEqual([])
    expect(await rejection(carol.getRoomById(room.id))).toMatchObject({ code: 'forbidden' })
    expect(await rejection(carol.getParticipants(room.uniqueId))).toMatchObject({ code: 'forbidden' })
    await expect.poll(async () => (await bob.getParticipants(room.uniqueId)).map((p) => p.userId).sort()).toEqual(
      [alice.userId, bob.userId].sort(),
    )

    // Live sync ends too: what is said after the removal never reaches carol.
    await alice.sendComment(room.id, 'after carol left')
    await alice.sync()
    await bob.sync()
    await carol.sync()
    const [old] = await carol.getRoomsInfo({ room_ids: [room.id], show_removed: true })
    expect(old?.isRemoved).toBe(true)
    expect(old?.lastComment?.text).not.toBe('after carol left')
    const token = await session(relay(), carol.userId)
    const res = await query(relay(), token, { name: 'loadComments', args: { roomId: room.id, limit: 10 } })
    expect(res.status).toBe(403)
    expect(res.body.error.code).toBe('forbidden')
    const [bobView] = await bob.getRoomsInfo({ room_ids: [room.id] })
    expect(bobView?.lastComment?.text).toBe('after carol left')
  })

  it('gives a removed user the room back live when they are added again', async () => {
    const [alice, carol] = await signedInMany(relay(), ['alice', 'carol'])
    const room = await alice.createGroupRoom('Again', [carol.userId])
    await alice.sendComment(room.id, 'one')
    await syncAll(alice, carol)
    await alice.removeParticipantsFromGroup(room.id, [carol.userId])
    await alice.sync()
    await expect.poll(async () => (await carol.loadRoomList()).length).toBe(0)
    await alice.sendComment(room.id, 'two')
    await alice.addParticipantsToGroup(room.id, [carol.userId])
    await alice.sync()
    await expect.poll(async () => (await carol.loadRoomList()).map((r) => r.id)).toEqual([room.id])
    const got = await carol.getRoomById(room.id)
    expect(got.isRemoved).toBe(false)
    expect(got.comments.filter((c) => c.type === 'text').map((c) => c.text)).toEqual(['one', 'two'])
  })
})
