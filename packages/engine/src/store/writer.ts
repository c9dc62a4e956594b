import { Dexie } from 'dexie'
import type {
  ChangeFrame,
  CommentRecord,
  MemberRoomRecord,
  MutationResult,
  ParticipantRecord,
  RoomRecord,
  SyncFrame,
} from '@parlor/protocol'
import { ParlorError, decodeOptionsUpdate, type RoomOptions } from '@parlor/protocol'
import { isUnreadFor } from '../core/overlay.js'
import { mergeOptionsState, sameOptions } from '../core/options-state.js'
import type { ParlorDb } from './db.js'
import type { CommentRow, CursorRow, OptionsDocRow, OutboxRow, RoomRow } from './rows.js'

/** What a write changed, so the engine can emit events after the transaction commits. */
export interface Changes {
  roomIds: Set<string>
  removedRoomIds: Set<string>
  comments: CommentRow[]
  optionsRoomIds: Set<string>
  /** Rooms whose options document here may lack what the relay holds: fetch the relay's (resync). */
  resyncRoomIds: Set<string>
  failed: { row: OutboxRow; error: ParlorError }[]
  /** Comments (room id NUL id) this write stored or found stored: never added twice in it. */
  storedCommentKeys: Set<string>
}

/** A catch-up being received, across its frames. */
export class CatchUpProgress {
  /** The room ids of its frames so far. */
  readonly listed = new Set<string>()
  /** Whether the cache held nothing when its first frame was written. */
  startedEmpty: boolean | undefined
}

/** One frame's worth of a run of live frames: changes, or an ack with the outbox rows it answers. */
export type LiveStep =
  | { changes: ChangeFrame[] }
  | { results: readonly MutationResult[]; rows: ReadonlyMap<string, OutboxRow>; backoffMs: (attempts: number) => number }

const emptyChanges = (): Changes => ({
  roomIds: new Set(),
  removedRoomIds: new Set(),
  comments: [],
  optionsRoomIds: new Set(),
  resyncRoomIds: new Set(),
  failed: [],
  storedCommentKeys: new Set(),
})

/**
 * Applies what the relay sends to the base tables. Rows carry the relay's version, so a stale row
 * (an ack overtaken by a newer change) never overwrites a newer one.
 */
export class Writer {
  constructor(
    private readonly db: ParlorDb,
    private readonly me: () => string,
  ) {}

  private write<T>(fn: (ch: Changes) => Promise<T>): Promise<Changes> {
    const { rooms, participants, comments, outbox, meta, users, optionDocs } = this.db
    const ch = emptyChanges()
    // The first await inside must be an IndexedDB request: a transaction that has issued none by the
    // time its callback first awaits something else commits early (PrematureCommitError).
    return this.db
      .transaction('rw', [rooms, participants, comments, outbox, meta, users, optionDocs], async () => {
        await meta.get('cursor')
        await fn(ch)
      })
      .then(() => ch)
  }

  /**
   * A catch-up: the answer to hello (`isHelloAnswer`), or a room-scoped sync for a room the user
   * just joined, whose cursor is the seq of the change that added them (safe to resume from).
   * A catch-up may come in several frames (`more`); `progress` follows one across them: it collects
   * the room ids of a full one (only its last frame prunes unlisted rooms and stores the cursor).
   */
  applySync(frame: SyncFrame, isHelloAnswer: boolean, progress: CatchUpProgress): Promise<Changes> {
    const { listed } = progress
    return this.write(async (ch) => {
      for (const r of frame.rooms) listed.add(r.id)
      const isLast = !frame.more
      if (frame.isFull && isLast) {
        for (const id of await this.db.rooms.toCollection().primaryKeys()) if (!listed.has(id)) await this.dropRoom(id, ch, true)
      }
      // Into an empty cache (a new device, after a logout) there is nothing stored to compare with;
      // each frame of a catch-up holds whole rooms, which no other frame of it holds.
      progress.startedEmpty ??=
        (await this.db.rooms.count()) === 0 && (await this.db.participants.count()) === 0 && (await this.db.optionDocs.count()) === 0
      const isEmpty = progress.startedEmpty
      const me = this.me()
      const myPointers = new Map(frame.participants.filter((p) => p.userId === me && !p.isRemoved).map((p) => [p.roomId, p.lastReadCommentId]))
      await this.putMemberRooms(frame.rooms, ch, myPointers, isEmpty)
      await this.putParticipants(frame.participants, ch, { isCatchUp: true, isEmpty })
      await this.putComments(frame.comments, ch, false)
      for (const r of frame.rooms) if (r.isRemoved) await this.dropRoom(r.id, ch, false)
      if (isLast) await this.setCursor(frame.cursor, isHelloAnswer && frame.isFull, frame.epoch)
    })
  }

