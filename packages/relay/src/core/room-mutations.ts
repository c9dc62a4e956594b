/**
 * Mutations that create rooms or change a room's own fields: chatTarget, createGroupRoom,
 * getOrCreateChannel, updateRoom, updateOptions. Options live in the room's options document
 * (see options-docs.ts): a plain map given on creation, or an `updateRoom` merge patch (HTTP
 * callers), becomes an update the relay makes; `updateOptions` carries the client's own update.
 */
import {
  CLIENT_ID_PATTERN,
  LIMITS,
  ParlorError,
  channelRoomId,
  checkOptions,
  decodeOptionsUpdate,
  singleRoomId,
  type MutationArgs,
  type MutationValue,
  type RoomRecord,
  type RoomType,
} from '@parlor/protocol'
import type { UserRow } from '../storage/relay-storage.js'
import { requireActive, requireMultiUser, requireRoom, requireUsers } from './guards.js'
import type { WriteScope } from './write-scope.js'

/** A new room row; its options start empty and `createRoom` writes the map given as the document's first change. */
function newRoom(scope: WriteScope, id: string, uniqueId: string, type: RoomType, fields: { name: string; avatarUrl?: string; options?: Record<string, string> | undefined }): RoomRecord {
  // Checked before anything is written, so the codes are those of the map (limit_exceeded, validation).
  checkOptions({ ...(fields.options ?? {}) })
  return {
    id,
    uniqueId,
    type,
    name: fields.name,
    avatarUrl: fields.avatarUrl ?? '',
    options: {},
    participantCount: 0,
    lastComment: null,
    hasComments: false,
    createdAt: scope.now,
    updatedAt: scope.now,
    lastActivityAt: scope.now,
    version: 0,
  }
}

/** Creates a room with `members` (the actor first), its `create` system event and its first options. */
async function createRoom(scope: WriteScope, room: RoomRecord, members: UserRow[], options?: Record<string, string>): Promise<MutationValue> {
  const participants = []
  for (const user of members) participants.push(await scope.saveParticipant(scope.newParticipant(room, user)))
  await scope.systemEvent(room, 'create')
  if (options && Object.keys(options).length > 0) await scope.options.patch(scope, room, options)
  await scope.saveRoom(room, { recount: true })
  return { room, participants }
}

export async function chatTarget(scope: WriteScope, args: MutationArgs<'chatTarget'>): Promise<MutationValue> {
  const me = scope.actor
  if (args.userId === me.userId) throw new ParlorError('validation', 'you cannot chat with yourself')
  const expectedId = singleRoomId(me.userId, args.userId)
  if (args.roomId !== expectedId) throw new ParlorError('validation', `roomId must be ${expectedId}`)
  const [other] = await requireUsers(scope.tx, [args.userId])
  const existing = await scope.tx.getRoom(args.roomId)
  if (!existing) {
    const room = newRoom(scope, args.roomId, args.roomId, 'single', { name: '', options: args.options })
    return createRoom(scope, room, [me, other!], args.options)
  }
  // Existing room: both users become active participants again.
  const participants = []
  for (const user of [me, other!]) {
    const p = await scope.tx.getParticipant(existing.id, user.userId)
    if (!p || p.isRemoved) participants.push(await scope.saveParticipant(scope.newParticipant(existing, user, p)))
  }
  // Both sides may have created the room offline with options of their own: keys the room does not
  // have yet are added (first writer wins per key), so neither side's options are lost.
  const added = Object.entries(args.options ?? {}).filter(([k]) => !Object.hasOwn(existing.options, k))
  const areOptionsChanged = added.length > 0 && (await scope.options.patch(scope, existing, Object.fromEntries(added)))
  if (participants.length > 0 || areOptionsChanged) {
    await scope.saveRoom(existing, { recount: participants.length > 0, isOptionsOnly: participants.length === 0 })
  }
  return { room: existing, participants }
}

