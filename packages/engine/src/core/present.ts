import type { Comment, CommentRecord, Participant, Room } from '@parlor/protocol'
import type { ParticipantRow } from '../store/rows.js'
import type { PendingComment, VisibleRoom } from './overlay.js'

/** Turns a stored comment into the public `Comment`. */
export function toComment(c: CommentRecord, status: Comment['status'] = 'sent'): Comment {
  const out: Comment = {
    id: c.id,
    uniqueId: c.uniqueId,
    roomId: c.roomId,
    sender: c.sender,
    text: c.text,
    type: c.type,
    timestamp: c.timestamp,
    status,
  }
  if (c.payload) out.payload = c.payload
  if (c.extras) out.extras = c.extras
  return out
}

export function pendingToComment(c: PendingComment): Comment {
  return { ...c, status: 'pending' }
}

export function toParticipant(p: ParticipantRow): Participant {
  return {
    userId: p.userId,
    username: p.username,
    avatarUrl: p.avatarUrl,
    lastReadCommentId: p.lastReadCommentId,
    lastReceivedCommentId: p.lastReceivedCommentId,
  }
}

/**
 * Delivery status of my own comment from the other participants' pointers: `read` when all have read
 * it, `delivered` when all have received it (only known for rooms whose participants are cached).
 */
export function statusFor(c: CommentRecord, me: string, participants: readonly ParticipantRow[] | undefined): Comment['status'] {
  if (c.sender.userId !== me || !participants) return 'sent'
  const others = participants.filter((p) => p.userId !== me)
  if (others.length === 0) return 'sent'
  if (others.every((p) => p.lastReadCommentId >= c.id)) return 'read'
  if (others.every((p) => p.lastReceivedCommentId >= c.id)) return 'delivered'
  return 'sent'
}

export interface PresentOptions {
  me: string
  showParticipants: boolean
  /** Display name of a user, for 1-on-1 rooms (named after the other user). */
  usernameOf(userId: string): string
}

/** Builds the public `Room` from a visible room; undefined when there is none. */
export function toRoom(v: VisibleRoom, opts: PresentOptions): Room | undefined {
  const r = v.room
  if (!r) return undefined
  const lastPending = v.pendingComments.at(-1)
  const room: Room = {
    id: r.id,
    uniqueId: r.uniqueId,
    type: r.type,
    name: r.type === 'single' && r.name === '' ? opts.usernameOf(otherUserOf(r.id, opts.me)) : r.name,
    avatarUrl: r.avatarUrl,
    options: { ...r.options },
    participantCount: r.participantCount,
    unreadCount: r.unreadCount,
    isRemoved: r.isRemoved,
    syncState: v.pendingCount > 0 ? 'pending' : 'synced',
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  }
  if (lastPending) room.lastComment = pendingToComment(lastPending)
  else if (r.lastComment) room.lastComment = toComment(r.lastComment, statusFor(r.lastComment, opts.me, v.participants))
  if (opts.showParticipants && r.type !== 'channel' && v.participants) room.participants = v.participants.map(toParticipant)
  return room
}

/** The other user of a 1-on-1 room id `s:<a>:<b>`. */
export function otherUserOf(roomId: string, me: string): string {
  const [, a = '', b = ''] = roomId.split(':')
  return a === me ? b : a
}
