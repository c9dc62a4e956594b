import {
  LIMITS,
  MUTATION_ARGS,
  ParlorError,
  channelRoomId,
  checkOptions,
  groupRoomId,
  isChannelUniqueId,
  parseWith,
  roomTypeOf,
  singleRoomId,
  type Mutation,
  type MutationArgs,
  type MutationName,
  type RoomOptions,
} from '@parlor/protocol'

/**
 * Turns a call into a validated mutation, or throws the error a user gets at once, online or not
 * (checks that need no relay: self chat, 1-on-1 rename, limits, charset).
 */
export function buildMutation<N extends MutationName>(name: N, args: MutationArgs<N>, id: string, now: number): Mutation {
  const parsed = parseWith(MUTATION_ARGS[name], args, name) as { options?: RoomOptions }
  if (parsed.options && name !== 'updateRoom') checkOptions(parsed.options)
  return { id, name, args: parsed, createdAt: now } as Mutation
}

export function chatTargetArgs(me: string, userId: string, options: RoomOptions | undefined): MutationArgs<'chatTarget'> {
  if (userId === me) throw new ParlorError('validation', 'you cannot start a 1-on-1 chat with yourself')
  return { roomId: singleRoomId(me, userId), userId, ...(options && { options }) }
}

export function groupArgs(
  nanoid: string,
  me: string,
  name: string,
  userIds: readonly string[],
  extra: { avatarUrl?: string; options?: RoomOptions },
): MutationArgs<'createGroupRoom'> {
  if (userIds.length > LIMITS.maxUserIdsPerCall) {
    throw new ParlorError('validation', `at most ${LIMITS.maxUserIdsPerCall} user ids per call`)
  }
  const ids = [...new Set(userIds)].filter((id) => id !== me)
  if (ids.length + 1 > LIMITS.maxGroupParticipants) {
    throw new ParlorError('limit_exceeded', `a group holds at most ${LIMITS.maxGroupParticipants} participants`)
  }
  return { roomId: groupRoomId(nanoid), name, userIds: ids, ...extra }
}

export function channelArgs(
  uniqueId: string,
  extra: { name?: string; avatarUrl?: string; options?: RoomOptions },
): MutationArgs<'getOrCreateChannel'> {
  if (!isChannelUniqueId(uniqueId)) {
    throw new ParlorError('validation', 'a channel unique id is 1–128 characters of A–Z a–z 0–9 . _ : - (not starting with "s:" or "g:")')
  }
  return { roomId: channelRoomId(uniqueId), uniqueId, ...extra }
}

/** Rooms whose participants can be managed and renamed: groups and channels. */
export function assertManageable(roomId: string, what: string): void {
  if (roomTypeOf(roomId) === 'single') throw new ParlorError('unsupported_room_type', `${what} is not supported on 1-on-1 rooms`)
}
