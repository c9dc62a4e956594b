import { applyOptionsPatch, type Mutation, type UserProfile } from '@parlor/protocol'
import type { CommentRow, ParticipantRow, RoomRow } from '../store/rows.js'

/** The base (last relay state) of one room, as far as a read needs it. */
export interface RoomBase {
  room: RoomRow | undefined
  /** Base participant rows (active and removed); undefined when the read does not need them. */
  participants?: ParticipantRow[]
  /** Base comments the read has loaded (used to dedupe pending comments and recount unread). */
  comments?: CommentRow[]
}

/** A comment made on this device that the relay has not stored yet. */
export interface PendingComment {
  uniqueId: string
  roomId: string
  sender: UserProfile
  text: string
  type: 'text' | 'custom'
  payload?: Record<string, unknown>
  extras?: Record<string, unknown>
  timestamp: number
}

/** A room as the user sees it: the base with pending mutations applied in order on top. */
export interface VisibleRoom {
  room: RoomRow | undefined
  /** Active participants, in stable order (join time, then id); undefined if not loaded. */
  participants?: ParticipantRow[]
  pendingComments: PendingComment[]
  /** How many queued mutations touch this room. */
  pendingCount: number
}

export interface OverlayContext {
  me: UserProfile
  /** Profiles known to the cache, for participants added while offline. */
  profileOf(userId: string): UserProfile
}

/**
 * Applies pending mutations, in order, on top of a room's base. Pure: the engine calls it on every
 * read, so the visible state is always "last relay state + pending mutations" (rebase for free).
 * Neither `base` nor `pending` is changed, and nothing of `pending` is shared with the result.
 */
