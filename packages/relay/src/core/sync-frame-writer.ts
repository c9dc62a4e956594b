/**
 * Writes a catch-up as frames engines accept (each within `LIMITS.maxFrameBytes`) while it is read:
 * rooms go whole — with their participants and comments — into consecutive frames, every frame but
 * the last marked `more: true`, so an engine stores the cursor only once it holds all of them. A
 * frame is handed on as soon as it is full, so the engine stores the first rooms while the relay
 * reads the next, and the relay never holds more than one frame of a large catch-up. A single room
 * too large for a frame keeps fewer of its newest comments (see fitSyncFrame).
 */
import { LIMITS, utf8Length, type CommentRecord, type MemberRoomRecord, type ParticipantRecord, type SyncFrame } from '@parlor/protocol'
import { fitSyncFrame } from './fit-sync-frame.js'

/** A frame of a catch-up and its JSON text (what is sent). */
export interface EncodedSyncFrame {
  frame: SyncFrame
  text: string
}

/** What every frame of a catch-up repeats. */
export type SyncFrameHead = Omit<SyncFrame, 'rooms' | 'participants' | 'comments' | 'more'>

/** A room with its rows, each encoded once (`participants`, `comments`: an array's JSON without its brackets). */
interface Part {
  text: string
  participants: string
  comments: string
  /** Its share of a frame's size, separators included. */
  bytes: number
}

/**
 * Each room and its rows are encoded once, and a frame's text is put together from them (its keys in
 * another order than `JSON.stringify(frame)` would write them).
 *
 * @example
 * const out = new SyncFrameWriter(head, ({ text }) => socket.send(text))
 * for (const room of rooms) out.add(room, participantsOf(room), commentsOf(room))
 * out.end()
 */
export class SyncFrameWriter {
  private readonly budget: number
  private readonly base: number
  private frame: SyncFrame
  private parts: Part[] = []
  private used: number

  constructor(
    private readonly head: SyncFrameHead,
    private readonly emit: (frame: EncodedSyncFrame) => void,
    private readonly maxBytes: number = LIMITS.maxFrameBytes,
  ) {
    this.budget = Math.floor(maxBytes * 0.9)
    this.base = utf8Length(headText(head, true)) + 64
    this.frame = this.empty()
    this.used = this.base
  }

  /** Adds a room with its participant rows and comments; hands on the frame before it when the room does not fit there. */
  add(room: MemberRoomRecord, participants: ParticipantRecord[], comments: CommentRecord[]): void {
    const part = partOf(JSON.stringify(room), participants, comments)
    if (this.used + part.bytes > this.budget && this.parts.length > 0) this.flush(true)
    this.frame.rooms.push(room)
    this.push(part, participants, comments)
  }

  /** Hands on the last frame, with rows of no room it listed (none are expected). */
  end(strayParticipants: ParticipantRecord[] = [], strayComments: CommentRecord[] = []): void {
    this.push(partOf('', strayParticipants, strayComments), strayParticipants, strayComments)
    this.flush(false)
  }

  private empty(): SyncFrame {
    return { ...this.head, rooms: [], participants: [], comments: [] }
  }

  private push(part: Part, participants: ParticipantRecord[], comments: CommentRecord[]): void {
    this.frame.participants.push(...participants)
    this.frame.comments.push(...comments)
    this.parts.push(part)
    this.used += part.bytes
  }

  private flush(more: boolean): void {
    const frame: SyncFrame = more ? { ...this.frame, more } : this.frame
    const text = textOf(headText(this.head, more), this.parts)
    // Only a frame past the limit (one room too large alone) is fitted, and then encoded as a whole.
    if (this.used > this.maxBytes && utf8Length(text) > this.maxBytes) {
      const fitted: SyncFrame = { ...fitSyncFrame(frame, this.maxBytes).frame, ...(more && { more }) }
      this.emit({ frame: fitted, text: JSON.stringify(fitted) })
    } else this.emit({ frame, text })
    this.frame = this.empty()
    this.parts = []
    this.used = this.base
  }
}

function partOf(text: string, ps: readonly unknown[], cs: readonly unknown[]): Part {
  const participants = ps.length === 0 ? '' : JSON.stringify(ps).slice(1, -1)
  const comments = cs.length === 0 ? '' : JSON.stringify(cs).slice(1, -1)
  return { text, participants, comments, bytes: utf8Length(text) + utf8Length(participants) + utf8Length(comments) + 3 }
}

/** The head's fields as JSON, without the closing brace. */
function headText(head: SyncFrameHead, more: boolean): string {
  return JSON.stringify(more ? { ...head, more } : head).slice(0, -1)
}

function textOf(head: string, parts: readonly Part[]): string {
  const list = (pick: (p: Part) => string) => parts.map(pick).filter((t) => t.length > 0).join(',')
  return `${head},"rooms":[${list((p) => p.text)}],"participants":[${list((p) => p.participants)}],"comments":[${list((p) => p.comments)}]}`
}
