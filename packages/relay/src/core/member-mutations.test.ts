import { beforeAll, describe, expect, it } from 'vitest'
import { LIMITS, channelRoomId, singleRoomId } from '@parlor/protocol'
import { startRelay, uid, type TestRelay } from '../testing/relay-fixture.js'

let relay: TestRelay
beforeAll(async () => {
  relay = await startRelay()
})

const err = (r: { ok: boolean; error?: { code: string } }) => (r.ok ? 'ok' : r.error!.code)

async function group(ownerToken: string, userIds: string[] = []): Promise<string> {
  const roomId = `g:${uid()}`
  await relay.ok(ownerToken, 'createGroupRoom', { roomId, name: 'g', userIds })
  return roomId
}

describe('addParticipants', () => {
  it('adds new users, reports only those added, and records an add_member event', async () => {
    const [a, b, c, d] = await relay.users(4)
    const roomId = await group(a!.token, [b!.id])
    const v = await relay.ok(b!.token, 'addParticipants', { roomId, userIds: [c!.id, a!.id, d!.id, c!.id] })
    expect(v.participants!.map((p) => p.userId)).toEqual([c!.id, d!.id])
    expect(v.room!.participantCount).toBe(4)
    expect(v.room!.lastComment).toMatchObject({ payload: { type: 'add_member', subjectIds: [c!.id, d!.id] }, sender: { userId: b!.id } })
    const none = await relay.ok(a!.token, 'addParticipants', { roomId, userIds: [c!.id] })
    expect(none.participants).toEqual([])
  })

  it('re-adds a removed participant', async () => {
    const [a, b] = await relay.users(2)
    const roomId = await group(a!.token, [b!.id])
    await relay.ok(a!.token, 'removeParticipants', { roomId, userIds: [b!.id] })
    const v = await relay.ok(a!.token, 'addParticipants', { roomId, userIds: [b!.id] })
    expect(v.participants).toMatchObject([{ userId: b!.id, isRemoved: false }])
    expect((await relay.query(b!.token, 'getRoomById', { roomId })).status).toBe(200)
  })

  it('refuses 1-on-1 rooms, non-participants, unknown users, missing rooms and a full group', async () => {
    const [a, b, c] = await relay.users(3)
    const single = singleRoomId(a!.id, b!.id)
    await relay.ok(a!.token, 'chatTarget', { roomId: single, userId: b!.id })
    expect(err(await relay.mutate(a!.token, 'addParticipants', { roomId: single, userIds: [c!.id] }))).toBe('unsupported_room_type')
    const roomId = await group(a!.token)
    expect(err(await relay.mutate(c!.token, 'addParticipants', { roomId, userIds: [c!.id] }))).toBe('forbidden')
    expect(err(await relay.mutate(a!.token, 'addParticipants', { roomId, userIds: [uid('ghost')] }))).toBe('unknown_user')
    expect(err(await relay.mutate(a!.token, 'addParticipants', { roomId: 'g:nope', userIds: [c!.id] }))).toBe('not_found')
    expect((await relay.query(a!.token, 'getRoomById', { roomId })).body.room.participantCount).toBe(1)
  })

  it('adds to a channel (no cap applies)', async () => {
    const [a, b] = await relay.users(2)
    const uniqueId = uid('ch')
    await relay.ok(a!.token, 'getOrCreateChannel', { roomId: channelRoomId(uniqueId), uniqueId })
    const v = await relay.ok(a!.token, 'addParticipants', { roomId: channelRoomId(uniqueId), userIds: [b!.id] })
    expect(v.room!.participantCount).toBe(2)
  })
})

describe('removeParticipants', () => {
  it('soft-deletes participants, reports those removed, and shuts them out of the room', async () => {
    const [a, b, c] = await relay.users(3)
    const roomId = await group(a!.token, [b!.id, c!.id])
    const v = await relay.ok(a!.token, 'removeParticipants', { roomId, userIds: [b!.id, b!.id] })
    expect(v.removedUserIds).toEqual([b!.id])
    expect(v.room!.participantCount).toBe(2)
    expect(v.room!.lastComment).toMatchObject({ payload: { type: 'remove_member', subjectIds: [b!.id] } })
    expect((await relay.ok(a!.token, 'removeParticipants', { roomId, userIds: [b!.id] })).removedUserIds).toEqual([])
    // b can no longer read or write the room.
    expect((await relay.query(b!.token, 'getRoomById', { roomId })).body.error.code).toBe('forbidden')
    expect((await relay.query(b!.token, 'loadComments', { roomId, limit: 5 })).body.error.code).toBe('forbidden')
    const send = await relay.mutate(b!.token, 'sendComment', { roomId, uniqueId: uid(), text: 'hi', type: 'text' })
    expect(err(send)).toBe('forbidden')
    // b's catch-up marks the room removed.
    const sync = (await relay.http('GET', '/v1/sync', undefined, b!.token)).body
    expect(sync.rooms).toMatchObject([{ id: roomId, isRemoved: true, unreadCount: 0 }])
    expect(sync.participants).toMatchObject([{ userId: b!.id, isRemoved: true }])
    expect(sync.comments).toEqual([])
  })

  it('records a left event when a participant removes themselves', async () => {
    const [a, b] = await relay.users(2)
    const roomId = await group(a!.token, [b!.id])
    const v = await relay.ok(b!.token, 'removeParticipants', { roomId, userIds: [b!.id] })
    expect(v.room!.lastComment).toMatchObject({ payload: { type: 'left' }, text: `${b!.id} left the room` })
  })

  it('refuses 1-on-1 rooms, non-participants and unknown users', async () => {
    const [a, b, c] = await relay.users(3)
    const single = singleRoomId(a!.id, b!.id)
    await relay.ok(a!.token, 'chatTarget', { roomId: single, userId: b!.id })
    expect(err(await relay.mutate(a!.token, 'removeParticipants', { roomId: single, userIds: [b!.id] }))).toBe('unsupported_room_type')
    const roomId = await group(a!.token, [b!.id])
    expect(err(await relay.mutate(c!.token, 'removeParticipants', { roomId, userIds: [b!.id] }))).toBe('forbidden')
    expect(err(await relay.mutate(a!.token, 'removeParticipants', { roomId, userIds: [uid('ghost')] }))).toBe('unknown_user')
    expect((await relay.query(b!.token, 'getRoomById', { roomId })).status).toBe(200)
  })
})
