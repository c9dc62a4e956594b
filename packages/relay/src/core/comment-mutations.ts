/** sendComment / markAsRead. */
import type { MutationArgs, MutationValue } from '@parlor/protocol'
import { requireActive, requireRoom } from './guards.js'
import type { WriteScope } from './write-scope.js'

export async function sendComment(scope: WriteScope, args: MutationArgs<'sendComment'>): Promise<MutationValue> {
  const room = await requireRoom(scope.tx, args.roomId)
  await requireActive(scope.tx, room, scope.actor.userId)
  // (roomId, uniqueId) is the dedup key: a resend after a lost ack returns the stored comment.
  const existing = await scope.tx.getCommentByUniqueId(room.id, args.uniqueId)
  if (existing) return { comment: existing, room }
  const comment = await scope.addComment(room, args)
  await scope.saveRoom(room)
  return { comment, room }
}

export async function markAsRead(scope: WriteScope, args: MutationArgs<'markAsRead'>): Promise<MutationValue> {
  const room = await requireRoom(scope.tx, args.roomId)
  const me = await requireActive(scope.tx, room, scope.actor.userId)
  // Pointers only move forward, and never past the newest comment.
  const target = Math.min(args.commentId, room.lastComment?.id ?? 0)
  if (target <= me.lastReadCommentId) return { participants: [me] }
  const next = { ...me, lastReadCommentId: target, lastReceivedCommentId: Math.max(me.lastReceivedCommentId, target) }
  return { participants: [await scope.saveParticipant(next)] }
}
