/**
 * What one mutation writes, in one transaction: it takes a seq lazily (a mutation that changes
 * nothing takes none), stamps every written row with it, and collects the rows into one
 * {@link RelayChange} per room, published after commit.
 */
import * as Y from 'yjs'
import { ParlorError, encodeOptionsUpdate, type CommentRecord, type ParticipantRecord, type RoomRecord, type SystemEventKind } from '@parlor/protocol'
import type { RelayChange } from '../fanout/fanout.js'
import type { StorageTx, UserRow } from '../storage/relay-storage.js'
import type { OptionsDocs } from './options-docs.js'

interface RoomEntry {
  room?: RoomRecord
  /** Whether anything but the options changed in the room row (a change with only options sends no row). */
  isRoomChanged: boolean
  participants: Map<string, ParticipantRecord>
  comments: CommentRecord[]
  optionsUpdates: Uint8Array[]
}

/** Fields of a new comment; the scope assigns id, seq, timestamp and sender. */
export interface NewComment {
  uniqueId: string
  text: string
  type: CommentRecord['type']
  payload?: Record<string, unknown>
  extras?: Record<string, unknown>
}

export class WriteScope {
  private seqValue: number | undefined
  private readonly byRoom = new Map<string, RoomEntry>()
  private systemEventCount = 0

  constructor(
    readonly tx: StorageTx,
    readonly actor: UserRow,
    readonly now: number,
    private readonly optionsDocs?: OptionsDocs,
  ) {}

  /** The rooms' options documents (validation, storage of updates). */
  get options(): OptionsDocs {
    if (!this.optionsDocs) throw new ParlorError('internal', 'this write scope has no options documents')
    return this.optionsDocs
  }

  /** The seq of this transaction, taken on first use. */
  async seq(): Promise<number> {
    this.seqValue ??= await this.tx.nextSeq()
    return this.seqValue
  }

  private entry(roomId: string) {
    let e = this.byRoom.get(roomId)
    if (!e) this.byRoom.set(roomId, (e = { isRoomChanged: false, participants: new Map(), comments: [], optionsUpdates: [] }))
    return e
  }

  /**
   * Writes the room row (version and updatedAt bumped); `recount` refreshes participantCount first.
   * `isOptionsOnly`: only `options` changed (their update travels in the change instead of the row).
   */
  async saveRoom(room: RoomRecord, opts: { recount?: boolean; isOptionsOnly?: boolean } = {}): Promise<RoomRecord> {
    if (opts.recount) room.participantCount = await this.tx.countParticipants(room.id)
    room.version = await this.seq()
    room.updatedAt = this.now
    await this.tx.putRoom(room)
    const e = this.entry(room.id)
    e.room = room
    if (!opts.isOptionsOnly) e.isRoomChanged = true
    return room
  }

  /** Records what this transaction did to a room's options document, for the room's change. */
  noteOptionsUpdate(roomId: string, update: Uint8Array): void {
    this.entry(roomId).optionsUpdates.push(update)
  }

  async saveParticipant(p: ParticipantRecord): Promise<ParticipantRecord> {
    p.version = await this.seq()
    await this.tx.putParticipant(p)
    this.entry(p.roomId).participants.set(p.userId, p)
    return p
  }

  /** A participant row for `user` joining `room` now; its read pointers start at the room's newest comment. */
  newParticipant(room: RoomRecord, user: UserRow, previous?: ParticipantRecord): ParticipantRecord {
    const lastId = room.lastComment?.id ?? 0
    return {
      roomId: room.id,
      userId: user.userId,
      username: user.username,
      avatarUrl: user.avatarUrl,
      joinedAt: this.now,
      lastReadCommentId: Math.max(previous?.lastReadCommentId ?? 0, lastId),
      lastReceivedCommentId: Math.max(previous?.lastReceivedCommentId ?? 0, lastId),
      isRemoved: false,
      version: 0,
    }
  }

  /**
   * Inserts a comment by the actor as the room's newest (id = previous newest + 1) and updates the
   * room's lastComment/lastActivityAt (hasComments only for non-system comments). The caller saves the room.
   */
  async addComment(room: RoomRecord, c: NewComment): Promise<CommentRecord> {
    const comment: CommentRecord = {
      id: (room.lastComment?.id ?? 0) + 1,
      uniqueId: c.uniqueId,
      roomId: room.id,
      sender: { userId: this.actor.userId, username: this.actor.username, avatarUrl: this.actor.avatarUrl },
      text: c.text,
      type: c.type,
      timestamp: this.now,
      seq: await this.seq(),
    }
    if (c.payload !== undefined) comment.payload = c.payload
    if (c.extras !== undefined) comment.extras = c.extras
    await this.tx.insertComment(comment)
    room.lastComment = comment
    room.lastActivityAt = this.now
    if (c.type !== 'system_event') room.hasComments = true
    this.entry(room.id).comments.push(comment)
    return comment
  }

  /** Adds a `system_event` comment describing a room change, worded for people. */
  async systemEvent(
    room: RoomRecord,
    kind: SystemEventKind,
    detail: { subjects?: UserRow[]; name?: string } = {},
  ): Promise<CommentRecord> {
    const payload: Record<string, unknown> = { type: kind }
    if (detail.subjects) payload.subjectIds = detail.subjects.map((u) => u.userId)
    if (detail.name !== undefined) payload.name = detail.name
    const seq = await this.seq()
    // '#' cannot appear in client-made unique ids, so a client can never take a system event's id.
    const uniqueId = `system#${seq}#${this.systemEventCount++}`
    return this.addComment(room, { uniqueId, text: systemEventText(this.actor, kind, detail), type: 'system_event', payload })
  }

  /** The changes to publish after commit, one per room touched. */
  changes(): RelayChange[] {
    if (this.seqValue === undefined) return []
    const seq = this.seqValue
    return [...this.byRoom].map(([roomId, e]) => {
      const change: RelayChange = { seq, roomId }
      if (e.room && e.isRoomChanged) change.room = e.room
      if (e.participants.size > 0) change.participants = [...e.participants.values()]
      if (e.comments.length > 0) change.comments = e.comments
      if (e.optionsUpdates.length > 0) {
        change.optionsUpdate = encodeOptionsUpdate(e.optionsUpdates.length === 1 ? e.optionsUpdates[0]! : Y.mergeUpdates(e.optionsUpdates))
      }
      return change
    })
  }
}

function names(users: UserRow[] = []): string {
  const list = users.map((u) => u.username)
  return list.length <= 1 ? (list[0] ?? 'nobody') : `${list.slice(0, -1).join(', ')} and ${list.at(-1)}`
}

function systemEventText(actor: UserRow, kind: SystemEventKind, detail: { subjects?: UserRow[]; name?: string }): string {
  const who = actor.username
  switch (kind) {
    case 'create':
      return `${who} created the room`
    case 'add_member':
      return `${who} added ${names(detail.subjects)}`
    case 'remove_member':
      return `${who} removed ${names(detail.subjects)}`
    case 'join':
      return `${who} joined the room`
    case 'left':
      return `${who} left the room`
    case 'change_name':
      return `${who} changed the room name to "${detail.name ?? ''}"`
    case 'change_avatar':
      return `${who} changed the room avatar`
  }
}
