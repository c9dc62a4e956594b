import { describe, expect, it } from 'vitest'
import type { Comment } from '@parlor/protocol'
import { type Engine, sharedRelay, signedIn, signedInMany, syncAll } from './harness.js'

const relay = sharedRelay()

async function texts(e: Engine, roomId: string): Promise<Comment[]> {
  return (await e.loadComments(roomId, { limit: 100 })).filter((c) => c.type !== 'system_event')
}

describe('getTotalUnreadCount', () => {
  it("counts others' comments after the read pointer, not own comments nor system events, and drops to 0 after markAsRead", async () => {
    const [alice, bob, carol] = await signedInMany(relay(), ['alice', 'bob', 'carol'])
    // System events only (create, add member, rename): nothing unread.
    const group = await bob.createGroupRoom('Unread', [alice.userId])
    await bob.addParticipantsToGroup(group.id, [carol.userId])
    await bob.updateRoom({ id: group.id, room_name: 'Unread 2' })
    const single = await bob.chatTarget(alice.userId)
    await bob.sync()
    await alice.sync()
    expect(await alice.getTotalUnreadCount()).toBe(0)

    for (const t of ['b1', 'b2', 'b3']) await bob.sendComment(group.id, t)
    await carol.sync()
    await carol.sendComment(group.id, 'c1')
    await bob.sendComment(single.id, 's1')
    await bob.sendComment(single.id, 's2')
    await alice.sendComment(group.id, 'mine')
    await syncAll(bob, carol, alice)
    await alice.sync()

    expect(await alice.getTotalUnreadCount()).toBe(6)
    const [g] = await alice.getRoomsInfo({ room_ids: [group.id] })
    const [s] = await alice.getRoomsInfo({ room_ids: [single.id] })
    expect(g?.unreadCount).toBe(4)
    expect(s?.unreadCount).toBe(2)
    expect(await bob.getTotalUnreadCount()).toBe(2) // carol's c1 and alice's "mine"

    // Reading up to b2 leaves the others' comments after b2, in the relay's order, unread in the
    // group ("mine" never counts); the relay may have ordered c1 before or after b2.
    const groupComments = await texts(alice, group.id)
    const b2 = groupComments.find((c) => c.text === 'b2')!
    const stillUnread = groupComments.filter((c) => c.sender.userId !== alice.userId && c.id! > b2.id!).length
    expect(stillUnread).toBeGreaterThanOrEqual(1)
    await alice.markAsRead(group.id, b2.id!)
    expect(await alice.getTotalUnreadCount()).toBe(stillUnread + 2)
    await alice.sync()
    expect(await alice.getTotalUnreadCount()).toBe(stillUnread + 2)

    await alice.markAsRead(group.id, groupComments.at(-1)!.id!)
    const singleComments = await texts(alice, single.id)
    await alice.markAsRead(single.id, singleComments.at(-1)!.id!)
    expect(await alice.getTotalUnreadCount()).toBe(0)
    await alice.sync()
    expect(await alice.getTotalUnreadCount()).toBe(0)

    // The read pointer lives on the relay: other participants see it.
    await expect
      .poll(async () => {
        await bob.sync()
        return (await bob.getParticipants(group.uniqueId)).find((p) => p.userId === alice.userId)?.lastReadCommentId
      })
      .toBe(groupComments.at(-1)!.id)

    // A new comment by someone else counts again, live.
    await carol.sendComment(group.id, 'c2')
    await carol.sync()
    await expect.poll(() => alice.getTotalUnreadCount()).toBe(1)
  })

  it('keeps the read pointer across devices of the same user', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const room = await bob.chatTarget(alice.userId)
    for (const t of ['x', 'y']) await bob.sendComment(room.id, t)
    await bob.sync()
    await alice.sync()
    expect(await alice.getTotalUnreadCount()).toBe(2)
    const last = (await texts(alice, room.id)).at(-1)!
    await alice.markAsRead(room.id, last.id!)
    await alice.sync()

    const phone = await signedIn(relay(), alice.userId)
    await phone.sync()
    expect(await phone.getTotalUnreadCount()).toBe(0)
  })

  it('shows the relay’s unread counts on a new device whose user has read part of a room', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const room = await bob.chatTarget(alice.userId)
    for (const t of ['read 1', 'read 2']) await bob.sendComment(room.id, t)
    await syncAll(bob, alice)
    await alice.markAsRead(room.id, (await texts(alice, room.id)).at(-1)!.id!)
    await alice.sync()
    for (const t of ['new 1', 'new 2', 'new 3']) await bob.sendComment(room.id, t)
    await bob.sync()

    const laptop = await signedIn(relay(), alice.userId)
    await laptop.sync()
    expect(await laptop.getTotalUnreadCount()).toBe(3)
    expect((await laptop.getRoomById(room.id)).unreadCount).toBe(3)
  })
})
