/** Conversions between SQLite rows and the relay's records. */
import type { CommentRecord, MutationResult, ParticipantRecord, RoomRecord } from '@parlor/protocol'
import type { UserRow } from './relay-storage.js'

type Row = Record<string, unknown>

const json = (v: unknown): string | null => (v === undefined || v === null ? null : JSON.stringify(v))
const parse = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : undefined)

export function userFromRow(r: Row): UserRow {
  return {
    userId: r.user_id as string,
    username: r.username as string,
    avatarUrl: r.avatar_url as string,
    keyHash: r.key_hash as string,
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
  }
}

export function userToRow(u: UserRow): Row {
  return {
    user_id: u.userId,
    username: u.username,
    avatar_url: u.avatarUrl,
    key_hash: u.keyHash,
    created_at: u.createdAt,
    updated_at: u.updatedAt,
  }
}

/** `prefix` selects aliased columns of a join (`r_id`, `r_name`, …). */
export function roomFromRow(r: Row, prefix = ''): RoomRecord {
  const c = (k: string) => r[prefix + k]
  return {
    id: c('id') as string,
    uniqueId: c('unique_id') as string,
    type: c('type') as RoomRecord['type'],
    name: c('name') as string,
    avatarUrl: c('avatar_url') as string,
    options: parse(c('options')) as Record<string, string>,
    participantCount: c('participant_count') as number,
    lastComment: (parse(c('last_comment')) as CommentRecord | undefined) ?? null,
    hasComments: c('has_comments') === 1,
    createdAt: c('created_at') as number,
    updatedAt: c('updated_at') as number,
    lastActivityAt: c('last_activity_at') as number,
    version: c('version') as number,
  }
}

export function roomToRow(x: RoomRecord): Row {
  return {
    id: x.id,
    unique_id: x.uniqueId,
    type: x.type,
    name: x.name,
    avatar_url: x.avatarUrl,
    options: JSON.stringify(x.options),
    participant_count: x.participantCount,
    last_comment: json(x.lastComment),
    has_comments: x.hasComments ? 1 : 0,
    created_at: x.createdAt,
    updated_at: x.updatedAt,
    last_activity_at: x.lastActivityAt,
    version: x.version,
  }
}

export function participantFromRow(r: Row, prefix = ''): ParticipantRecord {
  const c = (k: string) => r[prefix + k]
  return {
    roomId: c('room_id') as string,
    userId: c('user_id') as string,
    username: c('username') as string,
    avatarUrl: c('avatar_url') as string,
    joinedAt: c('joined_at') as number,
    lastReadCommentId: c('last_read_comment_id') as number,
    lastReceivedCommentId: c('last_received_comment_id') as number,
    isRemoved: c('is_removed') === 1,
    version: c('version') as number,
  }
}

/**
 * The order of participant lists, (joinedAt, userId), as SQLite sorts them (user ids are ASCII, so
 * comparing JS strings compares their bytes).
 */
export const byJoinOrder = (a: ParticipantRecord, b: ParticipantRecord): number =>
  a.joinedAt - b.joinedAt || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0)

export function participantToRow(p: ParticipantRecord): Row {
  return {
    room_id: p.roomId,
    user_id: p.userId,
    username: p.username,
    avatar_url: p.avatarUrl,
    joined_at: p.joinedAt,
    last_read_comment_id: p.lastReadCommentId,
    last_received_comment_id: p.lastReceivedCommentId,
    is_removed: p.isRemoved ? 1 : 0,
    version: p.version,
  }
}

export function commentFromRow(r: Row): CommentRecord {
  const c: CommentRecord = {
    id: r.id as number,
    uniqueId: r.unique_id as string,
    roomId: r.room_id as string,
    sender: { userId: r.sender_id as string, username: r.sender_name as string, avatarUrl: r.sender_avatar_url as string },
    text: r.text as string,
    type: r.type as CommentRecord['type'],
    timestamp: r.timestamp as number,
    seq: r.seq as number,
  }
  const payload = parse(r.payload)
  const extras = parse(r.extras)
  if (payload !== undefined) c.payload = payload as Record<string, unknown>
  if (extras !== undefined) c.extras = extras as Record<string, unknown>
  return c
}

export function commentToRow(c: CommentRecord): Row {
  return {
    room_id: c.roomId,
    id: c.id,
    unique_id: c.uniqueId,
    sender_id: c.sender.userId,
    sender_name: c.sender.username,
    sender_avatar_url: c.sender.avatarUrl,
    text: c.text,
    type: c.type,
    payload: json(c.payload),
    extras: json(c.extras),
    timestamp: c.timestamp,
    seq: c.seq,
  }
}

export const mutationResultFromText = (t: string): MutationResult => JSON.parse(t) as MutationResult
