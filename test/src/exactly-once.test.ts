import { describe, expect, it } from 'vitest'
import { groupRoomId } from '@parlor/protocol'
import { api, mutate, mutation, query, rawSocket, session, sharedRelay, uid } from './harness.js'

const relay = sharedRelay()

async function userWithGroup(): Promise<{ userId: string; token: string; roomId: string }> {
  const userId = uid('alice')
  const token = await session(relay(), userId)
  const roomId = groupRoomId(uid('room'))
  const [r] = await mutate(relay(), token, mutation('createGroupRoom', { roomId, name: 'Once', userIds: [] }))
  expect(r.ok).toBe(true)
  return { userId, token, roomId }
}

async function texts(token: string, roomId: string): Promise<string[]> {
  const res = await query(relay(), token, { name: 'loadComments', args: { roomId, limit: 100 } })
  expect(res.status).toBe(200)
  return (res.body.comments as Array<{ text: string; type: string }>).filter((c) => c.type !== 'system_event').map((c) => c.text)
}

describe('a mutation sent twice with the same id (lost acknowledgement)', () => {
  it('takes effect once over HTTP, and the second answer equals the first', async () => {
    const { token, roomId } = await userWithGroup()
    const m = mutation('sendComment', { roomId, uniqueId: uid('c'), text: 'only once', type: 'text' })
    const first = await mutate(relay(), token, m)
    const second = await mutate(relay(), token, m)
    expect(first[0].ok).toBe(true)
    expect(second).toEqual(first)
    expect(await texts(token, roomId)).toEqual(['only once'])
  })

  it('takes effect once when only the mutation id repeats (the replay is answered from the stored result)', async () => {
    const { token, roomId } = await userWithGroup()
    const id = uid('mid')
    const first = await mutate(relay(), token, mutation('sendComment', { roomId, uniqueId: uid('c'), text: 'first', type: 'text' }, id))
    // Same id, other content: a replay is recognised by its id alone and answered with the original result.
    const second = await mutate(relay(), token, mutation('sendComment', { roomId, uniqueId: uid('c'), text: 'second', type: 'text' }, id))
    expect(second).toEqual(first)
    expect(await texts(token, roomId)).toEqual(['first'])
  })

  it('takes effect once over the socket, and the replayed ack equals the first', async () => {
    const { token, roomId } = await userWithGroup()
    const sock = await rawSocket(relay(), token)
    // The same user's other device.
    const other = await rawSocket(relay(), token)
    const m = mutation('sendComment', { roomId, uniqueId: uid('c'), text: 'socket once', type: 'text' })
    sock.send({ type: 'mutate', mutations: [m] })
    const ack1 = await sock.next((f) => f.type === 'ack')
    sock.send({ type: 'mutate', mutations: [m] })
    const ack2 = await sock.next((f) => f.type === 'ack')
    expect(ack1.results[0]).toMatchObject({ mutationId: m.id, ok: true, value: { comment: { text: 'socket once' } } })
    expect(ack2).toEqual(ack1)
    expect(await texts(token, roomId)).toEqual(['socket once'])
    // The change was published once: the other device gets the comment in one change frame, not two...
    const seq = ack1.results[0].value.comment.seq
    await other.next((f) => f.type === 'change' && f.seq === seq)
    const full = other.frames.filter((f) => f.type === 'change' && (f.comments ?? []).some((c: { text: string }) => c.text === 'socket once'))
    expect(full).toHaveLength(1)
    // ...and the sending socket its seq alone, before the ack that carries the rows.
    const own = sock.frames.filter((f) => f.type === 'change' && f.seq === seq)
    expect(own).toEqual([{ type: 'change', seq, roomId }])
    expect(sock.frames.indexOf(own[0]!)).toBeLessThan(sock.frames.indexOf(ack1))
  })

  it('is recognised across transports: socket first, HTTP replay, same answer', async () => {
    const { token, roomId } = await userWithGroup()
    const sock = await rawSocket(relay(), token)
    const m = mutation('sendComment', { roomId, uniqueId: uid('c'), text: 'cross', type: 'text' })
    sock.send({ type: 'mutate', mutations: [m] })
    const ack = await sock.next((f) => f.type === 'ack')
    sock.close()
    await sock.closed
    expect(await mutate(relay(), token, m)).toEqual(ack.results)
    expect(await texts(token, roomId)).toEqual(['cross'])
  })

  it('answers a replayed failure with the same error, and applies nothing', async () => {
    const owner = await userWithGroup()
    const strangerToken = await session(relay(), uid('stranger'))
    const m = mutation('sendComment', { roomId: owner.roomId, uniqueId: uid('c'), text: 'intruder', type: 'text' })
    const first = await mutate(relay(), strangerToken, m)
    expect(first[0]).toMatchObject({ ok: false, error: { code: 'forbidden' } })
    const second = await mutate(relay(), strangerToken, m)
    expect(second).toEqual(first)
    expect(await texts(owner.token, owner.roomId)).toEqual([])
  })

  it('replays a whole batch once, in order, even when the batch repeats with new mutations after it', async () => {
    const { token, roomId } = await userWithGroup()
    const a = mutation('sendComment', { roomId, uniqueId: uid('c'), text: 'a', type: 'text' })
    const b = mutation('sendComment', { roomId, uniqueId: uid('c'), text: 'b', type: 'text' })
    const c = mutation('sendComment', { roomId, uniqueId: uid('c'), text: 'c', type: 'text' })
    const first = await mutate(relay(), token, a, b)
    const second = await mutate(relay(), token, a, b, c)
    expect(second.slice(0, 2)).toEqual(first)
    expect(second[2]).toMatchObject({ mutationId: c.id, ok: true })
    expect(await texts(token, roomId)).toEqual(['a', 'b', 'c'])
  })

  it('applies the same mutation id once per user: another user may use it too', async () => {
    const one = await userWithGroup()
    const two = await userWithGroup()
    const id = uid('shared-id')
    const r1 = await mutate(relay(), one.token, mutation('sendComment', { roomId: one.roomId, uniqueId: uid('c'), text: 'one', type: 'text' }, id))
    const r2 = await mutate(relay(), two.token, mutation('sendComment', { roomId: two.roomId, uniqueId: uid('c'), text: 'two', type: 'text' }, id))
    expect(r1[0].ok).toBe(true)
    expect(r2[0].ok).toBe(true)
    expect(await texts(one.token, one.roomId)).toEqual(['one'])
    expect(await texts(two.token, two.roomId)).toEqual(['two'])
  })

  it('creates a group once when its creation is replayed after a member was removed', async () => {
    const { token, userId } = await userWithGroup()
    const bobId = uid('bob')
    const bobToken = await session(relay(), bobId)
    const roomId = groupRoomId(uid('room'))
    const create = mutation('createGroupRoom', { roomId, name: 'Replayed', userIds: [bobId] })
    const first = await mutate(relay(), token, create)
    expect(first[0].ok).toBe(true)
    const [removed] = await mutate(relay(), token, mutation('removeParticipants', { roomId, userIds: [bobId] }))
    expect(removed.ok).toBe(true)
    // The lost-ack replay of the creation must not put bob back.
    expect(await mutate(relay(), token, create)).toEqual(first)
    const res = await query(relay(), token, { name: 'getRoomById', args: { roomId } })
    expect(res.body.participants.filter((p: { isRemoved: boolean }) => !p.isRemoved).map((p: { userId: string }) => p.userId)).toEqual([userId])
    expect((await query(relay(), bobToken, { name: 'getRoomById', args: { roomId } })).status).toBe(403)
    expect((await api(relay(), '/healthz')).status).toBe(200)
  })
})
