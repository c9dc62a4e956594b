import { describe, expect, it } from 'vitest'
import type { CommentRecord, SyncFrame } from '@parlor/protocol'
import { fitSyncFrame } from './fit-sync-frame.js'

const comment = (roomId: string, id: number, text = 'x'.repeat(100)): CommentRecord => ({
  id, uniqueId: `u${id}`, roomId, sender: { userId: 'a', username: 'a', avatarUrl: '' }, text, type: 'text', timestamp: 0, seq: id,
})
const frame = (comments: CommentRecord[]): SyncFrame => ({ type: 'sync', userId: 'a', cursor: 1, isFull: true, rooms: [], participants: [], comments })

describe('fitSyncFrame', () => {
  it('leaves a frame that fits alone', () => {
    const f = frame([comment('g:1', 1)])
    expect(fitSyncFrame(f)).toEqual({ frame: f, isTrimmed: false })
  })

  it('keeps the newest comments of every room until the frame fits', () => {
    const comments = ['g:1', 'g:2'].flatMap((roomId) => Array.from({ length: 20 }, (_, i) => comment(roomId, i + 1)))
    const size = JSON.stringify(frame(comments)).length
    const { frame: fitted, isTrimmed } = fitSyncFrame(frame(comments), Math.floor(size / 3))
    expect(isTrimmed).toBe(true)
    expect(fitted.comments.map((c) => `${c.roomId}#${c.id}`)).toEqual(
      ['g:1', 'g:2'].flatMap((r) => [16, 17, 18, 19, 20].map((id) => `${r}#${id}`)),
    )
    expect(fitSyncFrame(frame(comments), 300).frame.comments).toEqual([])
  })
})
