import { beforeAll, describe, expect, it } from 'vitest'
import { LIMITS, channelRoomId } from '@parlor/protocol'
import { startRelay, uid, type TestRelay } from '../testing/relay-fixture.js'

let relay: TestRelay
beforeAll(async () => {
  relay = await startRelay()
})

async function groupWithComments(n: number) {
  const [a, b, outsider] = await relay.users(3)
  const roomId = `g:${uid()}`
  await relay.ok(a!.token, 'createGroupRoom', { roomId, name: 'g', userIds: [b!.id] })
  await relay.http('POST', '/v1/mutations', {
    mutations: Array.from({ length: n }, (_, i) => ({
      id: uid('m'), name: 'sendComment', args: { roomId, uniqueId: uid(), text: `c${i + 1}`, type: 'text' }, createdAt: 0,
    })),
  }, a!.token)
  return { a: a!, b: b!, outsider: outsider!, roomId }
}

describe('getRoomById', () => {
  it('answers the room, its newest 20 comments oldest first, and its participants', async () => {
    const { b, roomId } = await groupWithComments(25)
    const res = await relay.query(b.token, 'getRoomById', { roomId })
    expect(res.status).toBe(200)
    const ids = res.body.comments.map((c: { id: number }) => c.id)
    expect(ids).toHaveLength(LIMITS.roomComments)
    expect(ids[0]).toBe(7)
    expect(ids.at(-1)).toBe(26)
    expect(res.body.participants).toHaveLength(2)
    expect(res.body).toMatchObject({ isParticipant: true, room: { id: roomId, unreadCount: 25, isRemoved: false } })
  })

  it('refuses outsiders of groups and answers not_found for missing rooms', async () => {
    const { outsider, roomId } = await groupWithComments(1)
    expect(await relay.query(outsider.token, 'getRoomById', { roomId })).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } })
    expect(await relay.query(outsider.token, 'getRoomById', { roomId: 'g:missing' })).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } })
  })

  it('lets anyone signed in read a channel without joining, and never lists its participants', async () => {
    const [a, reader] = await relay.users(2)
    const uniqueId = uid('ch')
    const roomId = channelRoomId(uniqueId)
    await relay.ok(a!.token, 'getOrCreateChannel', { roomId, uniqueId })
    await relay.ok(a!.token, 'sendComment', { roomId, uniqueId: uid(), text: 'hello', type: 'text' })
    const res = await relay.query(reader!.token, 'getRoomById', { roomId })
    expect(res.body).toMatchObject({ isParticipant: false, participants: [], room: { unreadCount: 0, participantCount: 1 } })
    expect(res.body.comments.map((c: { text: string }) => c.text)).toContain('hello')
    // Reading did not join.
    expect((await relay.query(a!.token, 'getRoomById', { roomId })).body.room.participantCount).toBe(1)
    // Writing still needs joining.
    const send = await relay.mutate(reader!.token, 'sendComment', { roomId, uniqueId: uid(), text: 'x', type: 'text' })
    expect(send).toMatchObject({ ok: false, error: { code: 'forbidden' } })
  })
})

describe('getParticipants', () => {
  it('pages active participants in join order, then user id', async () => {
    const users = await relay.users(5)
    const [owner, ...rest] = users
    const roomId = `g:${uid()}`
    await relay.ok(owner!.token, 'createGroupRoom', { roomId, name: 'g', userIds: rest.map((u) => u.id) })
    await relay.ok(owner!.token, 'removeParticipants', { roomId, userIds: [rest[0]!.id] })
    const page = async (p: number, limit: number) =>
      (await relay.query(owner!.token, 'getParticipants', { roomUniqueId: roomId, page: p, limit })).body.participants.map((x: { userId: string }) => x.userId)
    const all = await page(1, 100)
    // Everyone joined at creation; within equal join times the order is by user id.
    expect(all).toEqual([owner!.id, ...rest.slice(1).map((u) => u.id).sort()])
    expect([...(await page(1, 2)), ...(await page(2, 2)), ...(await page(3, 2))]).toEqual(all)
    expect(await page(4, 2)).toEqual([])
  })

  it('resolves channel unique ids and applies read authorization', async () => {
    const [a, other] = await relay.users(2)
    const uniqueId = uid('ch')
    await relay.ok(a!.token, 'getOrCreateChannel', { roomId: channelRoomId(uniqueId), uniqueId })
    const res = await relay.query(other!.token, 'getParticipants', { roomUniqueId: uniqueId, page: 1, limit: 10 })
    expect(res.body.participants.map((p: { userId: string }) => p.userId)).toEqual([a!.id])
    const { outsider, roomId } = await groupWithComments(0)
    expect((await relay.query(outsider.token, 'getParticipants', { roomUniqueId: roomId, page: 1, limit: 10 })).status).toBe(403)
    expect((await relay.query(outsider.token, 'getParticipants', { roomUniqueId: 'g:none', page: 1, limit: 10 })).status).toBe(404)
    expect((await relay.query(outsider.token, 'getParticipants', { roomUniqueId: roomId, page: 0, limit: 10 })).status).toBe(400)
  })
})

describe('loadComments', () => {
  it('answers the newest `limit` comments before an id, oldest first', async () => {
    const { a, roomId, outsider } = await groupWithComments(10)
    const load = async (args: object) =>
      (await relay.query(a.token, 'loadComments', { roomId, ...args })).body.comments.map((c: { id: number }) => c.id)
    expect(await load({ limit: 3 })).toEqual([9, 10, 11])
    expect(await load({ limit: 3, before: 9 })).toEqual([6, 7, 8])
    expect(await load({ limit: 50, before: 3 })).toEqual([1, 2])
    expect((await relay.query(outsider.token, 'loadComments', { roomId, limit: 3 })).status).toBe(403)
  })
})
