import type { CommentRecord, MemberRoomRecord, Mutation, ParticipantRecord, RoomOptions, UserProfile, WireError } from '@parlor/protocol'

/**
 * Rows of the engine's IndexedDB database. The `rooms`, `participants` and `comments` tables hold
 * the last state the relay sent (the *base*); pending changes live only in `outbox`, and every read
 * applies them on top (see core/overlay.ts). Writing an outbox row is therefore the optimistic change
 * itself, and a rollback is its deletion: nothing can drift.
 */
export interface RoomRow extends Omit<MemberRoomRecord, 'optionsState'> {
  /** This user's read pointer in the room. */
  lastReadCommentId: number
  /** 0/1 copies of booleans, since IndexedDB cannot index booleans. */
  removedKey: 0 | 1
  hasCommentsKey: 0 | 1
}

export type ParticipantRow = ParticipantRecord

/**
 * A room's options document as the relay last sent it (`state`, a Yjs v1 update; merged and
 * compacted as updates arrive). Updates made here live in the outbox until the relay acknowledges
 * them, then are merged in: `state` never holds what the relay has not accepted, so compacting it
 * can never lose a pending change, and refusing one is just dropping its outbox row.
 */
export interface OptionsDocRow {
  roomId: string
  state: Uint8Array
  /** The highest relay seq whose options change `state` holds (0 when unknown). */
  seq: number
  /** The map `state` holds (so reads without pending updates need no Yjs). */
  options: RoomOptions
}
export type CommentRow = CommentRecord

/** A queued mutation, in the order it was made (`seq`). */
export interface OutboxRow {
  seq?: number
  id: string
  roomId: string
  mutation: Mutation
  createdAt: number
  attempts: number
  lastError?: WireError
  /** Epoch ms before which the mutation is not sent again (backoff after a transient failure). */
  notBefore?: number
}

export interface SessionRow {
  key: 'session'
  user: UserProfile
  token: string
  expiresAt: number
  /** SHA-256 of the user id and key, so a later setUser can be checked without the relay. */
  keyCheck?: string
}

export interface CursorRow {
  key: 'cursor'
  cursor: number
  /** The relay database the cursor belongs to. */
  epoch?: number
  lastSyncAt: number
}

/** The lease of the engine (tab) that runs the socket and outbox, where Web Locks are missing. */
export interface LeaderRow {
  key: 'leader'
  owner: string
  expiresAt: number
}

export type MetaRow = SessionRow | CursorRow | LeaderRow

export type UserRow = UserProfile
