import type { RoomType } from './ids.js'

/** String key–value metadata every participant of a room sees (background colour, lat/lng, …). */
export type RoomOptions = Record<string, string>

export type CommentType = 'text' | 'custom' | 'system_event'
export type CommentStatus = 'pending' | 'sent' | 'delivered' | 'read' | 'failed'

/** A user as other users see them. */
export interface UserProfile {
  userId: string
  username: string
  avatarUrl: string
}

export interface Comment {
  /** Relay-assigned, increasing within a room; absent while the comment is pending. */
  id?: number
  /** Client-made dedup key. */
  uniqueId: string
  roomId: string
  sender: UserProfile
  text: string
  type: CommentType
  payload?: Record<string, unknown>
  extras?: Record<string, unknown>
  /** Milliseconds since the epoch: relay time once stored, client time while pending. */
  timestamp: number
  status: CommentStatus
}

export interface Participant {
  userId: string
  username: string
  avatarUrl: string
  lastReadCommentId: number
  lastReceivedCommentId: number
}

export interface Room {
  id: string
  uniqueId: string
  type: RoomType
  name: string
  avatarUrl: string
  options: RoomOptions
  participants?: Participant[]
  participantCount: number
  lastComment?: Comment
  unreadCount: number
  isRemoved: boolean
  syncState: 'pending' | 'synced'
  createdAt: number
  updatedAt: number
}

/** System-event payloads, as they appear in `Comment.payload` of `system_event` comments. */
export type SystemEventKind =
  | 'create'
  | 'add_member'
  | 'remove_member'
  | 'join'
  | 'left'
  | 'change_name'
  | 'change_avatar'
