import { beforeAll, describe, expect, it } from 'vitest'
import { LIMITS, channelRoomId, singleRoomId, type CommentRecord } from '@parlor/protocol'
import { startRelay, uid, type TestRelay } from '../testing/relay-fixture.js'

let relay: TestRelay
beforeAll(async () => {
  relay = await startRelay()
})

const err = (r: { ok: boolean; error?: { code: string } }) => (r.ok ? 'ok' : r.error!.code)
const comments = async (token: string, roomId: string): Promise<CommentRecord[]> =>
  (await relay.query(token, 'loadComments', { roomId, limit: 100 })).body.comments

describe('chatTarget', () => {
  it('creates the 1-on-1 room once, with both users, an empty name and a create event', async () => {
    const [a, b] = await relay.users(2)
    const roomId = singleRoomId(a!.id, b!.id)
    const v = await relay.ok(a!.token, 'chatTarget', { roomId, userId: b!.id, options: { bg: 'red' } })
    expect(v.room).toMatchObject({ id: roomId, uniqueId: roomId, type: 'single', name: '', options: { bg: 'red' }, participantCount: 2, hasComments: false })
    expect(v.participants!.map((p) => p.userId).sort()).toEqual([a!.id, b!.id].sort())
    expect(v.room!.lastComment).toMatchObject({ type: 'system_event', payload: { type: 'create' }, text: `${a!.id} created the room` })
    // The other side gets the same room, unchanged (options only apply on creation).
    const again = await relay.ok(b!.token, 'chatTarget', { roomId, userId: a!.id, options: { bg: 'blue' } })
    expect(again.room).toEqual(v.room)
    expect(await comments(b!.token, roomId)).toHaveLength(1)
  })

  it('refuses self, a mismatched room id, unknown users and bad options', async () => {
    const [a, b] = await relay.users(2)
    expect(err(await relay.mutate(a!.token, 'chatTarget', { roomId: singleRoomId(a!.id, a!.id), userId: a!.id }))).toBe('validation')
    expect(err(await relay.mutate(a!.token, 'chatTarget', { roomId: singleRoomId(a!.id, 'zz'), userId: b!.id }))).toBe('validation')
    const ghost = uid('ghost')
    expect(err(await relay.mutate(a!.token, 'chatTarget', { roomId: singleRoomId(a!.id, ghost), userId: ghost }))).toBe('unknown_user')
    const many = Object.fromEntries(Array.from({ length: LIMITS.maxOptionKeys + 1 }, (_, i) => [`k${i}`, 'v']))
    expect(err(await relay.mutate(a!.token, 'chatTarget', { roomId: singleRoomId(a!.id, b!.id), userId: b!.id, options: many }))).toBe('limit_exceeded')
    expect((await relay.query(a!.token, 'getRoomById', { roomId: singleRoomId(a!.id, b!.id) })).body.error.code).toBe('not_found')
  })
})

describe('createGroupRoom', () => {
  it('creates a group with the creator first and deduplicated members', async () => {
    const [a, b, c] = await relay.users(3)
    const roomId = `g:${uid('r')}`
    const v = await relay.ok(a!.token, 'createGroupRoom', { roomId, name: 'Team', userIds: [b!.id, c!.id, b!.id, a!.id], avatarUrl: 'x.png' })
    expect(v.room).toMatchObject({ id: roomId, type: 'group', name: 'Team', avatarUrl: 'x.png', participantCount: 3 })
    expect(v.participants!.map((p) => p.userId)).toEqual([a!.id, b!.id, c!.id])
    const [create] = await comments(c!.token, roomId)
    expect(create).toMatchObject({ type: 'system_event', payload: { type: 'create' }, sender: { userId: a!.id } })
  })

  it('replays the creating mutation, but refuses another one for an existing id as conflict', async () => {
    const [a, b] = await relay.users(2)
    const roomId = `g:${uid('r')}`
    const id = uid('m')
    const first = await relay.mutate(a!.token, 'createGroupRoom', { roomId, name: 'n', userIds: [b!.id] }, id)
    const replay = await relay.mutate(a!.token, 'createGroupRoom', { roomId, name: 'n', userIds: [b!.id] }, id)
    expect(replay).toEqual(first)
    expect(err(await relay.mutate(a!.token, 'createGroupRoom', { roomId, name: 'n', userIds: [] }))).toBe('conflict')
    expect(err(await relay.mutate(b!.token, 'createGroupRoom', { roomId, name: 'n', userIds: [] }))).toBe('conflict')
  })

  it('refuses unknown users, non-group ids and too many user ids', async () => {
    const [a, b] = await relay.users(2)
    const ghost = uid('ghost')
    const r = await relay.mutate(a!.token, 'createGroupRoom', { roomId: `g:${uid()}`, name: 'n', userIds: [b!.id, ghost] })
    expect(r).toMatchObject({ ok: false, error: { code: 'unknown_user', message: expect.stringContaining(ghost) } })
    expect(err(await relay.mutate(a!.token, 'createGroupRoom', { roomId: `c:${uid()}`, name: 'n', userIds: [] }))).toBe('validation')
    const tooMany = Array.from({ length: LIMITS.maxUserIdsPerCall + 1 }, () => b!.id)
    expect(await relay.refusedBody(a!.token, 'createGroupRoom', { roomId: `g:${uid()}`, name: 'n', userIds: tooMany })).toBe('validation')
  })
})

