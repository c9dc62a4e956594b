import { z } from 'zod'
import { optionsStateSchema } from './schemas.js'

/**
 * Rows as the relay sends them. `version`/`seq` come from the relay's global change counter and let
 * the engine ignore stale rows and resume catch-up from a cursor.
 */
export const userProfileSchema = z.object({ userId: z.string(), username: z.string(), avatarUrl: z.string() })

export const commentRecordSchema = z.object({
  id: z.number().int(),
  uniqueId: z.string(),
  roomId: z.string(),
  sender: userProfileSchema,
  text: z.string(),
  type: z.enum(['text', 'custom', 'system_event']),
  payload: z.record(z.string(), z.unknown()).optional(),
  extras: z.record(z.string(), z.unknown()).optional(),
  timestamp: z.number(),
  seq: z.number().int(),
})
export type CommentRecord = z.infer<typeof commentRecordSchema>

export const roomRecordSchema = z.object({
  id: z.string(),
  uniqueId: z.string(),
  type: z.enum(['single', 'group', 'channel']),
  name: z.string(),
  avatarUrl: z.string(),
  options: z.record(z.string(), z.string()),
  participantCount: z.number().int(),
  lastComment: commentRecordSchema.nullable(),
  /** Whether the room has a comment that is not a system event (loadRoomList's `show_empty`). */
  hasComments: z.boolean(),
  createdAt: z.number(),
  updatedAt: z.number(),
  lastActivityAt: z.number(),
  version: z.number().int(),
})
export type RoomRecord = z.infer<typeof roomRecordSchema>

export const participantRecordSchema = z.object({
  roomId: z.string(),
  userId: z.string(),
  username: z.string(),
  avatarUrl: z.string(),
  joinedAt: z.number(),
  lastReadCommentId: z.number().int(),
  lastReceivedCommentId: z.number().int(),
  isRemoved: z.boolean(),
  version: z.number().int(),
})
export type ParticipantRecord = z.infer<typeof participantRecordSchema>

/** A room as one user sees it in a catch-up: the room plus that user's own counters. */
export const memberRoomRecordSchema = roomRecordSchema.extend({
  unreadCount: z.number().int(),
  isRemoved: z.boolean(),
  /**
   * The room's whole options document (Yjs v1 state, base64) where the reader needs it: in a
   * catch-up for rooms whose options changed after the cursor (every room in a full one), in a
   * room-scoped sync, and in getRoomById. `options` is the same map, materialized.
   */
  optionsState: optionsStateSchema.optional(),
})
export type MemberRoomRecord = z.infer<typeof memberRoomRecordSchema>
