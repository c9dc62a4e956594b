export { LIMITS, USER_ID_PATTERN, CHANNEL_ID_PATTERN, CLIENT_ID_PATTERN, utf8Length } from './limits.js'
export {
  ERROR_CODES,
  ParlorError,
  isParlorError,
  isErrorCode,
  toParlorError,
  type ErrorCode,
  type WireError,
  type ParlorErrorOptions,
} from './errors.js'
export {
  singleRoomId,
  channelRoomId,
  groupRoomId,
  roomIdFromUniqueId,
  roomTypeOf,
  isUserId,
  isChannelUniqueId,
  type UserId,
  type RoomId,
  type MutationId,
  type RoomType,
} from './ids.js'
export type {
  Room,
  Participant,
  Comment,
  CommentType,
  CommentStatus,
  RoomOptions,
  UserProfile,
  SystemEventKind,
} from './model.js'
export { checkOptions, checkOptionEntry, applyOptionsPatch, diffOptions, type OptionsPatch } from './options.js'
export {
  userIdSchema,
  roomIdSchema,
  channelUniqueIdSchema,
  clientIdSchema,
  optionsSchema,
  optionsPatchSchema,
  userIdsSchema,
} from './schemas.js'
export {
  MUTATION_ARGS,
  mutationSchema,
  type Mutation,
  type MutationOf,
  type MutationName,
  type MutationArgs,
} from './mutations.js'
export {
  commentRecordSchema,
  roomRecordSchema,
  participantRecordSchema,
  memberRoomRecordSchema,
  type CommentRecord,
  type RoomRecord,
  type ParticipantRecord,
  type MemberRoomRecord,
} from './records.js'
export {
  querySchema,
  roomByIdValueSchema,
  participantsValueSchema,
  commentsValueSchema,
  type Query,
  type QueryName,
  type QueryValues,
  type RoomByIdValue,
  type ParticipantsValue,
  type CommentsValue,
} from './queries.js'
export {
  upFrameSchema,
  downFrameSchema,
  syncFrame,
  changeFrame,
  ackFrame,
  resultFrame,
  errorFrame,
  mutationResultSchema,
  mutationValueSchema,
  sessionRequestSchema,
  sessionResponseSchema,
  mutationsRequestSchema,
  queryRequestSchema,
  wireErrorSchema,
  type UpFrame,
  type DownFrame,
  type SyncFrame,
  type ChangeFrame,
  type MutationResult,
  type MutationValue,
  type SessionRequest,
  type SessionResponse,
} from './frames.js'
export { PROTOCOL_VERSION, CLOSE_CODES, parseWith, parseJson, encodeFrame, decodeUpFrame, decodeDownFrame } from './codec.js'
export { noopLogger, type Logger } from './logger.js'
