import { beforeAll, describe, expect, it } from 'vitest'
import { LIMITS, singleRoomId } from '@parlor/protocol'
import { startRelay, uid, type TestRelay } from '../testing/relay-fixture.js'

let relay: TestRelay
beforeAll(async () => {
  relay = await startRelay()
})

const err = (r: { ok: boolean; error?: { code: string } }) => (r.ok ? 'ok' : r.error!.code)
const send = (token: string, roomId: string, text = 'hi', extra: object = {}) =>
  relay.mutate(token, 'sendComment', { roomId, uniqueId: uid('c'), text, type: 'text', ...extra })

async function pair() {
  const [a, b] = await relay.users(2)
  const roomId = singleRoomId(a!.id, b!.id)
  await relay.ok(a!.token, 'chatTarget', { roomId, userId: b!.id })
  return { a: a!, b: b!, roomId }
}

describe('sendComment', () => {
  it('assigns increasing ids and updates lastComment, activity and hasComments', async () => {
    const { a, b, roomId } = await pair()
    const first = await relay.ok(a.token, 'sendComment', { roomId, uniqueId: uid(), text: 'one', type: 'text', extras: { x: 1 } })
    const second = await relay.ok(b.token, 'sendComment', { roomId, uniqueId: uid(), text: 'two', type: 'custom', payload: { kind: 'card' } })
    expect(first.comment).toMatchObject({ id: 2, text: 'one', extras: { x: 1 }, sender: { userId: a.id } })
    expect(second.comment).toMatchObject({ id: 3, type: 'custom', payload: { kind: 'card' } })
    expect(second.room).toMatchObject({ hasComments: true, lastComment: second.comment, lastActivityAt: second.comment!.timestamp })
    expect(second.room!.version).toBe(second.comment!.seq)
  })

  it('deduplicates by unique id: a resend returns the stored comment', async () => {
    const { a, roomId } = await pair()
    const uniqueId = uid()
    const first = await relay.ok(a.token, 'sendComment', { roomId, uniqueId, text: 'once', type: 'text' })
    const again = await relay.ok(a.token, 'sendComment', { roomId, uniqueId, text: 'twice?', type: 'text' })
    expect(again.comment).toEqual(first.comment)
    const list = (await relay.query(a.token, 'loadComments', { roomId, limit: 10 })).body.comments
    expect(list.filter((c: { uniqueId: string }) => c.uniqueId === uniqueId)).toHaveLength(1)
  })

  it('refuses non-participants, missing rooms and oversize text', async () => {
    const { roomId } = await pair()
    const [c] = await relay.users(1)
    expect(err(await send(c!.token, roomId))).toBe('forbidden')
    expect(err(await send(c!.token, 'g:missing'))).toBe('not_found')
    const { a, roomId: r2 } = await pair()
    // Schema-level problems refuse the whole request.
    expect(await relay.refusedBody(a.token, 'sendComment', { roomId: r2, uniqueId: uid(), text: 'x'.repeat(LIMITS.maxCommentTextBytes + 1), type: 'text' })).toBe('validation')
    expect(await relay.refusedBody(a.token, 'sendComment', { roomId: r2, uniqueId: uid(), text: 'x', type: 'system_event' })).toBe('validation')
  })
})

describe('markAsRead and unread counts', () => {
  it('counts comments by others after the read pointer, never system events, and moves the pointer forward only', async () => {
    const { a, b, roomId } = await pair()
    const unread = async (token: string) => (await relay.query(token, 'getRoomById', { roomId })).body.room.unreadCount
    expect(await unread(b.token)).toBe(0) // the create event does not count
    await send(a.token, roomId)
    await send(a.token, roomId)
    const third = await relay.ok(a.token, 'sendComment', { roomId, uniqueId: uid(), text: '3', type: 'text' })
    await send(b.token, roomId)
    expect(await unread(b.token)).toBe(3)
    expect(await unread(a.token)).toBe(1)
    const marked = await relay.ok(b.token, 'markAsRead', { roomId, commentId: third.comment!.id - 1 })
    expect(marked.participants).toMatchObject([{ userId: b.id, lastReadCommentId: third.comment!.id - 1 }])
    expect(await unread(b.token)).toBe(1)
    // Backwards is a no-op; past the newest comment is clamped.
    const back = await relay.ok(b.token, 'markAsRead', { roomId, commentId: 1 })
    expect(back.participants![0]!.lastReadCommentId).toBe(third.comment!.id - 1)
    const far = await relay.ok(b.token, 'markAsRead', { roomId, commentId: 10_000 })
    expect(far.participants![0]).toMatchObject({ lastReadCommentId: third.comment!.id + 1, lastReceivedCommentId: third.comment!.id + 1 })
    expect(await unread(b.token)).toBe(0)
    await send(a.token, roomId)
    expect(await unread(b.token)).toBe(1)
  })

  it('refuses non-participants', async () => {
    const { roomId } = await pair()
    const [c] = await relay.users(1)
    expect(err(await relay.mutate(c!.token, 'markAsRead', { roomId, commentId: 1 }))).toBe('forbidden')
  })
})

describe('exactly once', () => {
  it('answers a replayed mutation id with the stored result and changes nothing', async () => {
    const { a, roomId } = await pair()
    const id = uid('m')
    const args = { roomId, uniqueId: uid(), text: 'hi', type: 'text' as const }
    const first = await relay.mutate(a.token, 'sendComment', args, id)
    const replay = await relay.mutate(a.token, 'sendComment', { ...args, uniqueId: uid(), text: 'other' }, id)
    expect(replay).toEqual(first)
    const list = (await relay.query(a.token, 'loadComments', { roomId, limit: 10 })).body.comments
    expect(list.filter((c: { type: string }) => c.type === 'text')).toHaveLength(1)
  })

  it('stores refusals too: a replay after the cause is gone still answers the original error', async () => {
    const [a, b] = await relay.users(2)
    const roomId = `g:${uid()}`
    await relay.ok(a!.token, 'createGroupRoom', { roomId, name: 'g', userIds: [] })
    const id = uid('m')
    const refused = await relay.mutate(b!.token, 'sendComment', { roomId, uniqueId: uid(), text: 'x', type: 'text' }, id)
    expect(err(refused)).toBe('forbidden')
    await relay.ok(a!.token, 'addParticipants', { roomId, userIds: [b!.id] })
    const replay = await relay.mutate(b!.token, 'sendComment', { roomId, uniqueId: uid(), text: 'x', type: 'text' }, id)
    expect(replay).toEqual(refused)
  })

  it('keys mutation ids per user and applies a batch in order', async () => {
    const { a, b, roomId } = await pair()
    const id = uid('m')
    const ra = await relay.mutate(a.token, 'sendComment', { roomId, uniqueId: uid(), text: 'a', type: 'text' }, id)
    const rb = await relay.mutate(b.token, 'sendComment', { roomId, uniqueId: uid(), text: 'b', type: 'text' }, id)
    expect(ra.ok && rb.ok).toBe(true)
    const batch = await relay.http('POST', '/v1/mutations', {
      mutations: [1, 2, 3].map((n) => ({ id: uid('m'), name: 'sendComment', args: { roomId, uniqueId: uid(), text: `n${n}`, type: 'text' }, createdAt: 0 })),
    }, a.token)
    expect(batch.body.results.map((r: { value: { comment: { text: string; id: number } } }) => r.value.comment.text)).toEqual(['n1', 'n2', 'n3'])
  })
})