describe('getOrCreateChannel', () => {
  it('creates a channel, lets others join, and updates name/avatar with system events', async () => {
    const [a, b] = await relay.users(2)
    const uniqueId = uid('news.')
    const roomId = channelRoomId(uniqueId)
    const created = await relay.ok(a!.token, 'getOrCreateChannel', { roomId, uniqueId, options: { k: 'v' } })
    expect(created.room).toMatchObject({ id: roomId, uniqueId, type: 'channel', name: uniqueId, participantCount: 1, options: { k: 'v' } })
    const joined = await relay.ok(b!.token, 'getOrCreateChannel', { roomId, uniqueId, name: 'News', options: { ignored: 'yes' } })
    expect(joined.room).toMatchObject({ name: 'News', participantCount: 2, options: { k: 'v' } })
    expect(joined.participants!.map((p) => p.userId)).toEqual([b!.id])
    const kinds = (await comments(a!.token, roomId)).map((c) => c.payload?.type)
    expect(kinds).toEqual(['create', 'join', 'change_name'])
    // Calling again as a participant with nothing new changes nothing.
    const same = await relay.ok(b!.token, 'getOrCreateChannel', { roomId, uniqueId, name: 'News' })
    expect(same.room!.version).toBe(joined.room!.version)
  })

  it('refuses a room id that does not match the unique id', async () => {
    const [a] = await relay.users(1)
    expect(err(await relay.mutate(a!.token, 'getOrCreateChannel', { roomId: 'c:other', uniqueId: uid('x') }))).toBe('validation')
    expect(await relay.refusedBody(a!.token, 'getOrCreateChannel', { roomId: 'c:g:x', uniqueId: 'g:x' })).toBe('validation')
  })
})

describe('updateRoom', () => {
  it('renames, changes the avatar and merges options, with system events and a version bump', async () => {
    const [a, b] = await relay.users(2)
    const roomId = `g:${uid()}`
    const created = await relay.ok(a!.token, 'createGroupRoom', { roomId, name: 'n', userIds: [b!.id], options: { keep: '1', drop: '2' } })
    const v = await relay.ok(b!.token, 'updateRoom', { roomId, name: 'New', avatarUrl: 'a.png', options: { drop: null, add: '3' } })
    expect(v.room).toMatchObject({ name: 'New', avatarUrl: 'a.png', options: { keep: '1', add: '3' } })
    expect(v.room!.version).toBeGreaterThan(created.room!.version)
    expect(v.room!.options).not.toHaveProperty('drop')
    const events = (await comments(a!.token, roomId)).map((c) => c.payload)
    expect(events.slice(-2)).toEqual([{ type: 'change_name', name: 'New' }, { type: 'change_avatar' }])
  })

  it('refuses 1-on-1 rooms, non-participants, missing rooms and options past the limits', async () => {
    const [a, b, c] = await relay.users(3)
    const single = singleRoomId(a!.id, b!.id)
    await relay.ok(a!.token, 'chatTarget', { roomId: single, userId: b!.id })
    expect(err(await relay.mutate(a!.token, 'updateRoom', { roomId: single, name: 'x' }))).toBe('unsupported_room_type')
    const roomId = `g:${uid()}`
    await relay.ok(a!.token, 'createGroupRoom', { roomId, name: 'n', userIds: [] })
    expect(err(await relay.mutate(c!.token, 'updateRoom', { roomId, name: 'x' }))).toBe('forbidden')
    expect(err(await relay.mutate(a!.token, 'updateRoom', { roomId: 'g:missing', name: 'x' }))).toBe('not_found')
    const r = await relay.mutate(a!.token, 'updateRoom', { roomId, options: { big: 'x'.repeat(LIMITS.maxOptionValueBytes + 1) } })
    expect(err(r)).toBe('validation')
    const room = (await relay.query(a!.token, 'getRoomById', { roomId })).body.room
    expect(room).toMatchObject({ name: 'n', options: {} })
  })
})
