import { z } from 'zod'
import { BASE64_PATTERN, CHANNEL_ID_PATTERN, CLIENT_ID_PATTERN, LIMITS, USER_ID_PATTERN, utf8Length } from './limits.js'

/** Building blocks shared by the message schemas. */
export const userIdSchema = z.string().regex(USER_ID_PATTERN, 'a user id is 1–128 characters of A–Z a–z 0–9 . _ @ + -')
/** A room id: `s:`, `g:` or `c:` and what user, client and channel ids are made of (see ids.ts). */
export const ROOM_ID_PATTERN = /^[sgc]:[A-Za-z0-9._:~@+-]+$/
export const roomIdSchema = z.string().min(3).max(2 * LIMITS.maxIdLength + 3).regex(ROOM_ID_PATTERN, 'not a room id')
export const channelUniqueIdSchema = z
  .string()
  .regex(CHANNEL_ID_PATTERN, 'a channel unique id is 1–128 characters of A–Z a–z 0–9 . _ : -')
  .refine((s) => !/^[sg]:/.test(s), 'a channel unique id may not start with "s:" or "g:"')
export const clientIdSchema = z.string().regex(CLIENT_ID_PATTERN, 'an id is 1–128 characters of A–Z a–z 0–9 . _ : ~ -')
/**
 * Text the relay stores as it is (names, URLs, comments) holds no NUL character: PostgreSQL cannot
 * store one in text, and every store must answer the same.
 */
export const storedText = (max?: number) => {
  const text = max === undefined ? z.string() : z.string().max(max)
  return text.refine((s) => !s.includes('\u0000'), 'text may not contain the NUL character (U+0000)')
}
export const nameSchema = storedText(LIMITS.maxNameLength)
export const urlSchema = storedText(LIMITS.maxUrlLength)
export const timestampSchema = z.number().int().nonnegative()
export const commentIdSchema = z.number().int().nonnegative()
export const userIdsSchema = z
  .array(userIdSchema)
  .max(LIMITS.maxUserIdsPerCall, `at most ${LIMITS.maxUserIdsPerCall} user ids per call`)

const jsonBytes = (max: number) => (v: unknown) => utf8Length(JSON.stringify(v)) <= max
export const jsonObjectSchema = z
  .record(z.string(), z.unknown())
  .refine(jsonBytes(LIMITS.maxCommentExtrasBytes), `at most ${LIMITS.maxCommentExtrasBytes} bytes of JSON`)

/** Option values are strings; entry and map limits are checked by `checkOptions`. */
export const optionsSchema = z.record(z.string(), z.string())
export const optionsPatchSchema = z.record(z.string(), z.string().nullable())
/** A Yjs v1 update (or state) of a room's options document, as base64; its content is checked by `validateOptionsUpdate`. */
export const optionsUpdateSchema = z
  .string()
  .min(1)
  .max(Math.ceil(LIMITS.maxOptionsUpdateBytes / 3) * 4, `an options update may take at most ${LIMITS.maxOptionsUpdateBytes} bytes`)
  .regex(BASE64_PATTERN, 'an options update is base64 text')
/** A whole options document as base64 (sync frames, getRoomById). */
export const optionsStateSchema = z.string().max(Math.ceil(LIMITS.maxOptionsDocBytes / 3) * 4 + 4).regex(BASE64_PATTERN, 'an options state is base64 text')
export const commentTextSchema = storedText().refine(
  (s) => utf8Length(s) <= LIMITS.maxCommentTextBytes,
  `a comment is at most ${LIMITS.maxCommentTextBytes} bytes`,
)
