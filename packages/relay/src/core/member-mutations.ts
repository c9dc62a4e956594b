/** addParticipants / removeParticipants: group and channel membership, with system events. */
import { LIMITS, ParlorError, type MutationArgs, type MutationValue, type ParticipantRecord } from '@parlor/protocol'
import type { UserRow } from '../storage/relay-storage.js'
import { requireActive, requireMultiUser, requireRoom, requireUsers } from './guards.js'
import type { WriteScope } from './write-scope.js'

export async function addParticipants(scope: WriteScope, args: MutationArgs<'addParticipants'>): Promise<MutationValue> {
  const room = await requireRoom(scope.tx, args.roomId)
  requireMultiUser(room, 'addParticipants')
  await requireActive(scope.tx, room, scope.actor.userId)
  const users = await requireUsers(scope.tx, args.userIds)
  const toAdd: Array<{ user: UserRow; previous: ParticipantRecord | undefined }> = []
  for (const user of users) {
    const previous = await scope.tx.getParticipant(room.id, user.userId)
    if (!previous || previous.isRemoved) toAdd.push({ user, previous })
  }
  if (toAdd.length === 0) return { room, participants: [] }
  if (room.type === 'group' && room.participantCount + toAdd.length > LIMITS.maxGroupParticipants) {
    throw new ParlorError('limit_exceeded', `a group holds at most ${LIMITS.maxGroupParticipants} participants`)
  }
  const participants = []
  for (const { user, previous } of toAdd) {
    participants.push(await scope.saveParticipant(scope.newParticipant(room, user, previous)))
  }
  await scope.systemEvent(room, 'add_member', { subjects: toAdd.map((a) => a.user) })
  await scope.saveRoom(room, { recount: true })
  return { room, participants }
}

export async function removeParticipants(scope: WriteScope, args: MutationArgs<'removeParticipants'>): Promise<MutationValue> {
  const room = await requireRoom(scope.tx, args.roomId)
  requireMultiUser(room, 'removeParticipants')
  await requireActive(scope.tx, room, scope.actor.userId)
  const users = await requireUsers(scope.tx, args.userIds)
  const removed: UserRow[] = []
  for (const user of users) {
    const p = await scope.tx.getParticipant(room.id, user.userId)
    if (!p || p.isRemoved) continue
    // A soft delete: the row stays (isRemoved, version bumped) so the removed user's catch-up
    // learns of the removal and show_removed can list the room.
    await scope.saveParticipant({ ...p, isRemoved: true })
    removed.push(user)
  }
  if (removed.length === 0) return { room, removedUserIds: [] }
  const others = removed.filter((u) => u.userId !== scope.actor.userId)
  if (others.length > 0) await scope.systemEvent(room, 'remove_member', { subjects: others })
  if (others.length < removed.length) await scope.systemEvent(room, 'left', { subjects: [scope.actor] })
  await scope.saveRoom(room, { recount: true })
  return { room, removedUserIds: removed.map((u) => u.userId) }
}
