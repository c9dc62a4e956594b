/** Mutations that create rooms or change a room's own fields: chatTarget, createGroupRoom, getOrCreateChannel, updateRoom. */
import {
  CLIENT_ID_PATTERN,
  LIMITS,
  ParlorError,
  applyOptionsPatch,
  channelRoomId,
  checkOptions,
  singleRoomId,
  type MutationArgs,
  type MutationValue,
  type RoomRecord,
  type RoomType,
} from '@parlor/protocol'
import type { UserRow } from '../storage/relay-storage.js'
import { requireActive, requireMultiUser, requireRoom, requireUsers } from './guards.js'
import type { WriteScope } from './write-scope.js'

function newRoom(scope: WriteScope, id: string, uniqueId: string, type: RoomType, fields: { name: string; avatarUrl?: string; options?: Record<string, string> }): RoomRecord {
  const options = { ...(fields.options ?? {}) }
  checkOptions(options)
  return {
    id,
    uniqueId,
    type,
    name: fields.name,
    avatarUrl: fields.avatarUrl ?? '',
    options,
    participantCount: 0,
    lastComment: null,
    hasComments: false,
    createdAt: scope.now,
    updatedAt: scope.now,
    lastActivityAt: scope.now,
    version: 0,
  }
}

/** Creates a room with `members` (the actor first) and its `create` system event. */
async function createRoom(scope: WriteScope, room: RoomRecord, members: UserRow[]): Promise<MutationValue> {
  const participants = []
  for (const user of members) participants.push(await scope.saveParticipant(scope.newParticipant(room, user)))
  await scope.systemEvent(room, 'create')
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
    return createRoom(scope, room, [me, other!])
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
  if (added.length > 0) existing.options = applyOptionsPatch(existing.options, Object.fromEntries(added))
  if (participants.length > 0 || added.length > 0) await scope.saveRoom(existing, { recount: participants.length > 0 })
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
  return createRoom(scope, room, [scope.actor, ...others])
}

export async function getOrCreateChannel(scope: WriteScope, args: MutationArgs<'getOrCreateChannel'>): Promise<MutationValue> {
  const expectedId = channelRoomId(args.uniqueId)
  if (args.roomId !== expectedId) throw new ParlorError('validation', `roomId must be ${expectedId}`)
  const existing = await scope.tx.getRoom(args.roomId)
  if (!existing) {
    const room = newRoom(scope, args.roomId, args.uniqueId, 'channel', { ...args, name: args.name ?? args.uniqueId })
    return createRoom(scope, room, [scope.actor])
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
  // Validate the options before writing anything.
  const options = args.options ? applyOptionsPatch(room.options, args.options) : room.options
  const areOptionsChanged = JSON.stringify(options) !== JSON.stringify(room.options)
  room.options = options
  const isChanged = (await applyNameAndAvatar(scope, room, args)) || areOptionsChanged
  if (isChanged) await scope.saveRoom(room)
  return { room }
}