export function overlayRoom(base: RoomBase, pending: readonly Mutation[], ctx: OverlayContext): VisibleRoom {
  let room = base.room ? { ...base.room } : undefined
  const people = base.participants ? new Map(base.participants.map((p) => [p.userId, p])) : undefined
  const baseUniqueIds = new Set(base.comments?.map((c) => c.uniqueId))
  const pendingComments: PendingComment[] = []

  const join = (userId: string, at: number) => {
    const current = people?.get(userId)
    if (current && !current.isRemoved) return false
    const profile = userId === ctx.me.userId ? ctx.me : ctx.profileOf(userId)
    people?.set(userId, {
      roomId: room!.id,
      userId,
      username: profile.username,
      avatarUrl: profile.avatarUrl,
      joinedAt: current?.joinedAt ?? at,
      lastReadCommentId: current?.lastReadCommentId ?? 0,
      lastReceivedCommentId: current?.lastReceivedCommentId ?? 0,
      isRemoved: false,
      version: current?.version ?? 0,
    })
    return true
  }
  const isActive = (userId: string) => {
    const p = people?.get(userId)
    return p !== undefined && !p.isRemoved
  }

  for (const m of pending) {
    switch (m.name) {
      case 'chatTarget': {
        room ??= newRoomRow(m.args.roomId, m.args.roomId, 'single', '', '', m.args.options ?? {}, m.createdAt, 2)
        setRemoved(room, false)
        join(ctx.me.userId, m.createdAt)
        join(m.args.userId, m.createdAt)
        break
      }
      case 'createGroupRoom': {
        if (room) break
        const ids = dedupe([ctx.me.userId, ...m.args.userIds])
        room = newRoomRow(m.args.roomId, m.args.roomId, 'group', m.args.name, m.args.avatarUrl ?? '', m.args.options ?? {}, m.createdAt, ids.length)
        for (const id of ids) join(id, m.createdAt)
        break
      }
      case 'getOrCreateChannel': {
        const { roomId, uniqueId, name, avatarUrl, options } = m.args
        if (!room) {
          room = newRoomRow(roomId, uniqueId, 'channel', name ?? uniqueId, avatarUrl ?? '', options ?? {}, m.createdAt, 1)
          join(ctx.me.userId, m.createdAt)
          break
        }
        if (name !== undefined) room.name = name
        if (avatarUrl !== undefined) room.avatarUrl = avatarUrl
        if (room.isRemoved) {
          setRemoved(room, false)
          room.participantCount++
        }
        join(ctx.me.userId, m.createdAt)
        break
      }
      case 'updateRoom': {
        if (!room) break
        if (m.args.name !== undefined) room.name = m.args.name
        if (m.args.avatarUrl !== undefined) room.avatarUrl = m.args.avatarUrl
        if (m.args.options) {
          try {
            room.options = applyOptionsPatch(room.options, m.args.options)
          } catch {
            // Over the limits: the relay will refuse it, and the refusal removes the mutation.
          }
        }
        break
      }
      case 'updateOptions':
        // Options documents are merged by the reader (the relay's document + pending updates).
        break
      case 'addParticipants': {
        if (!room) break
        for (const id of dedupe(m.args.userIds)) {
          if (people ? join(id, m.createdAt) : true) room.participantCount++
        }
        break
      }
      case 'removeParticipants': {
        if (!room) break
        for (const id of dedupe(m.args.userIds)) {
          if (people && !isActive(id)) continue
          const p = people?.get(id)
          if (p) people!.set(id, { ...p, isRemoved: true })
          room.participantCount = Math.max(0, room.participantCount - 1)
          if (id === ctx.me.userId) setRemoved(room, true)
        }
        break
      }
      case 'sendComment': {
        if (!room || baseUniqueIds.has(m.args.uniqueId)) break
        const { roomId, uniqueId, text, type, payload, extras } = m.args
        // Copies: the reader shares queued mutations between reads (what it returns is the caller's).
        pendingComments.push({ uniqueId, roomId, sender: ctx.me, text, type, timestamp: m.createdAt, ...(payload && { payload: structuredClone(payload) }), ...(extras && { extras: structuredClone(extras) }) })
        room.lastActivityAt = Math.max(room.lastActivityAt, m.createdAt)
        room.hasComments = true
        room.hasCommentsKey = 1
        break
      }
      case 'markAsRead': {
        if (!room || m.args.commentId <= room.lastReadCommentId) break
        room.lastReadCommentId = m.args.commentId
        if (base.comments) {
          const unread = base.comments.filter((c) => isUnreadFor(c, ctx.me.userId, m.args.commentId)).length
          room.unreadCount = Math.min(room.unreadCount, unread)
        }
        break
      }
    }
  }

  const participants = people && [...people.values()].filter((p) => !p.isRemoved).sort(byJoinOrder)
  return { room, ...(participants && { participants }), pendingComments, pendingCount: pending.length }
}

/** Whether a comment counts as unread for `userId` with read pointer `lastRead`. */
export function isUnreadFor(c: CommentRow, userId: string, lastRead: number): boolean {
  return c.type !== 'system_event' && c.sender.userId !== userId && c.id > lastRead
}

/** Stable participant order: join time, then user id (SPEC getParticipants). */
export function byJoinOrder(a: ParticipantRow, b: ParticipantRow): number {
  return a.joinedAt - b.joinedAt || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0)
}

function setRemoved(room: RoomRow, isRemoved: boolean) {
  room.isRemoved = isRemoved
  room.removedKey = isRemoved ? 1 : 0
}

function dedupe(ids: readonly string[]): string[] {
  return [...new Set(ids)]
}

function newRoomRow(
  id: string,
  uniqueId: string,
  type: RoomRow['type'],
  name: string,
  avatarUrl: string,
  options: Record<string, string>,
  at: number,
  participantCount: number,
): RoomRow {
  return {
    id,
    uniqueId,
    type,
    name,
    avatarUrl,
    options: { ...options },
    participantCount,
    lastComment: null,
    hasComments: false,
    createdAt: at,
    updatedAt: at,
    lastActivityAt: at,
    version: 0,
    unreadCount: 0,
    isRemoved: false,
    lastReadCommentId: 0,
    removedKey: 0,
    hasCommentsKey: 0,
  }
}
