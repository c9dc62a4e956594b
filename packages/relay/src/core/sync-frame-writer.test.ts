import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { utf8Length, type SyncFrame } from '@parlor/protocol'
import { SyncFrameWriter, type EncodedSyncFrame } from './sync-frame-writer.js'

const room = (id: string) => ({
  id, uniqueId: id, type: 'group' as const, name: `room ${id}`, avatarUrl: '', options: { k: 'v'.repeat(50) }, participantCount: 2,
  lastComment: null, hasComments: false, createdAt: 1, updatedAt: 1, lastActivityAt: 1, version: 1, unreadCount: 0, isRemoved: false,
})
const participant = (roomId: string, userId: string) => ({
  roomId, userId, username: userId, avatarUrl: '', joinedAt: 1, lastReadCommentId: 0, lastReceivedCommentId: 0, isRemoved: false, version: 1,
})
const comment = (roomId: string, id: number) => ({
  id, uniqueId: `${roomId}-${id}`, roomId, sender: { userId: 'a', username: 'a', avatarUrl: '' }, text: 'x'.repeat(100), type: 'text' as const, timestamp: 1, seq: id,
})

function frameOf(rooms: number, perRoom: number): SyncFrame {
  const ids = Array.from({ length: rooms }, (_, i) => `g:r${i}`)
  return {
    type: 'sync', userId: 'a', cursor: 42, isFull: true, epoch: 7,
    rooms: ids.map(room),
    participants: ids.flatMap((id) => [participant(id, 'a'), participant(id, 'b')]),
    comments: ids.flatMap((id) => Array.from({ length: perRoom }, (_, j) => comment(id, j + 1))),
  }
}

/** The frames the writer makes of a whole catch-up. */
function split(frame: SyncFrame, max?: number): EncodedSyncFrame[] {
  const { rooms, participants, comments, ...head } = frame
  const out: EncodedSyncFrame[] = []
  const writer = new SyncFrameWriter(head, (f) => out.push(f), max)
  for (const room of rooms) writer.add(room, participants.filter((p) => p.roomId === room.id), comments.filter((c) => c.roomId === room.id))
  writer.end()
  return out
}

describe('SyncFrameWriter', () => {
  it('keeps a small catch-up in one frame', () => {
    const f = frameOf(3, 2)
    const frames = split(f)
    expect(frames.map((p) => p.frame)).toEqual([f])
    expect(JSON.parse(frames[0]!.text)).toEqual(f)
  })

  it('hands a frame on as soon as the next room does not fit, before the catch-up ends', () => {
    const { rooms, participants, comments, ...head } = frameOf(40, 5)
    const out: EncodedSyncFrame[] = []
    const writer = new SyncFrameWriter(head, (f) => out.push(f), 8_000)
    let addedWhenFirst = -1
    rooms.forEach((room, i) => {
      writer.add(room, participants.filter((p) => p.roomId === room.id), comments.filter((c) => c.roomId === room.id))
      if (out.length > 0 && addedWhenFirst < 0) addedWhenFirst = i + 1
    })
    expect(addedWhenFirst).toBeGreaterThan(1)
    expect(addedWhenFirst).toBeLessThan(rooms.length)
    expect(JSON.parse(out[0]!.text)).toMatchObject({ more: true, rooms: rooms.slice(0, addedWhenFirst - 1) })
    writer.end()
    expect(out.at(-1)!.frame.more).toBeUndefined()
  })

  it('writes an empty catch-up as one frame', () => {
    const head = { type: 'sync' as const, userId: 'a', cursor: 42, isFull: true, epoch: 7 }
    const out: EncodedSyncFrame[] = []
    new SyncFrameWriter(head, (f) => out.push(f)).end()
    expect(out.map((f) => JSON.parse(f.text))).toEqual([{ ...head, rooms: [], participants: [], comments: [] }])
  })

  it('splits a large catch-up into frames within the limit that together hold everything, in order (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 4_000, max: 60_000 }), (rooms, perRoom, max) => {
        const f = frameOf(rooms, perRoom)
        const encoded = split(f, max)
        // What is sent is each frame's JSON, within the limit.
        for (const { frame, text } of encoded) {
          expect(utf8Length(text)).toBeLessThanOrEqual(max)
          expect(JSON.parse(text)).toEqual(frame)
        }
        const frames = encoded.map((p) => p.frame)
        expect(frames.slice(0, -1).every((p) => p.more === true)).toBe(true)
        expect(frames.at(-1)!.more).toBeUndefined()
        expect(frames.every((p) => p.cursor === 42 && p.isFull && p.epoch === 7)).toBe(true)
        expect(frames.flatMap((p) => p.rooms)).toEqual(f.rooms)
        expect(frames.flatMap((p) => p.participants)).toEqual(f.participants)
        // Comments survive whole unless one room alone exceeds a frame.
        const kept = frames.flatMap((p) => p.comments)
        expect(kept.every((c) => f.comments.includes(c))).toBe(true)
      }),
      { seed: 20261126, numRuns: 60 },
    )
  })
})