  /** Live changes, in order, in one transaction (see `applyLive`). */
  applyChanges(frames: readonly ChangeFrame[]): Promise<Changes> {
    return this.applyLive([{ changes: [...frames] }])
  }

  /**
   * A run of live frames in one transaction, in the order they came: changes into the base, and acks
   * settled (see `settleIn`). A replay's frames arrive as changes followed by the ack answering them,
   * and each transaction has a cost of its own (a commit, in a browser a round trip to its database).
   */
  applyLive(steps: readonly LiveStep[]): Promise<Changes> {
    return this.write(async (ch) => {
      for (const step of steps) {
        if ('changes' in step) await this.changesIn(step.changes, ch)
        else await this.settleIn(step.results, step.rows, step.backoffMs, ch)
      }
    })
  }

  /**
   * Live changes, in order. A burst touches few rows many times: only the newest room row of each
   * room is written, and the comments go in with a few bulk operations at the end (after the read
   * pointers they may count against).
   */
  private async changesIn(frames: readonly ChangeFrame[], ch: Changes): Promise<void> {
    if (frames.length === 0) return
    const newest = newestVersions(frames.map((f) => f.room))
    const comments: CommentRecord[] = []
    for (const frame of frames) {
      // The document first, so the room row that comes with it finds the options it names.
      if (frame.optionsUpdate !== undefined) await this.applyOptionsUpdate(frame.roomId, frame.optionsUpdate, frame.seq, ch)
      if (frame.room && frame.room.version >= newest.get(frame.room.id)!) await this.putRoom(frame.room, ch)
      if (frame.participants) await this.putParticipants(frame.participants, ch)
      if (frame.comments) comments.push(...frame.comments)
    }
    await this.putComments(comments, ch, true)
    await this.setCursor(Math.max(...frames.map((f) => f.seq)), false)
  }

  /**
   * Settles acknowledged mutations: effects into the base, outbox rows deleted or rescheduled.
   * `rows` are the outbox rows answered (by mutation id); a result without one is not settled here.
   */
  private async settleIn(
    results: readonly MutationResult[],
    rows: ReadonlyMap<string, OutboxRow>,
    backoffMs: (attempts: number) => number,
    ch: Changes,
  ): Promise<void> {
    // Of the room rows the results carry, only the newest of each room is written.
    const newest = newestVersions(results.map((r) => (r.ok && rows.has(r.mutationId) ? r.value.room : undefined)))
    const done: number[] = []
    const comments: CommentRecord[] = []
    for (const res of results) {
      const row = rows.get(res.mutationId)
      if (!row) continue
      ch.roomIds.add(row.roomId)
      if (res.ok) {
        // Accepted: the relay's document holds it now (its change may even have come already).
        if (row.mutation.name === 'updateOptions') await this.applyOptionsUpdate(row.roomId, row.mutation.args.update, 0, ch)
        const { room } = res.value
        if (room && room.version >= newest.get(room.id)!) await this.putRoom(room, ch)
        if (res.value.participants) await this.putParticipants(res.value.participants, ch)
        if (res.value.comment) comments.push(res.value.comment)
        done.push(row.seq!)
        continue
      }
      const error = ParlorError.fromWire(res.error)
      if (error.retryable) {
        const attempts = row.attempts + 1
        await this.db.outbox.update(row.seq!, {
          attempts,
          lastError: error.toWire(),
          notBefore: Date.now() + (error.retryAfterMs ?? backoffMs(attempts)),
        })
      } else {
        done.push(row.seq!)
        ch.failed.push({ row, error })
        // A refused options update: take the relay's document again rather than trust this one.
        if (row.mutation.name === 'updateOptions' && error.code !== 'forbidden' && error.code !== 'not_found') ch.resyncRoomIds.add(row.roomId)
      }
    }
    await this.putComments(comments, ch, true)
    await deleteOutboxRows(this.db, done)
  }

