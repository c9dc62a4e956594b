import { z } from 'zod'
import { mutationSchema } from './mutations.js'
import { querySchema } from './queries.js'
import { commentRecordSchema, memberRoomRecordSchema, participantRecordSchema, roomRecordSchema } from './records.js'
import { clientIdSchema, optionsStateSchema, storedText, userIdSchema } from './schemas.js'
import { LIMITS } from './limits.js'

// ---- up: engine → relay -------------------------------------------------------------------------

/** First frame on a socket: authenticates it and asks for everything since `cursor` (0 = all). */
export const helloFrame = z.strictObject({
  type: z.literal('hello'),
  protocolVersion: z.number().int(),
  token: z.string().min(1).max(LIMITS.maxTokenLength),
  cursor: z.number().int().nonnegative(),
  /** The relay database the cursor belongs to (from an earlier sync); another one means a full sync. */
  epoch: z.number().int().nonnegative().optional(),
  /** Mutations in the engine's outbox (not yet acknowledged) when it connects, for the relay's metrics. */
  pending: z.number().int().nonnegative().optional(),
})

/** A batch of queued mutations, applied in order, each answered in one `ack`. */
export const mutateFrame = z.strictObject({
  type: z.literal('mutate'),
  mutations: z.array(mutationSchema).min(1).max(LIMITS.maxMutationsPerFrame),
})

export const queryFrame = z.strictObject({
  type: z.literal('query'),
  id: z.number().int().nonnegative(),
  query: querySchema,
})

export const pingFrame = z.strictObject({ type: z.literal('ping') })

/**
 * Replaces the socket's session token before it expires, without reconnecting; answered by `authed`.
 * The new token must sign in the same user (another user is refused with `forbidden`).
 */
export const authFrame = z.strictObject({
  type: z.literal('auth'),
  token: z.string().min(1).max(LIMITS.maxTokenLength),
})

/**
 * The engine's outbox depth changed (mutations not yet acknowledged), for the relay's metrics.
 * Engines send it only when the depth changed, at most once per `LIMITS.outboxReportIntervalMs`;
 * it is not answered (a bad one is answered `error`, like any frame).
 */
export const reportFrame = z.strictObject({
  type: z.literal('report'),
  pending: z.number().int().nonnegative(),
})

export const upFrameSchema = z.discriminatedUnion('type', [helloFrame, mutateFrame, queryFrame, pingFrame, authFrame, reportFrame])
export type UpFrame = z.infer<typeof upFrameSchema>
/** Every `type` an up frame may have (so tests can check that each is covered). */
export const UP_FRAME_TYPES = upFrameSchema.options.map((o) => o.shape.type.value)

// ---- down: relay → engine -----------------------------------------------------------------------

const wireErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  retryAfterMs: z.number().optional(),
})

/**
 * Catch-up: every room the user is or was in that changed after the cursor, with their participants
 * (not for channels) and newest comments. `isFull` when the relay sent everything (cursor 0, or too
 * far behind), so the engine drops what the relay no longer lists.
 */
export const syncFrame = z.object({
  type: z.literal('sync'),
  userId: userIdSchema,
  cursor: z.number().int(),
  isFull: z.boolean(),
  /** Identifies the relay database; engines send it back in hello. */
  epoch: z.number().int().optional(),
  /** More frames of this same catch-up follow; the cursor counts once the last one is applied. */
  more: z.boolean().optional(),
  rooms: z.array(memberRoomRecordSchema),
  participants: z.array(participantRecordSchema),
  comments: z.array(commentRecordSchema),
})
export type SyncFrame = z.infer<typeof syncFrame>

/** A live change to one room, in relay commit order (`seq` increases). */
export const changeFrame = z.object({
  type: z.literal('change'),
  seq: z.number().int(),
  roomId: z.string(),
  room: roomRecordSchema.optional(),
  participants: z.array(participantRecordSchema).optional(),
  comments: z.array(commentRecordSchema).optional(),
  /**
   * What the change did to the room's options document (a Yjs v1 update, base64). A change that only
   * touched options carries no `room`; the engine applies the update to its copy of the document.
   */
  optionsUpdate: optionsStateSchema.optional(),
})
export type ChangeFrame = z.infer<typeof changeFrame>

export const mutationValueSchema = z.object({
  room: roomRecordSchema.optional(),
  participants: z.array(participantRecordSchema).optional(),
  removedUserIds: z.array(z.string()).optional(),
  comment: commentRecordSchema.optional(),
})
export type MutationValue = z.infer<typeof mutationValueSchema>

export const mutationResultSchema = z.union([
  z.object({ mutationId: clientIdSchema, ok: z.literal(true), value: mutationValueSchema }),
  z.object({ mutationId: clientIdSchema, ok: z.literal(false), error: wireErrorSchema }),
])
export type MutationResult = z.infer<typeof mutationResultSchema>

export const ackFrame = z.object({ type: z.literal('ack'), results: z.array(mutationResultSchema) })

export const resultFrame = z.union([
  z.object({ type: z.literal('result'), id: z.number().int(), ok: z.literal(true), value: z.unknown() }),
  z.object({ type: z.literal('result'), id: z.number().int(), ok: z.literal(false), error: wireErrorSchema }),
])

/** A frame-level refusal (bad frame, rate limit…); `ref` names the query id it answers, if any. */
export const errorFrame = z.object({ type: z.literal('error'), error: wireErrorSchema, ref: z.number().optional() })
export const pongFrame = z.object({ type: z.literal('pong') })

/**
 * The answer to `auth`: the socket now runs on the new token (valid until `expiresAt`), or it keeps
 * its old one and `error` says why (`unauthorized`, `token_expired`, `forbidden` for another user).
 */
export const authedFrame = z.union([
  z.object({ type: z.literal('authed'), ok: z.literal(true), userId: z.string(), expiresAt: z.number() }),
  z.object({ type: z.literal('authed'), ok: z.literal(false), error: wireErrorSchema }),
])
export type AuthedFrame = z.infer<typeof authedFrame>

export const downFrameSchema = z.union([syncFrame, changeFrame, ackFrame, resultFrame, errorFrame, pongFrame, authedFrame])
export type DownFrame = z.infer<typeof downFrameSchema>

// ---- HTTP ---------------------------------------------------------------------------------------

/** `POST /v1/session`: registers the user on first use, else checks the key; answers a token. */
export const sessionRequestSchema = z.strictObject({
  userId: userIdSchema,
  userKey: z.string().min(1).max(LIMITS.maxUserKeyLength),
  username: storedText(LIMITS.maxUsernameLength).optional(),
  avatarUrl: storedText(LIMITS.maxUrlLength).optional(),
})
export type SessionRequest = z.infer<typeof sessionRequestSchema>

export const sessionResponseSchema = z.object({
  token: z.string(),
  expiresAt: z.number(),
  user: z.object({ userId: z.string(), username: z.string(), avatarUrl: z.string() }),
})
export type SessionResponse = z.infer<typeof sessionResponseSchema>

/** `POST /v1/logout` (Bearer): revokes the token's session on the relay; its sockets close. */
export const logoutResponseSchema = z.object({ ok: z.literal(true) })
export type LogoutResponse = z.infer<typeof logoutResponseSchema>

/** `POST /v1/mutations`: the HTTP twin of the `mutate` frame. */
export const mutationsRequestSchema = mutateFrame.omit({ type: true })
/** `POST /v1/query`: the HTTP twin of the `query` frame. */
export const queryRequestSchema = querySchema

export { wireErrorSchema }
