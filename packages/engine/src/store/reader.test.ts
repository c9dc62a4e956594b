/**
 * Reads over a cache where the relay's echo of a queued comment was stored before the ack that
 * settles it (changes and ack can land in different transactions): every read shows such a comment
 * once, as the relay stored it.
 */
import { describe, expect, it } from 'vitest'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import type { ChangeFrame, CommentRecord, Mutation } from '@parlor/protocol'
import { openDb } from './db.js'
import { Reader } from './reader.js'
import { Writer } from './writer.js'

const me = { userId: 'alice', username: 'Alice', avatarUrl: '' }
const roomId = 'g:room'

const room = (version: number, lastComment: CommentRecord | null) => ({
  id: roomId, uniqueId: roomId, type: 'group' as const, name: 'R', avatarUrl: '', options: {}, participantCount: 1,
  lastComment, hasComments: lastComment !== null, createdAt: 1, updatedAt: version, lastActivityAt: version, version,
})
const stored = (n: number): CommentRecord => ({
  id: n, uniqueId: `u${n}`, roomId, sender: me, text: `c${n}`, type: 'text', timestamp: 100 + n, seq: 1 + n,
})
const queued = (n: number): Mutation => ({ id: `m${n}`, name: 'sendComment', args: { roomId, uniqueId: `u${n}`, text: `c${n}`, type: 'text' }, createdAt: 100 + n })
/** The relay's change for comment n (its room row names it as the newest). */
const echo = (n: number): ChangeFrame => ({ type: 'change', seq: 1 + n, roomId, room: room(1 + n, stored(n)), comments: [stored(n)] })

describe('reads with queued comments the relay already sent back', () => {
  it('show each comment once, as stored, and the newest comment of the room as the list shows it', async () => {
    const db = openDb('echo-before-ack', { indexedDB: new IDBFactory(), IDBKeyRange })
    const writer = new Writer(db, () => me.userId)
    const reader = new Reader(db, () => me)
    await writer.applyChanges([{ type: 'change', seq: 1, roomId, room: room(1, null), participants: [
      { roomId, userId: 'alice', username: 'Alice', avatarUrl: '', joinedAt: 1, lastReadCommentId: 0, lastReceivedCommentId: 0, isRemoved: false, version: 1 },
    ] }])
    for (const n of [1, 2, 3]) await db.outbox.add({ id: `m${n}`, roomId, mutation: queued(n), createdAt: 100 + n, attempts: 0 })

    // The echoes of 1 and 2 are stored; their acks (and 3's echo) have not come yet.
    await writer.applyChanges([echo(1), echo(2)])
    const shown = async () => (await reader.comments(roomId, { limit: 50 })).map((c) => `${c.uniqueId}:${c.status}`)
    expect(await shown()).toEqual(['u1:sent', 'u2:sent', 'u3:pending'])
    expect((await reader.roomWithComments(roomId, 50))?.comments.map((c) => c.uniqueId)).toEqual(['u1', 'u2', 'u3'])
    const [listed] = await reader.rooms([roomId])
    expect([listed?.lastComment?.uniqueId, listed?.lastComment?.status, listed?.syncState]).toEqual(['u3', 'pending', 'pending'])

    // Now the newest queued one is stored too.
    await writer.applyChanges([echo(3)])
    expect(await shown()).toEqual(['u1:sent', 'u2:sent', 'u3:sent'])
    const [after] = await reader.rooms([roomId])
    expect([after?.lastComment?.uniqueId, after?.lastComment?.status]).toEqual(['u3', 'sent'])
    db.close()
  })
})
