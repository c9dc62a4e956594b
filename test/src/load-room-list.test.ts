import { describe, expect, it } from 'vitest'
import { LIMITS, type Room } from '@parlor/protocol'
import { clockTick, type Engine, rejection, sharedRelay, signedIn, signedInMany, syncAll, uid } from './harness.js'

const relay = sharedRelay()

const ids = (rooms: Room[]) => rooms.map((r) => r.id)

/** Makes `n` groups of alice and bob, each with one comment, in order (the last is the newest). */
async function roomsWithComments(alice: Engine, bob: Engine & { userId: string }, n: number): Promise<Room[]> {
  const rooms: Room[] = []
  for (let i = 0; i < n; i++) {
    const room = await alice.createGroupRoom(`R${i}`, [bob.userId])
    await alice.sendComment(room.id, `hello ${i}`)
    await alice.sync()
    await clockTick()
    rooms.push(room)
  }
  return rooms
}

describe('loadRoomList', () => {
  it('pages through every room: page 1..n with any limit gives the whole list once, in order', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const made = await roomsWithComments(alice, bob, 5)
    await bob.sync()
    for (const e of [alice, bob]) {
      const all = await e.loadRoomList({ limit: LIMITS.maxRoomListLimit })
      expect(ids(all)).toEqual(ids(made).reverse())
      for (const limit of [1, 2, 3, 5, 100]) {
        const pages: Room[][] = []
        for (let page = 1; page <= Math.ceil(5 / limit) + 1; page++) pages.push(await e.loadRoomList({ page, limit }))
        expect(pages.at(-1), `page past the end, limit ${limit}`).toEqual([])
        expect(pages.slice(0, -1).map((p) => p.length)).toEqual(
          pages.slice(0, -1).map((_, i) => Math.min(limit, 5 - i * limit)),
        )
        expect(ids(pages.flat()), `limit ${limit}`).toEqual(ids(all))
      }
    }
    // Defaults: page 1, limit 20.
    expect(ids(await alice.loadRoomList())).toEqual(ids(made).reverse())
  })

  it('defaults to 20 rooms per page and accepts limit 100', async () => {
    const alice = await signedIn(relay(), uid('alice'))
    const made: Room[] = []
    for (let i = 0; i < 22; i++) {
      const room = await alice.createGroupRoom(`D${i}`, [])
      await alice.sendComment(room.id, 'x')
      made.push(room)
    }
    await alice.sync()
    expect(await alice.loadRoomList()).toHaveLength(20)
    expect(await alice.loadRoomList({ page: 2 })).toHaveLength(2)
    expect(await alice.loadRoomList({ limit: 100 })).toHaveLength(22)
  })

  it('rejects limit 101, limit 0 and page 0 at once with validation', async () => {
    const alice = await signedIn(relay(), uid('alice'))
    for (const opts of [{ limit: LIMITS.maxRoomListLimit + 1 }, { limit: 0 }, { page: 0 }, { limit: 1.5 }, { page: -1 }]) {
      const err = await rejection(alice.loadRoomList(opts))
      expect(err, JSON.stringify(opts)).toMatchObject({ name: 'ParlorError', code: 'validation' })
    }
    await alice.disconnect()
    expect(await rejection(alice.loadRoomList({ limit: 101 }))).toMatchObject({ code: 'validation' })
  })

  it('leaves out rooms without comments (system events do not count) unless show_empty', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const empty = await alice.createGroupRoom('Empty', [bob.userId])
    const renamed = await alice.createGroupRoom('Quiet', [bob.userId])
    await alice.updateRoom({ id: renamed.id, room_name: 'Still quiet' })
    const talky = await alice.createGroupRoom('Talky', [bob.userId])
    await alice.sendComment(talky.id, 'hi')
    await syncAll(alice, bob)
    await bob.sync()
    for (const e of [alice, bob]) {
      expect(ids(await e.loadRoomList()), e.userId).toEqual([talky.id])
      expect(ids(await e.loadRoomList({ show_empty: true })).sort()).toEqual([empty.id, renamed.id, talky.id].sort())
    }
  })

  it('carries participants only with show_participants', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const group = await alice.createGroupRoom('P', [bob.userId])
    const channel = await alice.getOrCreateRoomByChannel(uid('plist'), 'C')
    await alice.sendComment(group.id, 'a')
    await alice.sendComment(channel.id, 'b')
    await alice.sync()
    const without = await alice.loadRoomList()
    expect(without).toHaveLength(2)
    expect(without.every((r) => r.participants === undefined)).toBe(true)
    const withP = await alice.loadRoomList({ show_participants: true })
    const g = withP.find((r) => r.id === group.id)
    expect(g?.participants?.map((p) => p.userId).sort()).toEqual([alice.userId, bob.userId].sort())
    const c = withP.find((r) => r.id === channel.id)
    expect(c?.participants ?? [], 'room lists never carry a channel participant list').toEqual([])
    expect(c?.participantCount).toBe(1)
  })

  it('orders by latest activity: a new comment moves an older room first, for every member', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const [r0, r1, r2] = await roomsWithComments(alice, bob, 3)
    await bob.sync()
    expect(ids(await bob.loadRoomList())).toEqual([r2!.id, r1!.id, r0!.id])

    await bob.sendComment(r0!.id, 'bump')
    expect(ids(await bob.loadRoomList()), 'optimistic order').toEqual([r0!.id, r2!.id, r1!.id])
    await bob.sync()
    await alice.sync()
    await clockTick()
    for (const e of [alice, bob]) expect(ids(await e.loadRoomList()), e.userId).toEqual([r0!.id, r2!.id, r1!.id])

    await alice.sendComment(r1!.id, 'bump again')
    await alice.sync()
    await expect.poll(async () => ids(await bob.loadRoomList())).toEqual([r1!.id, r0!.id, r2!.id])
  })

  it('accepts the camelCase aliases', async () => {
    const alice = await signedIn(relay(), uid('alice'))
    const room = await alice.createGroupRoom('Alias', [])
    await alice.sync()
    const rooms = await alice.loadRoomList({ showEmpty: true, showParticipants: true } as never)
    expect(ids(rooms)).toEqual([room.id])
    expect(rooms[0]?.participants?.map((p) => p.userId)).toEqual([alice.userId])
  })
})
