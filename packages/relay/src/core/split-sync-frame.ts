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
  const size = (v: unknown) => utf8Length(JSON.stringify(v)) + 1
  if (size(frame) <= budget) return [frame]
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
  const frames: SyncFrame[] = []
  let chunk = empty()
  let used = base
  for (const room of frame.rooms) {
    const ps = participants.get(room.id) ?? []
    const cs = comments.get(room.id) ?? []
    const cost = size(room) + size(ps) + size(cs)
    if (used + cost > budget && chunk.rooms.length > 0) {
      frames.push(chunk)
      chunk = empty()
      used = base
    }
    chunk.rooms.push(room)
    chunk.participants.push(...ps)
    chunk.comments.push(...cs)
    used += cost
    participants.delete(room.id)
    comments.delete(room.id)
  }
  // Rows of rooms the frame does not list (none are expected) travel with the last frame.
  for (const ps of participants.values()) chunk.participants.push(...ps)
  for (const cs of comments.values()) chunk.comments.push(...cs)
  frames.push(chunk)
  return frames.map((f, i) => {
    const fitted = size(f) > maxBytes ? fitSyncFrame(f, maxBytes).frame : f
    return i < frames.length - 1 ? { ...fitted, more: true } : fitted
  })
}
