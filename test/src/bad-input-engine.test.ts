import { describe, expect, it } from 'vitest'
import { LIMITS } from '@parlor/protocol'
import { makeEngine, rejection, session, relayView, sharedRelay, signedIn, signedInMany, uid } from './harness.js'

const relay = sharedRelay()

describe('bad input to the engine', () => {
  it('rejects invalid arguments at once with a code, queues nothing, and keeps working', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const group = await alice.createGroupRoom('Fine', [bob.userId], { options: { a: '1' } })
    await alice.sendComment(group.id, 'ok')
    await alice.sync()
    const token = await session(relay(), alice.userId)
    const before = await relayView(relay(), token)
    const listBefore = await alice.loadRoomList({ show_empty: true, show_participants: true })

    const tooManyOptions = Object.fromEntries(Array.from({ length: LIMITS.maxOptionKeys + 1 }, (_, i) => [`k${i}`, 'v']))
    const cases: Array<[string, () => Promise<unknown>, string[]]> = [
      ['chatTarget with a malformed user id', () => alice.chatTarget('not:a:user'), ['validation']],
      ['group name too long', () => alice.createGroupRoom('n'.repeat(LIMITS.maxNameLength + 1), [bob.userId]), ['validation']],
      ['group user ids not strings', () => alice.createGroupRoom('x', [42 as unknown as string]), ['validation']],
      ['comment text too long', () => alice.sendComment(group.id, 'x'.repeat(LIMITS.maxCommentTextBytes + 1)), ['validation']],
      ['comment extras too large', () => alice.sendComment(group.id, 'x', { extras: { big: 'x'.repeat(LIMITS.maxCommentExtrasBytes + 1) } }), ['validation']],
      ['option value too long', () => alice.updateRoom({ id: group.id, options: { a: 'v'.repeat(LIMITS.maxOptionValueBytes + 1) } }), ['validation']],
      ['option value not a string', () => alice.updateRoom({ id: group.id, options: { a: 1 as unknown as string } }), ['validation']],
      ['too many option keys', () => alice.updateRoom({ id: group.id, options: tooManyOptions }), ['limit_exceeded', 'validation']],
      ['too many rooms in getRoomsInfo', () => alice.getRoomsInfo({ room_ids: Array.from({ length: LIMITS.maxRoomsPerRequest + 1 }, (_, i) => `g:x${i}`) }), ['validation']],
      ['show_empty not a boolean', () => alice.loadRoomList({ show_empty: 'yes' as unknown as boolean }), ['validation']],
      ['getRoomById of a non-id', () => alice.getRoomById('nonsense'), ['validation']],
      ['markAsRead with a negative id', () => alice.markAsRead(group.id, -1), ['validation']],
      ['getParticipants with a fractional page', () => alice.getParticipants(group.uniqueId, 1.5, 10), ['validation']],
    ]
    for (const [what, call, codes] of cases) {
      const err = await rejection(call())
      expect(err?.name, what).toBe('ParlorError')
      expect(codes, `${what}: got ${err?.code} (${err?.message})`).toContain(err.code)
    }

    expect(alice.status().pending).toBe(0)
    expect(await alice.loadRoomList({ show_empty: true, show_participants: true })).toEqual(listBefore)
    await alice.sync()
    expect(await relayView(relay(), token)).toEqual(before)

    // Still working.
    await alice.sendComment(group.id, 'still here')
    await alice.sync()
    const room = await alice.getRoomById(group.id)
    expect(room.comments.at(-1)).toMatchObject({ text: 'still here', status: 'sent' })
  })

  it('rejects setUser with a malformed user id or an empty key, and a wrong key with unauthorized', async () => {
    const engine = makeEngine(relay())
    expect(await rejection(engine.setUser('bad id', 'k'))).toMatchObject({ code: 'validation' })
    expect(await rejection(engine.setUser(uid('ok'), ''))).toMatchObject({ code: 'validation' })
    const existing = await signedIn(relay(), uid('exists'))
    expect(await rejection(engine.setUser(existing.userId, 'wrong-key'))).toMatchObject({ code: 'unauthorized' })
  })
})
