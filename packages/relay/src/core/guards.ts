/** Authorization and existence checks shared by mutations and queries; each throws a ParlorError. */
import { ParlorError, type ParticipantRecord, type RoomRecord } from '@parlor/protocol'
import type { StorageReader, UserRow } from '../storage/relay-storage.js'

export async function requireRoom(reader: StorageReader, roomId: string): Promise<RoomRecord> {
  const room = await reader.getRoom(roomId)
  if (!room) throw new ParlorError('not_found', `room ${roomId} does not exist`)
  return room
}

/** The caller's participant row, if they are an active participant; else `forbidden`. */
export async function requireActive(reader: StorageReader, room: RoomRecord, userId: string): Promise<ParticipantRecord> {
  const me = await reader.getParticipant(room.id, userId)
  if (!me || me.isRemoved) throw new ParlorError('forbidden', `you are not a participant of room ${room.id}`)
  return me
}

/**
 * Read access: channels are readable by anyone signed in; other rooms only by active participants.
 * Returns the caller's participant row when there is one.
 */
export async function requireReadable(
  reader: StorageReader,
  room: RoomRecord,
  userId: string,
): Promise<ParticipantRecord | undefined> {
  if (room.type === 'channel') return reader.getParticipant(room.id, userId)
  return requireActive(reader, room, userId)
}

/** Group and channel only: member management and updateRoom do not apply to 1-on-1 rooms. */
export function requireMultiUser(room: RoomRecord, what: string): void {
  if (room.type === 'single') throw new ParlorError('unsupported_room_type', `${what} does not apply to 1-on-1 rooms`)
}

/** The users named, in order and deduplicated; `unknown_user` names every id that is not registered. */
export async function requireUsers(reader: StorageReader, userIds: readonly string[]): Promise<UserRow[]> {
  const ids = [...new Set(userIds)]
  const found = await Promise.all(ids.map((id) => reader.getUser(id)))
  const unknown = ids.filter((_, i) => !found[i])
  if (unknown.length > 0) throw new ParlorError('unknown_user', `unknown user${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`)
  return found as UserRow[]
}