  private async setCursor(cursor: number, reset: boolean, epoch?: number) {
    const current = (await this.db.meta.get('cursor')) as CursorRow | undefined
    const next = reset ? cursor : Math.max(current?.cursor ?? 0, cursor)
    const knownEpoch = epoch ?? current?.epoch
    await this.db.meta.put({ key: 'cursor', cursor: next, lastSyncAt: Date.now(), ...(knownEpoch !== undefined && { epoch: knownEpoch }) })
  }

  /**
   * A catch-up's rooms, with a few bulk operations: rows older than what is stored are kept, and
   * each room's options document is replaced by the relay's unless the stored one is newer. The
   * user's read pointers (`myPointers`, by room) came in the same snapshot as the unread counts.
   * `isEmpty`: nothing is stored, so nothing is read first.
   */
  private async putMemberRooms(records: readonly MemberRoomRecord[], ch: Changes, myPointers: ReadonlyMap<string, number>, isEmpty: boolean) {
    if (records.length === 0) return
    const ids = records.map((m) => m.id)
    const none = (): undefined[] => ids.map(() => undefined)
    const existing = isEmpty ? none() : await this.db.rooms.bulkGet(ids)
    const docs = isEmpty ? none() : await this.db.optionDocs.bulkGet(ids)
    const roomRows: RoomRow[] = []
    const docRows: OptionsDocRow[] = []
    records.forEach((m, i) => {
      const { optionsState, ...r } = m
      let doc = docs[i]
      if (optionsState !== undefined && !r.isRemoved && !(doc && doc.seq > r.version)) {
        doc = { roomId: r.id, state: decodeOptionsUpdate(optionsState), seq: r.version, options: r.options }
        docRows.push(doc)
      }
      const prev = existing[i]
      const base = prev && prev.version > r.version ? prev : { ...r, options: this.optionsToKeep(r, r.isRemoved, doc, ch) }
      const row: RoomRow = {
        ...base,
        unreadCount: r.unreadCount,
        isRemoved: r.isRemoved,
        lastReadCommentId: Math.max(prev?.lastReadCommentId ?? 0, myPointers.get(r.id) ?? 0),
        removedKey: r.isRemoved ? 1 : 0,
        hasCommentsKey: base.hasComments ? 1 : 0,
      }
      roomRows.push(row)
      this.noteRoom(prev, row, ch)
    })
    await this.db.optionDocs.bulkPut(docRows)
    await this.db.rooms.bulkPut(roomRows)
  }

  private async putRoom(r: RoomRecord, ch: Changes) {
    const existing = await this.db.rooms.get(r.id)
    if (existing && existing.version > r.version) return
    const row: RoomRow = {
      ...r,
      options: await this.baseOptions(r, existing?.isRemoved ?? false, ch),
      unreadCount: existing?.unreadCount ?? 0,
      isRemoved: existing?.isRemoved ?? false,
      lastReadCommentId: existing?.lastReadCommentId ?? 0,
      removedKey: existing?.removedKey ?? 0,
      hasCommentsKey: r.hasComments ? 1 : 0,
    }
    await this.db.rooms.put(row)
    this.noteRoom(existing, row, ch)
  }

  /**
   * The options to keep for a room row the relay sent: those of the stored document, unless the row
   * is at least as new as the document and names other options, which means the document missed a
   * change (a lost update, a relay that rebuilt a gap without it): then the row's, and a resync.
   */
  private async baseOptions(r: RoomRecord, isRemoved: boolean, ch: Changes): Promise<RoomOptions> {
    return this.optionsToKeep(r, isRemoved, isRemoved ? undefined : await this.db.optionDocs.get(r.id), ch)
  }

  /** `baseOptions` with the room's stored document at hand. */
  private optionsToKeep(r: RoomRecord, isRemoved: boolean, doc: OptionsDocRow | undefined, ch: Changes): RoomOptions {
    if (isRemoved) return {}
    if (doc && (r.version < doc.seq || sameOptions(doc.options, r.options))) return doc.options
    if (doc || Object.keys(r.options).length > 0) ch.resyncRoomIds.add(r.id)
    return r.options
  }

