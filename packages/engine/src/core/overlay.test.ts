import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { groupRoomId, singleRoomId, type Mutation, type UserProfile } from '@parlor/protocol'
import { overlayRoom, type RoomBase } from './overlay.js'
import type { ParticipantRow, RoomRow } from '../store/rows.js'

const me: UserProfile = { userId: 'alice', username: 'Alice', avatarUrl: '' }
const ctx = { me, profileOf: (userId: string) => ({ userId, username: userId.toUpperCase(), avatarUrl: '' }) }
let n = 0
const m = <M extends Mutation>(name: M['name'], args: M['args']): Mutation => ({ id: `m${++n}`, name, args, createdAt: 1000 + n }) as Mutation

function groupBase(): RoomBase {
  const roomId = groupRoomId('abc')
  const room: RoomRow = {
    id: roomId, uniqueId: roomId, type: 'group', name: 'G', avatarUrl: '', options: { a: '1' }, participantCount: 2,
    lastComment: null, hasComments: false, createdAt: 1, updatedAt: 1, lastActivityAt: 1, version: 5, unreadCount: 3,
    isRemoved: false, lastReadCommentId: 0, removedKey: 0, hasCommentsKey: 0,
  }
  const p = (userId: string, joinedAt: number): ParticipantRow => ({
    roomId, userId, username: userId, avatarUrl: '', joinedAt, lastReadCommentId: 0, lastReceivedCommentId: 0, isRemoved: false, version: 5,
  })
  return { room, participants: [p('alice', 1), p('bob', 2)] }
}

describe('overlayRoom', () => {
  it('shares nothing of the pending mutations with what it returns (the reader keeps them between reads)', () => {
    const base = groupBase()
    const roomId = base.room!.id
    const pending = [
      m('createGroupRoom', { roomId: groupRoomId('new'), name: 'N', userIds: ['bob'], options: { bg: 'red' } }),
      m('sendComment', { roomId, uniqueId: 'u1', text: 'hi', type: 'custom', payload: { card: { title: 't' } }, extras: { tags: ['x'] } }),
    ]
    const before = structuredClone(pending)
    const created = overlayRoom({ room: undefined, participants: [] }, pending.slice(0, 1), ctx)
    created.room!.options.bg = 'blue'
    const v = overlayRoom(base, pending.slice(1), ctx)
    ;(v.pendingComments[0]!.payload!.card as { title: string }).title = 'changed'
    ;(v.pendingComments[0]!.extras!.tags as string[]).push('y')
    expect(pending).toEqual(before)
  })

  it('creates a 1-on-1 room optimistically with both participants', () => {
    const roomId = singleRoomId('alice', 'bob')
    const v = overlayRoom({ room: undefined, participants: [] }, [m('chatTarget', { roomId, userId: 'bob', options: { bg: 'red' } })], ctx)
    expect(v.room).toMatchObject({ id: roomId, type: 'single', options: { bg: 'red' }, participantCount: 2 })
    expect(v.participants?.map((p) => p.userId)).toEqual(['alice', 'bob'])
    expect(v.pendingCount).toBe(1)
  })

  it('keeps an offline "add participant" on top of an older participant list', () => {
    const base = groupBase()
    const v = overlayRoom(base, [m('addParticipants', { roomId: base.room!.id, userIds: ['carol'] })], ctx)
    expect(v.participants?.map((p) => p.userId)).toEqual(['alice', 'bob', 'carol'])
    expect(v.participants?.at(-1)?.username).toBe('CAROL')
    expect(v.room?.participantCount).toBe(3)
  })

  it('applies option patches key by key and marks the room removed when I remove myself', () => {
    const base = groupBase()
    const roomId = base.room!.id
    const v = overlayRoom(base, [m('updateRoom', { roomId, options: { a: null, b: '2' } }), m('removeParticipants', { roomId, userIds: ['alice'] })], ctx)
    expect(v.room?.options).toEqual({ b: '2' })
    expect(v.room?.isRemoved).toBe(true)
    expect(v.participants?.map((p) => p.userId)).toEqual(['bob'])
  })

  it('shows a pending comment once, and not after the relay stored it', () => {
    const base = groupBase()
    const roomId = base.room!.id
    const send = m('sendComment', { roomId, uniqueId: 'u1', text: 'hi', type: 'text' })
    expect(overlayRoom(base, [send], ctx).pendingComments.map((c) => c.uniqueId)).toEqual(['u1'])
    const stored = { ...base, comments: [{ id: 1, uniqueId: 'u1', roomId, sender: me, text: 'hi', type: 'text' as const, timestamp: 5, seq: 6 }] }
    expect(overlayRoom(stored, [send], ctx).pendingComments).toEqual([])
  })

  it('never changes the base it is given and is deterministic (property)', () => {
    const base = groupBase()
    const roomId = base.room!.id
    const mutation = fc.oneof(
      fc.record({ name: fc.constant('addParticipants' as const), ids: fc.array(fc.constantFrom('bob', 'carol', 'dave', 'alice'), { maxLength: 3 }) }),
      fc.record({ name: fc.constant('removeParticipants' as const), ids: fc.array(fc.constantFrom('bob', 'carol', 'dave'), { maxLength: 3 }) }),
      fc.record({ name: fc.constant('updateRoom' as const), key: fc.constantFrom('a', 'b'), value: fc.option(fc.string({ maxLength: 5 })) }),
    )
    fc.assert(
      fc.property(fc.array(mutation, { maxLength: 12 }), (ops) => {
        const pending = ops.map((o) =>
          o.name === 'updateRoom'
            ? m('updateRoom', { roomId, options: { [o.key]: o.value } })
            : m(o.name, { roomId, userIds: o.ids }),
        )
        const snapshot = JSON.stringify(base)
        const a = overlayRoom(base, pending, ctx)
        const b = overlayRoom(base, pending, ctx)
        expect(JSON.stringify(base)).toBe(snapshot)
        expect(a).toEqual(b)
        expect(a.room!.participantCount).toBe(a.participants!.length)
      }),
      { seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31), verbose: true },
    )
  })
})