export async function createGroupRoom(scope: WriteScope, args: MutationArgs<'createGroupRoom'>): Promise<MutationValue> {
  if (!args.roomId.startsWith('g:') || !CLIENT_ID_PATTERN.test(args.roomId.slice(2))) {
    throw new ParlorError('validation', 'roomId must be "g:" followed by a client-made id')
  }
  // A replay of the creating mutation never gets here (the mutations table answers it).
  if (await scope.tx.getRoom(args.roomId)) throw new ParlorError('conflict', `room ${args.roomId} already exists`)
  const others = await requireUsers(scope.tx, args.userIds.filter((id) => id !== scope.actor.userId))
  if (others.length + 1 > LIMITS.maxGroupParticipants) {
    throw new ParlorError('limit_exceeded', `a group holds at most ${LIMITS.maxGroupParticipants} participants`)
  }
  const room = newRoom(scope, args.roomId, args.roomId, 'group', args)
  return createRoom(scope, room, [scope.actor, ...others], args.options)
}

export async function getOrCreateChannel(scope: WriteScope, args: MutationArgs<'getOrCreateChannel'>): Promise<MutationValue> {
  const expectedId = channelRoomId(args.uniqueId)
  if (args.roomId !== expectedId) throw new ParlorError('validation', `roomId must be ${expectedId}`)
  const existing = await scope.tx.getRoom(args.roomId)
  if (!existing) {
    const room = newRoom(scope, args.roomId, args.uniqueId, 'channel', { ...args, name: args.name ?? args.uniqueId })
    return createRoom(scope, room, [scope.actor], args.options)
  }
  const room = existing
  const participants = []
  const p = await scope.tx.getParticipant(room.id, scope.actor.userId)
  if (!p || p.isRemoved) {
    participants.push(await scope.saveParticipant(scope.newParticipant(room, scope.actor, p)))
    await scope.systemEvent(room, 'join', { subjects: [scope.actor] })
  }
  const isChanged = (await applyNameAndAvatar(scope, room, args)) || participants.length > 0
  if (isChanged) await scope.saveRoom(room, { recount: participants.length > 0 })
  return { room, participants }
}

/** Sets name/avatar when given and different, each with its system event; whether anything changed. */
async function applyNameAndAvatar(scope: WriteScope, room: RoomRecord, args: { name?: string; avatarUrl?: string }): Promise<boolean> {
  let isChanged = false
  if (args.name !== undefined && args.name !== room.name) {
    room.name = args.name
    await scope.systemEvent(room, 'change_name', { name: args.name })
    isChanged = true
  }
  if (args.avatarUrl !== undefined && args.avatarUrl !== room.avatarUrl) {
    room.avatarUrl = args.avatarUrl
    await scope.systemEvent(room, 'change_avatar')
    isChanged = true
  }
  return isChanged
}

export async function updateRoom(scope: WriteScope, args: MutationArgs<'updateRoom'>): Promise<MutationValue> {
  const room = await requireRoom(scope.tx, args.roomId)
  requireMultiUser(room, 'updateRoom')
  await requireActive(scope.tx, room, scope.actor.userId)
  // A merge patch (HTTP callers; engines send updateOptions): refused as a whole, nothing written.
  const areOptionsChanged = args.options !== undefined && (await scope.options.patch(scope, room, args.options))
  const isRenamed = await applyNameAndAvatar(scope, room, args)
  if (isRenamed || areOptionsChanged) await scope.saveRoom(room, { isOptionsOnly: !isRenamed })
  return { room }
}

/**
 * Applies a client's update to the room's options document. Any active participant may (1-on-1 rooms
 * included); the update is checked against the relay's copy and refused as a whole (`validation`,
 * `limit_exceeded`) when it breaks the structure or the limits. An update that brings nothing new
 * changes nothing and takes no seq.
 */
export async function updateOptions(scope: WriteScope, args: MutationArgs<'updateOptions'>): Promise<MutationValue> {
  const room = await requireRoom(scope.tx, args.roomId)
  await requireActive(scope.tx, room, scope.actor.userId)
  if (await scope.options.apply(scope, room, decodeOptionsUpdate(args.update))) await scope.saveRoom(room, { isOptionsOnly: true })
  return {}
}