  /**
   * Merges one update into a room's document (a live change, or the acknowledgement of ours) and
   * keeps the room row's options equal to the document's. `seq` 0: the relay's seq is not known.
   */
  private async applyOptionsUpdate(roomId: string, base64: string, seq: number, ch: Changes): Promise<void> {
    const current = await this.db.optionDocs.get(roomId)
    let merged: { state: Uint8Array; options: RoomOptions }
    try {
      merged = mergeOptionsState(current?.state, decodeOptionsUpdate(base64))
    } catch {
      // Bytes this engine cannot apply: keep what it has and ask the relay for its document.
      ch.resyncRoomIds.add(roomId)
      return
    }
    await this.db.optionDocs.put({ roomId, state: merged.state, seq: Math.max(current?.seq ?? 0, seq), options: merged.options })
    const room = await this.db.rooms.get(roomId)
    if (!room) return
    ch.roomIds.add(roomId)
    if (!sameOptions(room.options, merged.options)) ch.optionsRoomIds.add(roomId)
    // An options-only change carries no room row: its seq is the row's version from now on.
    await this.db.rooms.update(roomId, { options: merged.options, version: Math.max(room.version, seq) })
  }

  /**
   * A resync: the relay's document and map for a room, replacing this engine's — or merged into it
   * when this engine already holds a newer change (live changes may overtake the answer).
   */
  replaceOptions(roomId: string, base64: string | undefined, seq: number, relayOptions: RoomOptions): Promise<Changes> {
    return this.write(async (ch) => {
      const current = await this.db.optionDocs.get(roomId)
      let options = relayOptions
      if (current && current.seq > seq) {
        if (base64 === undefined) return
        const merged = mergeOptionsState(current.state, decodeOptionsUpdate(base64))
        options = merged.options
        await this.db.optionDocs.put({ roomId, state: merged.state, seq: current.seq, options })
      } else if (base64 === undefined) await this.db.optionDocs.delete(roomId)
      else await this.db.optionDocs.put({ roomId, state: decodeOptionsUpdate(base64), seq, options })
      const room = await this.db.rooms.get(roomId)
      if (!room || room.isRemoved) return
      ch.roomIds.add(roomId)
      if (!sameOptions(room.options, options)) ch.optionsRoomIds.add(roomId)
      await this.db.rooms.update(roomId, { options })
    })
  }

  private noteRoom(before: RoomRow | undefined, after: RoomRow, ch: Changes) {
    ch.roomIds.add(after.id)
    if (!before || !sameOptions(before.options, after.options)) ch.optionsRoomIds.add(after.id)
  }

  /**
   * Participant rows the relay sent, with a few bulk operations: a row older than the stored one is
   * skipped. The user's own rows move their read pointer, or drop the room they were removed from.
   * `isCatchUp`: the rows came with their rooms' rows, which took the read pointers and unread counts
   * of the same snapshot; `isEmpty`: nothing is stored, so nothing is read first.
   */
  private async putParticipants(rows: readonly ParticipantRecord[], ch: Changes, o: { isCatchUp?: boolean; isEmpty?: boolean } = {}) {
    if (rows.length === 0) return
    // The newest of each (room, user), in the order they came.
    const newest = new Map<string, ParticipantRecord>()
    for (const p of rows) {
      const key = `${p.roomId}\u0000${p.userId}`
      const seen = newest.get(key)
      if (!seen || seen.version <= p.version) newest.set(key, p)
    }
    const candidates = [...newest.values()]
    const existing = o.isEmpty ? [] : await this.db.participants.bulkGet(candidates.map((p) => [p.roomId, p.userId] as [string, string]))
    const fresh = candidates.filter((p, i) => !(existing[i] && existing[i].version > p.version))
    if (fresh.length === 0) return
    await this.db.participants.bulkPut(fresh)
    const users = new Map(fresh.map((p) => [p.userId, { userId: p.userId, username: p.username, avatarUrl: p.avatarUrl }]))
    await this.db.users.bulkPut([...users.values()])
    for (const p of fresh) ch.roomIds.add(p.roomId)
    const me = this.me()
    for (const p of fresh) {
      if (p.userId !== me) continue
      if (p.isRemoved) await this.dropRoom(p.roomId, ch, false)
      else if (!o.isCatchUp) await this.moveReadPointer(p.roomId, p.lastReadCommentId)
    }
  }

