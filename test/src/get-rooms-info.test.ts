import { beforeAll, describe, expect, it } from 'vitest'
import type { Room } from '@parlor/protocol'
import { type Engine, sharedRelay, signedInMany, syncAll, uid } from './harness.js'

const relay = sharedRelay()

const byId = (rooms: Room[]) => [...rooms].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))

describe('getRoomsInfo', () => {
  let alice: Engine & { userId: string }
  let bob: Engine & { userId: string }
  let outsider: Engine & { userId: string }
  let g1: Room
  let g2: Room
  let channel: Room
  let single: Room
  let channelUid: string

  beforeAll(async () => {
    ;[alice, bob, outsider] = await signedInMany(relay(), ['alice', 'bob', 'outsider'])
    channelUid = uid('info')
    g1 = await alice.createGroupRoom('G1', [bob.userId])
    g2 = await alice.createGroupRoom('G2', [bob.userId])
    channel = await alice.getOrCreateRoomByChannel(channelUid, 'Info')
    single = await alice.chatTarget(bob.userId)
    await alice.sync()
    await bob.getOrCreateRoomByChannel(channelUid)
    await syncAll(alice, bob)
    await alice.sync()
  })

  it('finds rooms by ids', async () => {
    const rooms = await alice.getRoomsInfo({ room_ids: [g1.id, g2.id, single.id] })
    expect(byId(rooms).map((r) => r.id)).toEqual([g1.id, g2.id, single.id].sort())
    const one = await alice.getRoomsInfo({ room_ids: [g2.id] })
    expect(one.map((r) => r.name)).toEqual(['G2'])
  })

  it('finds rooms by unique ids, and by ids and unique ids together', async () => {
    const byUnique = await alice.getRoomsInfo({ room_unique_ids: [channelUid] })
    expect(byUnique.map((r) => r.id)).toEqual([channel.id])
    expect(byUnique[0]?.uniqueId).toBe(channelUid)
    const groupByUnique = await alice.getRoomsInfo({ room_unique_ids: [g1.uniqueId] })
    expect(groupByUnique.map((r) => r.id)).toEqual([g1.id])
    const both = await alice.getRoomsInfo({ room_ids: [g1.id], room_unique_ids: [channelUid] })
    expect(both.map((r) => r.id).sort()).toEqual([g1.id, channel.id].sort())
  })

  it('accepts the camelCase aliases', async () => {
    const rooms = await alice.getRoomsInfo({ roomIds: [g1.id], roomUniqueIds: [channelUid], showParticipants: false } as never)
    expect(rooms.map((r) => r.id).sort()).toEqual([g1.id, channel.id].sort())
    expect(rooms.every((r) => r.participants === undefined)).toBe(true)
  })

  it('includes participants by default, except for channels', async () => {
    const rooms = await bob.getRoomsInfo({ room_ids: [g1.id, single.id, channel.id] })
    expect(rooms).toHaveLength(3)
    for (const r of rooms) {
      if (r.type === 'channel') {
        expect(r.participants ?? [], 'a channel carries no participant list').toEqual([])
        expect(r.participantCount).toBe(2)
      } else {
        expect(r.participants?.map((p) => p.userId).sort(), r.id).toEqual([alice.userId, bob.userId].sort())
        expect(r.participants?.[0]).toMatchObject({ username: expect.any(String), lastReadCommentId: expect.any(Number) })
      }
    }
  })

  it('leaves participants out with show_participants false', async () => {
    const rooms = await bob.getRoomsInfo({ room_ids: [g1.id, single.id, channel.id], show_participants: false })
    expect(rooms).toHaveLength(3)
    for (const r of rooms) expect(r.participants, r.id).toBeUndefined()
    expect(rooms.find((r) => r.id === g1.id)?.participantCount).toBe(2)
  })

  it('names only rooms the user is in; removed rooms only with show_removed', async () => {
    expect(await outsider.getRoomsInfo({ room_ids: [g1.id, g2.id, single.id], room_unique_ids: [channelUid] })).toEqual([])

    const carolRoom = await alice.createGroupRoom('Leaving', [bob.userId, outsider.userId])
    await syncAll(alice, outsider)
    await outsider.sync()
    expect((await outsider.getRoomsInfo({ room_ids: [carolRoom.id] })).map((r) => r.id)).toEqual([carolRoom.id])
    await alice.removeParticipantsFromGroup(carolRoom.id, [outsider.userId])
    await alice.sync()
    await expect.poll(async () => (await outsider.getRoomsInfo({ room_ids: [carolRoom.id] })).length).toBe(0)

    const removed = await outsider.getRoomsInfo({ room_ids: [carolRoom.id], show_removed: true })
    expect(removed.map((r) => r.id)).toEqual([carolRoom.id])
    expect(removed[0]?.isRemoved).toBe(true)

    await bob.sync()
    const active = await bob.getRoomsInfo({ room_ids: [carolRoom.id], show_removed: true })
    expect(active[0]?.isRemoved).toBe(false)
  })
})
