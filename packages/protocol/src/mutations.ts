import { z } from 'zod'
import {
  channelUniqueIdSchema,
  clientIdSchema,
  commentIdSchema,
  commentTextSchema,
  jsonObjectSchema,
  nameSchema,
  optionsPatchSchema,
  optionsSchema,
  optionsUpdateSchema,
  roomIdSchema,
  timestampSchema,
  urlSchema,
  userIdSchema,
  userIdsSchema,
} from './schemas.js'

/**
 * One schema per mutation. A mutation is what the outbox stores and the relay applies at most once
 * per (user, mutation id). Room ids are always client-known (see `ids.ts`).
 */
export const chatTargetArgs = z.strictObject({
  roomId: roomIdSchema,
  userId: userIdSchema,
  options: optionsSchema.optional(),
})

export const createGroupRoomArgs = z.strictObject({
  roomId: roomIdSchema,
  name: nameSchema,
  userIds: userIdsSchema,
  avatarUrl: urlSchema.optional(),
  options: optionsSchema.optional(),
})

export const getOrCreateChannelArgs = z.strictObject({
  roomId: roomIdSchema,
  uniqueId: channelUniqueIdSchema,
  name: nameSchema.optional(),
  avatarUrl: urlSchema.optional(),
  options: optionsSchema.optional(),
})

/** `options` is a patch: a string sets a key, null deletes it; keys not named are left alone. */
export const updateRoomArgs = z.strictObject({
  roomId: roomIdSchema,
  name: nameSchema.optional(),
  avatarUrl: urlSchema.optional(),
  options: optionsPatchSchema.optional(),
})

/**
 * Changes a room's options document: `update` is a Yjs v1 update (base64) of the document whose
 * structure `options-doc.ts` describes. The relay checks it against its copy (structure, limits) and
 * refuses the whole update otherwise. Any active participant may send one (1-on-1 rooms included).
 */
export const updateOptionsArgs = z.strictObject({ roomId: roomIdSchema, update: optionsUpdateSchema })

export const addParticipantsArgs = z.strictObject({ roomId: roomIdSchema, userIds: userIdsSchema })
export const removeParticipantsArgs = z.strictObject({ roomId: roomIdSchema, userIds: userIdsSchema })

export const sendCommentArgs = z.strictObject({
  roomId: roomIdSchema,
  uniqueId: clientIdSchema,
  text: commentTextSchema,
  type: z.enum(['text', 'custom']),
  payload: jsonObjectSchema.optional(),
  extras: jsonObjectSchema.optional(),
})

export const markAsReadArgs = z.strictObject({ roomId: roomIdSchema, commentId: commentIdSchema })

export const MUTATION_ARGS = {
  chatTarget: chatTargetArgs,
  createGroupRoom: createGroupRoomArgs,
  getOrCreateChannel: getOrCreateChannelArgs,
  updateRoom: updateRoomArgs,
  updateOptions: updateOptionsArgs,
  addParticipants: addParticipantsArgs,
  removeParticipants: removeParticipantsArgs,
  sendComment: sendCommentArgs,
  markAsRead: markAsReadArgs,
} as const

export type MutationName = keyof typeof MUTATION_ARGS
export type MutationArgs<N extends MutationName = MutationName> = z.infer<(typeof MUTATION_ARGS)[N]>

const envelope = <N extends MutationName>(name: N) =>
  z.strictObject({
    id: clientIdSchema,
    name: z.literal(name),
    args: MUTATION_ARGS[name],
    createdAt: timestampSchema,
  })

export const mutationSchema = z.discriminatedUnion('name', [
  envelope('chatTarget'),
  envelope('createGroupRoom'),
  envelope('getOrCreateChannel'),
  envelope('updateRoom'),
  envelope('updateOptions'),
  envelope('addParticipants'),
  envelope('removeParticipants'),
  envelope('sendComment'),
  envelope('markAsRead'),
])

/** A queued change: client-made id, name, validated arguments, client creation time. */
export type Mutation = z.infer<typeof mutationSchema>
export type MutationOf<N extends MutationName> = Extract<Mutation, { name: N }>
