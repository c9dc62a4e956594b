import { z } from 'zod'
import { LIMITS } from './limits.js'
import { commentRecordSchema, memberRoomRecordSchema, participantRecordSchema } from './records.js'
import { commentIdSchema, roomIdSchema } from './schemas.js'

/**
 * Reads the engine sends to the relay only for what its cache has never held: a channel opened by
 * id, a page of a channel's participants, comments older than the cached ones.
 */
export const getRoomByIdQuery = z.strictObject({ name: z.literal('getRoomById'), args: z.strictObject({ roomId: roomIdSchema }) })

export const getParticipantsQuery = z.strictObject({
  name: z.literal('getParticipants'),
  args: z.strictObject({
    roomUniqueId: z.string().min(1).max(2 * LIMITS.maxIdLength + 3).regex(/^[A-Za-z0-9._:~@+-]+$/, 'not a room unique id'),
    page: z.number().int().min(1).max(1_000_000),
    limit: z.number().int().min(1).max(LIMITS.maxParticipantsLimit),
  }),
})

export const loadCommentsQuery = z.strictObject({
  name: z.literal('loadComments'),
  args: z.strictObject({
    roomId: roomIdSchema,
    before: commentIdSchema.optional(),
    limit: z.number().int().min(1).max(LIMITS.maxCommentsLimit),
  }),
})

export const querySchema = z.discriminatedUnion('name', [getRoomByIdQuery, getParticipantsQuery, loadCommentsQuery])
export type Query = z.infer<typeof querySchema>
export type QueryName = Query['name']

/** What each query answers with. */
export const roomByIdValueSchema = z.object({
  room: memberRoomRecordSchema,
  /** The newest comments, oldest first. */
  comments: z.array(commentRecordSchema),
  /** Empty for channels (their lists can be long: page them with getParticipants). */
  participants: z.array(participantRecordSchema),
  /** Whether the caller is an active participant. */
  isParticipant: z.boolean(),
})
export type RoomByIdValue = z.infer<typeof roomByIdValueSchema>
export const participantsValueSchema = z.object({ participants: z.array(participantRecordSchema) })
export type ParticipantsValue = z.infer<typeof participantsValueSchema>
export const commentsValueSchema = z.object({ comments: z.array(commentRecordSchema) })
export type CommentsValue = z.infer<typeof commentsValueSchema>

export interface QueryValues {
  getRoomById: RoomByIdValue
  getParticipants: ParticipantsValue
  loadComments: CommentsValue
}
