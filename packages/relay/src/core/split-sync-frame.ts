/**
 * Splits a catch-up into frames engines accept (each within `LIMITS.maxFrameBytes`): rooms go
 * whole — with their participants and comments — into consecutive frames, every frame but the last
 * marked `more: true`, so an engine stores the cursor only once it holds all of them. A single room
 * too large for a frame keeps fewer of its newest comments (see fitSyncFrame).
 */
import { LIMITS, utf8Length, type SyncFrame } from '@parlor/protocol'
import { fitSyncFrame } from './fit-sync-frame.js'

export function splitSyncFrame(frame: SyncFrame, maxBytes: number = LIMITS.maxFrameBytes): SyncFrame[] {
  const budget = Math.floor(maxBytes * 0.9)
  // Each part is measured once, with its brackets and a separator: the sum of a frame's parts is an
  // upper bound of its encoded size, so no frame is encoded here as a whole (a catch-up of 1,000
  // rooms is encoded once, when it is sent).
  const size = (v: unknown) => utf8Length(JSON.stringify(v)) + 1
  const group = <T extends { roomId: string }>(rows: T[]) => {
    const map = new Map<string, T[]>()
    for (const r of rows) {
      const list = map.get(r.roomId)
      if (list) list.push(r)
      else map.set(r.roomId, [r])
    }
    return map
  }
  const participants = group(frame.participants)
  const comments = group(frame.comments)
  const empty = (): SyncFrame => ({ ...frame, rooms: [], participants: [], comments: [] })
  const base = size(empty()) + 16
  const rooms = frame.rooms.map((room) => {
    const ps = participants.get(room.id) ?? []
    const cs = comments.get(room.id) ?? []
    participants.delete(room.id)
    comments.delete(room.id)
    return { room, ps, cs, cost: size(room) + size(ps) + size(cs) }
  })
  // Rows of rooms the frame does not list (none are expected) travel with the last frame.
  const strayParticipants = [...participants.values()].flat()
  const strayComments = [...comments.values()].flat()
  const strayCost = size(strayParticipants) + size(strayComments)
  if (rooms.reduce((total, r) => total + r.cost, base + strayCost) <= budget) return [frame]

  const frames: { frame: SyncFrame; used: number }[] = []
  let chunk = { frame: empty(), used: base }
  for (const { room, ps, cs, cost } of rooms) {
    if (chunk.used + cost > budget && chunk.frame.rooms.length > 0) {
      frames.push(chunk)
      chunk = { frame: empty(), used: base }
    }
    chunk.frame.rooms.push(room)
    chunk.frame.participants.push(...ps)
    chunk.frame.comments.push(...cs)
    chunk.used += cost
  }
  chunk.frame.participants.push(...strayParticipants)
  chunk.frame.comments.push(...strayComments)
  chunk.used += strayCost
  frames.push(chunk)
  return frames.map(({ frame: f, used }, i) => {
    // Only a frame whose bound passes the limit (one room too large alone) is measured and fitted.
    const fitted = used > maxBytes && size(f) > maxBytes ? fitSyncFrame(f, maxBytes).frame : f
    return i < frames.length - 1 ? { ...fitted, more: true } : fitted
  })
}
