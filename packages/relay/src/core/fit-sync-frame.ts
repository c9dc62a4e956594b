/**
 * Keeps a `sync` frame within `LIMITS.maxFrameBytes`, which engines enforce on every frame they
 * decode: when the frame is too large, each room keeps only its newest k comments (k = 10, 5, 1,
 * then 0). PROTOCOL.md allows "newest 20 at most"; older comments stay reachable with loadComments.
 * A frame that is still too large (rooms and participants alone) is returned as it is: splitting
 * a catch-up needs a protocol change.
 */
import { LIMITS, utf8Length, type CommentRecord, type SyncFrame } from '@parlor/protocol'

const STEPS = [10, 5, 1, 0]

export function fitSyncFrame(frame: SyncFrame, maxBytes: number = LIMITS.maxFrameBytes): { frame: SyncFrame; isTrimmed: boolean } {
  if (utf8Length(JSON.stringify(frame)) <= maxBytes) return { frame, isTrimmed: false }
  const byRoom = new Map<string, CommentRecord[]>()
  for (const c of frame.comments) {
    const list = byRoom.get(c.roomId)
    if (list) list.push(c)
    else byRoom.set(c.roomId, [c])
  }
  let trimmed = frame
  for (const k of STEPS) {
    const comments = [...byRoom.values()].flatMap((list) => (k === 0 ? [] : list.slice(-k)))
    trimmed = { ...frame, comments }
    if (utf8Length(JSON.stringify(trimmed)) <= maxBytes) break
  }
  return { frame: trimmed, isTrimmed: true }
}