  /** My read pointer moved (maybe on another device): recount unread from the cached comments. */
  private async moveReadPointer(roomId: string, lastRead: number) {
    const room = await this.db.rooms.get(roomId)
    if (!room) return
    const me = this.me()
    let unread = room.unreadCount
    if (lastRead > room.lastReadCommentId) {
      const cached = await this.db.comments.where('[roomId+id]').between([roomId, lastRead], [roomId, Infinity], false, true).toArray()
      unread = Math.min(unread, cached.filter((c) => isUnreadFor(c, me, lastRead)).length)
    }
    await this.db.rooms.update(roomId, {
      lastReadCommentId: Math.max(lastRead, room.lastReadCommentId),
      unreadCount: unread,
      isRemoved: false,
      removedKey: 0,
    })
  }

  /**
   * Stores comments not held yet, counting others' new ones as unread per room. One add each (an add
   * of a comment held already fails alone, without a read first); comments this write has stored
   * or met already (a replay's changes come just ahead of the ack that repeats them) are skipped.
   */
  private async putComments(rows: readonly CommentRecord[], ch: Changes, countUnread: boolean) {
    const candidates = rows.filter((c) => {
      const key = `${c.roomId}\u0000${c.id}`
      if (ch.storedCommentKeys.has(key)) return false
      ch.storedCommentKeys.add(key)
      return true
    })
    if (candidates.length === 0) return
    let added = candidates
    try {
      await this.db.comments.bulkAdd(candidates)
    } catch (e) {
      // Comments held already: those adds failed and the rest went in (caught here, the transaction goes on).
      if (!(e instanceof Dexie.BulkError)) throw e
      const failed = e.failuresByPos
      added = candidates.filter((_, i) => !(i in failed))
    }
    if (added.length === 0) return
    ch.comments.push(...added)
    for (const c of added) ch.roomIds.add(c.roomId)
    if (!countUnread) return
    const me = this.me()
    // Only others' comments can be unread (the pointer decides which): look at their rooms alone.
    const others = added.filter((c) => isUnreadFor(c, me, 0))
    for (const roomId of new Set(others.map((c) => c.roomId))) {
      const room = await this.db.rooms.get(roomId)
      if (!room) continue
      const unread = others.filter((c) => c.roomId === roomId && isUnreadFor(c, me, room.lastReadCommentId)).length
      if (unread > 0) await this.db.rooms.update(roomId, { unreadCount: room.unreadCount + unread })
    }
  }

  /**
   * The user left or lost the room: keep the room row (marked removed, for `show_removed`) and
   * drop what only participants may see; `forget` deletes the row too (absent from a full sync).
   */
  private async dropRoom(roomId: string, ch: Changes, forget: boolean) {
    const range: [unknown[], unknown[]] = [[roomId, Dexie.minKey], [roomId, Dexie.maxKey]]
    await this.db.comments.where('[roomId+id]').between(...range).delete()
    await this.db.participants.where('[roomId+userId]').between(...range).delete()
    // Options are for participants: the local copy of the document goes too.
    await this.db.optionDocs.delete(roomId)
    if (forget) await this.db.rooms.delete(roomId)
    else await this.db.rooms.update(roomId, { isRemoved: true, removedKey: 1, unreadCount: 0, options: {} })
    ch.removedRoomIds.add(roomId)
  }
}

/**
 * Deletes outbox rows by seq: each run of consecutive seqs with one range delete (one request, where
 * deleting row by row is one each). Seqs count up by one per queued mutation, so a replayed frame is
 * usually a single run; a run holds no other row, since every seq in it is one of `seqs`.
 */
async function deleteOutboxRows(db: ParlorDb, seqs: readonly number[]): Promise<void> {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b)
  for (let i = 0; i < sorted.length; ) {
    let j = i
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++
    if (i === j) await db.outbox.delete(sorted[i]!)
    else await db.outbox.where(':id').between(sorted[i]!, sorted[j]!, true, true).delete()
    i = j + 1
  }
}

/** The newest version of each room among `rooms`: a burst writes only that row of each. */
function newestVersions(rooms: readonly (RoomRecord | undefined)[]): Map<string, number> {
  const newest = new Map<string, number>()
  for (const r of rooms) if (r) newest.set(r.id, Math.max(newest.get(r.id) ?? -1, r.version))
  return newest
}
