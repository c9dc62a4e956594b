/**
 * Splits a catch-up into frames engines accept (each within `LIMITS.maxFrameBytes`): rooms go
 * whole — with their participants and comments — into consecutive frames, every frame but the last
 * marked `more: true`, so an engine stores the cursor only once it holds all of them. A single room
 * too large for a frame keeps fewer of its newest comments (see fitSyncFrame).
 */
import { LIMITS, utf8Length, type SyncFrame } from '@parlor/protocol'
import { fitSyncFrame } from './fit-sync-frame.js'

/** A frame of a catch-up and its JSON text (what is sent). */
export interface EncodedSyncFrame {
  frame: SyncFrame
  text: string
}

/** A room with its rows, each part encoded once: `rows` are arrays' contents without their brackets. */
interface Part {
  text: string
  participants: string
  comments: string
  bytes: number
}

/**
 * The frames of a catch-up, each with its text. Every room and its rows are encoded once, and a
 * frame's text is put together from them: a catch-up of 1,000 rooms is encoded once, not once to
 * measure it and again to send it. The text is the frame's JSON (its keys in another order than
 * `JSON.stringify(frame)` would write them).
 */
export function splitSyncFrame(frame: SyncFrame, maxBytes: number = LIMITS.maxFrameBytes): EncodedSyncFrame[] {
  const budget = Math.floor(maxBytes * 0.9)
  const participants = groupByRoom(frame.participants)
  const comments = groupByRoom(frame.comments)
  const empty = (): SyncFrame => ({ ...frame, rooms: [], participants: [], comments: [] })
  const rooms = frame.rooms.map((room) => {
    const ps = participants.get(room.id) ?? []
    const cs = comments.get(room.id) ?? []
    participants.delete(room.id)
    comments.delete(room.id)
    return { room, ps, cs, part: partOf(JSON.stringify(room), ps, cs) }
  })
  // Rows of rooms the frame does not list (none are expected) travel with the last frame.
  const strayParticipants = [...participants.values()].flat()
  const strayComments = [...comments.values()].flat()
  const stray = partOf('', strayParticipants, strayComments)
  const base = utf8Length(headOf(frame, true)) + 64

  const chunks: { frame: SyncFrame; parts: Part[]; used: number }[] = []
  let chunk = { frame: empty(), parts: [] as Part[], used: base + stray.bytes }
  for (const { room, ps, cs, part } of rooms) {
    if (chunk.used + part.bytes > budget && chunk.parts.length > 0) {
      chunks.push(chunk)
      chunk = { frame: empty(), parts: [], used: base + stray.bytes }
    }
    chunk.frame.rooms.push(room)
    chunk.frame.participants.push(...ps)
    chunk.frame.comments.push(...cs)
    chunk.parts.push(part)
    chunk.used += part.bytes
  }
  chunk.frame.participants.push(...strayParticipants)
  chunk.frame.comments.push(...strayComments)
  chunk.parts.push(stray)
  chunks.push(chunk)
  return chunks.map(({ frame: f, parts, used }, i) => {
    const more = i < chunks.length - 1
    const text = textOf(headOf(f, more), parts)
    // Only a frame past the limit (one room too large alone) is fitted, and then encoded as a whole.
    if (used <= maxBytes || utf8Length(text) <= maxBytes) return { frame: more ? { ...f, more } : f, text }
    const fitted: SyncFrame = { ...fitSyncFrame(f, maxBytes).frame, ...(more && { more }) }
    return { frame: fitted, text: JSON.stringify(fitted) }
  })
}

function groupByRoom<T extends { roomId: string }>(rows: T[]): Map<string, T[]> {
  const map = new Map<string, T[]>()
  for (const r of rows) {
    const list = map.get(r.roomId)
    if (list) list.push(r)
    else map.set(r.roomId, [r])
  }
  return map
}

/** A room's encoded part; `bytes` counts a separator for each of its three pieces. */
function partOf(text: string, ps: readonly unknown[], cs: readonly unknown[]): Part {
  const participants = ps.length === 0 ? '' : JSON.stringify(ps).slice(1, -1)
  const comments = cs.length === 0 ? '' : JSON.stringify(cs).slice(1, -1)
  return { text, participants, comments, bytes: utf8Length(text) + utf8Length(participants) + utf8Length(comments) + 3 }
}

/** The frame's other fields as JSON, without its closing brace. */
function headOf(frame: SyncFrame, more: boolean): string {
  const { rooms: _r, participants: _p, comments: _c, more: _m, ...head } = frame
  return JSON.stringify(more ? { ...head, more } : head).slice(0, -1)
}

function textOf(head: string, parts: readonly Part[]): string {
  const list = (pick: (p: Part) => string) => parts.map(pick).filter((t) => t.length > 0).join(',')
  return `${head},"rooms":[${list((p) => p.text)}],"participants":[${list((p) => p.participants)}],"comments":[${list((p) => p.comments)}]}`
}
