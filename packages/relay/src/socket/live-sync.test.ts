import { beforeAll, describe, expect, it } from 'vitest'
import { LIMITS, PROTOCOL_VERSION, channelRoomId, singleRoomId, type ChangeFrame, type DownFrame, type SyncFrame } from '@parlor/protocol'
import { TestSocket, startRelay, uid, type TestRelay } from '../testing/relay-fixture.js'

let relay: TestRelay
beforeAll(async () => {
  relay = await startRelay()
})

const isChangeOf = (roomId: string) => (f: DownFrame): f is ChangeFrame => f.type === 'change' && f.roomId === roomId
const comment = (token: string, roomId: string, text = 'hi') =>
  relay.ok(token, 'sendComment', { roomId, uniqueId: uid('c'), text, type: 'text' })

/** Frames of `roomId` the socket received, after a ping round trip proved delivery is complete. */
async function framesOf(s: TestSocket, roomId: string): Promise<DownFrame[]> {
  await s.ping()
  return s.drain().filter((f) => (f.type === 'change' && f.roomId === roomId) || (f.type === 'sync' && f.rooms.some((r) => r.id === roomId)))
}

describe('catch-up on hello', () => {
  it('sends everything with cursor 0, and only what changed after a cursor', async () => {
    const [a, b, c] = await relay.users(3)
    const r1 = singleRoomId(a!.id, b!.id)
    const r2 = `g:${uid()}`
    await relay.ok(a!.token, 'chatTarget', { roomId: r1, userId: b!.id })
    await relay.ok(a!.token, 'createGroupRoom', { roomId: r2, name: 'g', userIds: [b!.id, c!.id] })
    for (let i = 0; i < LIMITS.roomComments + 5; i++) await comment(a!.token, r2, `m${i}`)

    const { socket, sync: full } = await relay.connect(b!.token)
    socket.ws.close()
    expect(full.isFull).toBe(true)
    expect(full.rooms.map((r) => r.id).sort()).toEqual([r1, r2].sort())
    expect(full.rooms.find((r) => r.id === r2)).toMatchObject({ unreadCount: LIMITS.roomComments + 5, isRemoved: false })
    expect(full.comments.filter((x) => x.roomId === r2)).toHaveLength(LIMITS.roomComments)
    expect(full.participants.filter((p) => p.roomId === r2)).toHaveLength(3)

    await comment(c!.token, r2, 'after')
    const { sync: delta } = await relay.connect(b!.token, full.cursor)
    expect(delta).toMatchObject({ isFull: false, rooms: [{ id: r2, unreadCount: LIMITS.roomComments + 6 }] })
    expect(delta.comments.map((x) => x.text)).toEqual(['after'])
    expect(delta.participants).toEqual([])
    expect(delta.cursor).toBeGreaterThan(full.cursor)

    // Another member's read pointer is news for b (read receipts) even when nothing else changed.
    await relay.ok(c!.token, 'markAsRead', { roomId: r2, commentId: 1000 })
    const { sync: receipts } = await relay.connect(b!.token, delta.cursor)
    expect(receipts.participants).toMatchObject([{ userId: c!.id, roomId: r2 }])
    expect(receipts.comments).toEqual([])
  })

  it('answers a mutate frame sent right after hello only after the catch-up', async () => {
    const [a, b] = await relay.users(2)
    const roomId = `g:${uid()}`
    await relay.ok(a!.token, 'createGroupRoom', { roomId, name: 'before', userIds: [b!.id] })
    const socket = await TestSocket.open(relay.url)
    // An engine with queued mutations does not wait for the sync: the frames go back to back.
    socket.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token: a!.token, cursor: 0 })
    socket.send({ type: 'mutate', mutations: [{ id: uid('m'), name: 'updateRoom', args: { roomId, name: 'after' }, createdAt: 0 }] })
    const answer = await socket.next((f) => f.type === 'ack')
    if (answer.type !== 'ack' || !answer.results[0]?.ok) throw new Error('expected the rename to be accepted')
    expect(socket.frames.map((f) => f.type)).toEqual(['sync', 'change', 'ack'])
    const sync = socket.frames[0] as SyncFrame
    // The catch-up is the state before the mutation; the change and the ack come after it.
    expect(sync.rooms.find((r) => r.id === roomId)?.name).toBe('before')
    expect(sync.cursor).toBeLessThan(answer.results[0].value.room!.version)
  })

  it('answers a cursor ahead of the relay with a full sync', async () => {
    const [a] = await relay.users(1)
    const { sync } = await relay.connect(a!.token, 1e9)
    expect(sync.isFull).toBe(true)
  })

  it('does not leak changes made after a user was removed', async () => {
    const [a, b] = await relay.users(2)
    const roomId = `g:${uid()}`
    await relay.ok(a!.token, 'createGroupRoom', { roomId, name: 'g', userIds: [b!.id] })
    await relay.ok(a!.token, 'removeParticipants', { roomId, userIds: [b!.id] })
    const { sync: s1 } = await relay.connect(b!.token)
    await relay.ok(a!.token, 'updateRoom', { roomId, name: 'secret plans' })
    await comment(a!.token, roomId, 'secret')
    const { sync: s2 } = await relay.connect(b!.token, s1.cursor)
    expect(s2.rooms).toEqual([])
    const { sync: full } = await relay.connect(b!.token)
    const room = full.rooms.find((r) => r.id === roomId)!
    expect(room.isRemoved).toBe(true)
    expect(room.lastComment?.text).not.toBe('secret')
    expect(full.comments.filter((x) => x.roomId === roomId)).toEqual([])
  })
})

describe('live changes', () => {
  it('delivers changes to participants in seq order, and nothing to others', async () => {
    const [a, b, outsider] = await relay.users(3)
    const roomId = singleRoomId(a!.id, b!.id)
    await relay.ok(a!.token, 'chatTarget', { roomId, userId: b!.id })
    const { socket: sb } = await relay.connect(b!.token)
    const { socket: so } = await relay.connect(outsider!.token)
    await comment(a!.token, roomId, 'one')
    await comment(a!.token, roomId, 'two')
    const frames = (await framesOf(sb, roomId)) as ChangeFrame[]
    expect(frames.map((f) => f.comments?.[0]?.text)).toEqual(['one', 'two'])
    expect(frames[1]!.seq).toBeGreaterThan(frames[0]!.seq)
    expect(frames[1]!.room).toMatchObject({ lastComment: { text: 'two' } })
    expect(await framesOf(so, roomId)).toEqual([])
  })

  it('sends the change of a mutation before the ack that answers it', async () => {
    const [a, b] = await relay.users(2)
    const roomId = singleRoomId(a!.id, b!.id)
    const { socket } = await relay.connect(a!.token)
    const ack = await socket.mutate('chatTarget', { roomId, userId: b!.id })
    expect(ack.ok).toBe(true)
    const id = uid('m')
    socket.send({ type: 'mutate', mutations: [{ id, name: 'sendComment', args: { roomId, uniqueId: uid(), text: 'x', type: 'text' }, createdAt: 0 }] })
    const answer = await socket.next((f) => f.type === 'ack')
    if (answer.type !== 'ack' || !answer.results[0]?.ok) throw new Error('expected the comment to be accepted')
    const value = answer.results[0].value
    const seen = socket.frames.map((f) => f.type)
    const ackAt = seen.lastIndexOf('ack')
    // On the sending socket a comment's change is bare: its ack carries the comment and the room.
    const seq = value.comment!.seq
    const changeAt = socket.frames.findIndex((f) => f.type === 'change' && f.seq === seq)
    expect(changeAt).toBeGreaterThan(-1)
    expect(changeAt).toBeLessThan(ackAt)
    expect(socket.frames[changeAt]).toEqual({ type: 'change', seq, roomId })
    expect(value).toMatchObject({ comment: { text: 'x', seq }, room: { id: roomId, version: seq } })
  })

  it('sends the sender one bare change for a frame of comments (its newest seq), the other devices every comment', async () => {
    const [a, b] = await relay.users(2)
    const roomId = singleRoomId(a!.id, b!.id)
    const { socket } = await relay.connect(a!.token)
    const { socket: laptop } = await relay.connect((await relay.signIn(a!.id)).token)
    expect((await socket.mutate('chatTarget', { roomId, userId: b!.id })).ok).toBe(true)
    const mutations = ['one', 'two', 'three'].map((text) => ({ id: uid('m'), name: 'sendComment' as const, args: { roomId, uniqueId: uid(), text, type: 'text' as const }, createdAt: 0 }))
    const before = socket.frames.length
    socket.send({ type: 'mutate', mutations })
    const answer = await socket.next((f) => f.type === 'ack' && f.results.length === 3)
    if (answer.type !== 'ack') throw new Error('expected an ack')
    const seqs = answer.results.map((r) => (r.ok ? r.value.comment!.seq : -1))
    expect(socket.frames.slice(before).map((f) => (f.type === 'change' ? `change ${f.seq}` : f.type))).toEqual([`change ${seqs[2]}`, 'ack'])
    await laptop.next((f) => f.type === 'change' && f.seq === seqs[2])
    const texts = laptop.frames.flatMap((f) => (f.type === 'change' ? (f.comments ?? []).map((c) => c.text) : []))
    expect(texts.slice(-3)).toEqual(['one', 'two', 'three'])
  })

  it('reaches every device of a user', async () => {
    const [a, b] = await relay.users(2)
    const roomId = singleRoomId(a!.id, b!.id)
    await relay.ok(a!.token, 'chatTarget', { roomId, userId: b!.id })
    const { socket: phone } = await relay.connect(b!.token)
    const { socket: laptop } = await relay.connect((await relay.signIn(b!.id)).token)
    await comment(a!.token, roomId, 'both')
    for (const s of [phone, laptop]) expect(await s.next(isChangeOf(roomId))).toMatchObject({ comments: [{ text: 'both' }] })
  })

  it('gives an added user a room-scoped sync, then live changes', async () => {
    const [a, b, c] = await relay.users(3)
    const roomId = `g:${uid()}`
    await relay.ok(a!.token, 'createGroupRoom', { roomId, name: 'g', userIds: [b!.id] })
    await comment(a!.token, roomId, 'before c')
    const { socket: sc } = await relay.connect(c!.token)
    const added = await relay.ok(a!.token, 'addParticipants', { roomId, userIds: [c!.id] })
    const sync = (await sc.next((f) => f.type === 'sync')) as SyncFrame
    expect(sync).toMatchObject({ isFull: false, userId: c!.id, rooms: [{ id: roomId, isRemoved: false }] })
    expect(sync.cursor).toBe(added.room!.version)
    expect(sync.participants.map((p) => p.userId).sort()).toEqual([a!.id, b!.id, c!.id].sort())
    expect(sync.comments.map((x) => x.text)).toContain('before c')
    await comment(b!.token, roomId, 'welcome')
    expect(await sc.next(isChangeOf(roomId))).toMatchObject({ comments: [{ text: 'welcome' }] })
  })

  it('ends a removed user’s live delivery at once: the removal is the last frame of the room', async () => {
    const [a, b] = await relay.users(2)
    const roomId = `g:${uid()}`
    await relay.ok(a!.token, 'createGroupRoom', { roomId, name: 'g', userIds: [b!.id] })
    const { socket: sb } = await relay.connect(b!.token)
    await relay.ok(a!.token, 'removeParticipants', { roomId, userIds: [b!.id] })
    await comment(a!.token, roomId, 'after removal')
    await relay.ok(a!.token, 'updateRoom', { roomId, name: 'renamed' })
    const frames = (await framesOf(sb, roomId)) as ChangeFrame[]
    expect(frames).toHaveLength(1)
    expect(frames[0]!.participants).toMatchObject([{ userId: b!.id, isRemoved: true }])
    // Re-adding brings the room back with a fresh room-scoped sync.
    await relay.ok(a!.token, 'addParticipants', { roomId, userIds: [b!.id] })
    const sync = (await sb.next((f) => f.type === 'sync')) as SyncFrame
    expect(sync.rooms[0]).toMatchObject({ id: roomId, name: 'renamed' })
    expect(sync.comments.map((x) => x.text)).toContain('after removal')
  })

  it('keeps channel member lists and read pointers private', async () => {
    const [a, b, c] = await relay.users(3)
    const uniqueId = uid('ch')
    const roomId = channelRoomId(uniqueId)
    await relay.ok(a!.token, 'getOrCreateChannel', { roomId, uniqueId })
    await relay.ok(b!.token, 'getOrCreateChannel', { roomId, uniqueId })
    const { socket: sa, sync } = await relay.connect(a!.token)
    expect(sync.participants.filter((p) => p.roomId === roomId).map((p) => p.userId)).toEqual([a!.id])
    const { socket: sb } = await relay.connect(b!.token)
    await relay.ok(c!.token, 'getOrCreateChannel', { roomId, uniqueId })
    const joined = (await sa.next(isChangeOf(roomId))) as ChangeFrame
    expect(joined.participants).toBeUndefined()
    expect(joined.comments).toMatchObject([{ payload: { type: 'join' } }])
    await relay.ok(b!.token, 'markAsRead', { roomId, commentId: 100 })
    const pointer = await sb.next((f) => isChangeOf(roomId)(f) && !f.comments)
    expect(pointer).toMatchObject({ participants: [{ userId: b!.id }] })
    expect(await framesOf(sa, roomId)).toEqual([])
  })

  it('pushes a renamed user’s participant rows to their rooms', async () => {
    const [a, b] = await relay.users(2)
    const roomId = singleRoomId(a!.id, b!.id)
    await relay.ok(a!.token, 'chatTarget', { roomId, userId: b!.id })
    const { socket: sa } = await relay.connect(a!.token)
    await relay.signIn(b!.id, { username: 'Bobby' })
    expect(await sa.next(isChangeOf(roomId))).toMatchObject({ participants: [{ userId: b!.id, username: 'Bobby' }] })
  })

  it('misses nothing committed while a socket is catching up', async () => {
    const [a, b] = await relay.users(2)
    const roomId = singleRoomId(a!.id, b!.id)
    await relay.ok(a!.token, 'chatTarget', { roomId, userId: b!.id })
    const { socket: writer } = await relay.connect(a!.token)
    const total = 60
    const sent = (async () => {
      for (let i = 0; i < total; i++) await writer.mutate('sendComment', { roomId, uniqueId: uid(), text: `n${i}`, type: 'text' })
    })()
    const sockets = []
    for (let i = 0; i < 4; i++) sockets.push(await relay.connect(b!.token))
    await sent
    for (const { socket, sync } of sockets) {
      await socket.ping()
      const changes = socket.drain().filter(isChangeOf(roomId))
      const ids = [...sync.comments, ...changes.flatMap((f) => f.comments ?? [])].map((x) => x.id)
      const unique = [...new Set(ids)].sort((x, y) => x - y)
      expect(unique.at(-1)).toBe(total + 1)
      // Contiguous from the oldest comment the catch-up held: no gap, whatever the timing.
      expect(unique).toEqual(Array.from({ length: unique.length }, (_, i) => unique[0]! + i))
    }
  })
})
