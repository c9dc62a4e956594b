import { Dexie } from 'dexie'
import { applyOptionsPatch, decodeOptionsUpdate, type Comment, type Mutation, type Participant, type Room, type RoomOptions, type UserProfile } from '@parlor/protocol'
import { byJoinOrder, overlayRoom, type RoomBase, type VisibleRoom } from '../core/overlay.js'
import { visibleOptions } from '../core/options-state.js'
import { otherUserOf, pendingToComment, statusFor, toComment, toParticipant, toRoom } from '../core/present.js'
import type { ParlorDb } from './db.js'
import type { CommentRow, OutboxRow, ParticipantRow, RoomRow } from './rows.js'

export interface RoomListQuery {
  page: number
  limit: number
  showParticipants: boolean
  showEmpty: boolean
}

/** What a visible-room read should load besides the room row. */
interface Needs {
  participants?: boolean
  comments?: boolean
}

/** Up to this many rooms are read with their own queued mutations only (see `rooms`). */
const FEW_ROOMS = 8
/** Queued mutations a reader remembers (see `Reader.known`); past this many, it forgets them all at once. */
const MAX_KNOWN_QUEUED = 20_000

/**
 * Every read of the engine, answered from IndexedDB alone: base rows with the outbox applied on top.
 * Reads run inside one read-only transaction so they see one consistent state, and are plain async
 * functions of the database, so `liveQuery` can re-run them when any table they touch changes.
 */
export class Reader {
  /**
   * The queued mutations this reader has read, by outbox seq. A row's room and mutation never change
   * (only its attempts and backoff do) and seqs are never reused, so a read takes the seqs of the rows
   * it needs (keys only, no values to copy) and fetches only those it has not seen: a long outbox
   * being replayed is not read again on every change.
   */
  private readonly known = new Map<number, { roomId: string; mutation: Mutation }>()

  constructor(
    private readonly db: ParlorDb,
    private readonly me: () => UserProfile,
  ) {}

  private async read<T>(fn: () => Promise<T>): Promise<T> {
    const { rooms, participants, comments, outbox, users, optionDocs } = this.db
    try {
      return await this.db.transaction('r', [rooms, participants, comments, outbox, users, optionDocs], fn)
    } catch (e) {
      // Inside Dexie's liveQuery, Chromium sometimes commits the read transaction between two awaits
      // (PrematureCommitError). The read then runs again without one: each of its reads is still
      // consistent, and liveQuery re-runs it on the next change anyway.
      if ((e as { name?: string }).name !== 'PrematureCommitError') throw e
      return fn()
    }
  }

  /**
   * The visible options of a room with pending option changes: the relay's document with the queued
   * updates applied in order (and, for outbox rows written before options were documents, their
   * merge patches). Undefined when nothing pending touches the options.
   */
  private async pendingOptions(roomId: string, pending: readonly Mutation[], base: RoomOptions | undefined): Promise<RoomOptions | undefined> {
    const updates = pending.flatMap((m) => (m.name === 'updateOptions' ? [decodeOptionsUpdate(m.args.update)] : []))
    const patches = pending.flatMap((m) => (m.name === 'updateRoom' && m.args.options ? [m.args.options] : []))
    if (updates.length === 0 && patches.length === 0) return undefined
    let options = base ?? {}
    if (updates.length > 0) options = visibleOptions((await this.db.optionDocs.get(roomId))?.state, updates)
    for (const p of patches) {
      try {
        options = applyOptionsPatch(options, p)
      } catch {
        // Over the limits: the relay will refuse it, and the refusal removes the mutation.
      }
    }
    return options
  }

  /** The options a room shows now (the relay's with pending changes on top). */
  async options(roomId: string): Promise<RoomOptions | undefined> {
    return this.read(async () => {
      const [row, pending] = [await this.db.rooms.get(roomId), await this.pendingOf(roomId)]
      const visible = await this.pendingOptions(roomId, pending, row?.options)
      return visible ?? (row ? { ...row.options } : undefined)
    })
  }

  /** Queued mutations of one room, in the order they were made. */
  private async pendingOf(roomId: string): Promise<Mutation[]> {
    // An index's keys come in primary key (seq) order among equal index keys.
    const seqs = (await this.db.outbox.where('roomId').equals(roomId).primaryKeys()) as number[]
    // (Only Dexie's promises are awaited inside a read: liveQuery follows those, not others.)
    const missing = this.unknownSeqs(seqs)
    if (missing.length > 0) this.remember(missing, await this.db.outbox.bulkGet(missing))
    return this.knownRows(seqs).map((r) => r.mutation)
  }

  /** Queued mutations grouped by room, each group in the order it was made. */
  private async pendingByRoom(): Promise<Map<string, Mutation[]>> {
    const seqs = (await this.db.outbox.toCollection().primaryKeys()) as number[]
    const missing = this.unknownSeqs(seqs)
    if (missing.length > 0) this.remember(missing, await this.db.outbox.bulkGet(missing))
    // Everything queued was just listed: forget what has left the outbox.
    if (this.known.size > seqs.length) {
      const present = new Set(seqs)
      for (const seq of this.known.keys()) if (!present.has(seq)) this.known.delete(seq)
    }
    const byRoom = new Map<string, Mutation[]>()
    for (const r of this.knownRows(seqs)) {
      const list = byRoom.get(r.roomId)
      if (list) list.push(r.mutation)
      else byRoom.set(r.roomId, [r.mutation])
    }
    return byRoom
  }

  /** Of these outbox seqs, those whose rows this reader has not read yet (see `known`). */
  private unknownSeqs(seqs: readonly number[]): number[] {
    const missing = seqs.filter((s) => !this.known.has(s))
    if (this.known.size + missing.length <= MAX_KNOWN_QUEUED) return missing
    this.known.clear()
    return [...seqs]
  }

  private remember(seqs: readonly number[], rows: readonly (OutboxRow | undefined)[]): void {
    rows.forEach((r, i) => r && this.known.set(seqs[i]!, { roomId: r.roomId, mutation: r.mutation }))
  }

  /** The rows with these seqs, in the same order. (Outside a transaction — see `read` — a row may have gone meanwhile.) */
  private knownRows(seqs: readonly number[]): { roomId: string; mutation: Mutation }[] {
    return seqs.flatMap((s) => this.known.get(s) ?? [])
  }

  private async profiles(ids: Iterable<string>): Promise<Map<string, UserProfile>> {
    const unique = [...new Set(ids)]
    const rows = await this.db.users.bulkGet(unique)
    const map = new Map<string, UserProfile>()
    rows.forEach((r, i) => map.set(unique[i]!, r ?? { userId: unique[i]!, username: unique[i]!, avatarUrl: '' }))
    return map
  }

  private async roomParticipants(roomId: string): Promise<ParticipantRow[]> {
    return this.db.participants.where('[roomId+userId]').between([roomId, Dexie.minKey], [roomId, Dexie.maxKey]).toArray()
  }

  private async newestComments(roomId: string, limit: number, before = Infinity): Promise<CommentRow[]> {
    const rows = await this.db.comments
      .where('[roomId+id]')
      .between([roomId, -Infinity], [roomId, before], false, false)
      .reverse()
      .limit(limit)
      .toArray()
    return rows.reverse()
  }

  private async visible(roomId: string, pending: readonly Mutation[], needs: Needs, room?: RoomRow): Promise<VisibleRoom> {
    const base: RoomBase = { room: room ?? (await this.db.rooms.get(roomId)) }
    if (needs.participants || pending.length > 0) base.participants = await this.roomParticipants(roomId)
    if (needs.comments || pending.some((m) => m.name === 'markAsRead')) base.comments = await this.newestComments(roomId, 200)
    else {
      // A read that shows no comments shows a room's newest one: the overlay must skip a pending
      // comment the relay has already sent back (stored before its ack), so the newest pending one
      // is looked up by unique id. Comments come back in order: when even that one is stored, the
      // others may be too, and the newest base comments are read as for any comment read.
      const newest = pending.findLast((m) => m.name === 'sendComment')
      const stored = newest && (await this.db.comments.where('uniqueId').equals(newest.args.uniqueId).first())
      if (stored?.roomId === roomId) base.comments = await this.newestComments(roomId, 200)
    }
    const addedIds = pending.flatMap((m) =>
      m.name === 'addParticipants' || m.name === 'createGroupRoom' ? m.args.userIds : m.name === 'chatTarget' ? [m.args.userId] : [],
    )
    const known = await this.profiles(addedIds)
    const v = overlayRoom(base, pending, { me: this.me(), profileOf: (id) => known.get(id)! })
    // (Checked first: awaiting a function that reads nothing would hide the reads after it from liveQuery.)
    const changesOptions = pending.some((m) => m.name === 'updateOptions' || (m.name === 'updateRoom' && m.args.options))
    if (v.room && !v.room.isRemoved && changesOptions) {
      const options = await this.pendingOptions(roomId, pending, base.room?.options)
      if (options) v.room.options = options
    }
    return v
  }

  private async present(views: VisibleRoom[], showParticipants: boolean): Promise<Room[]> {
    const me = this.me().userId
    const others = views.filter((v) => v.room?.type === 'single').map((v) => otherUserOf(v.room!.id, me))
    const names = await this.profiles(others)
    const usernameOf = (id: string) => names.get(id)?.username ?? id
    return views.flatMap((v) => toRoom(v, { me, showParticipants, usernameOf }) ?? [])
  }

  /**
   * Whether the user is in a room, answered cheaply: from the base row when it settles the question
   * (the common case), else from the full visible room (pending creates, joins and removals).
   * Only the room's oldest queued mutation is looked at, so a loop queueing many comments stays
   * O(1) per call: a comment queued behind the user's own queued removal is accepted here and
   * refused by the relay (`forbidden`, rolled back), the outcome a full check would give at once.
   */
  async membership(roomId: string): Promise<'member' | 'removed' | 'unknown'> {
    const [base, oldest] = await Promise.all([this.db.rooms.get(roomId), this.db.outbox.where('roomId').equals(roomId).first()])
    const leavesMembershipAlone = !oldest || oldest.mutation.name === 'sendComment' || oldest.mutation.name === 'updateOptions'
    if (base && !base.isRemoved && leavesMembershipAlone) return 'member'
    const room = await this.room(roomId, { participants: false })
    return !room ? 'unknown' : room.isRemoved ? 'removed' : 'member'
  }

  /** The visible room, or undefined if the cache has never held it. */
  async room(roomId: string, opts: { participants?: boolean } = {}): Promise<Room | undefined> {
    return this.read(async () => {
      const pending = await this.pendingOf(roomId)
      const v = await this.visible(roomId, pending, { participants: opts.participants ?? true })
      return (await this.present([v], opts.participants ?? true))[0]
    })
  }

  /** Visible rooms by id (those the cache holds, without participants), read together. */
  async rooms(roomIds: readonly string[]): Promise<Room[]> {
    if (roomIds.length === 0) return []
    return this.read(async () => {
      // A few rooms: their own queued mutations (by index), not the whole outbox.
      const pending =
        roomIds.length <= FEW_ROOMS ? new Map(await Promise.all(roomIds.map(async (id) => [id, await this.pendingOf(id)] as const))) : await this.pendingByRoom()
      const rows = await this.db.rooms.bulkGet([...roomIds])
      const views = await Promise.all(roomIds.map((id, i) => this.visible(id, pending.get(id) ?? [], { participants: false }, rows[i])))
      return this.present(views, false)
    })
  }

  /** A room and its newest comments (pending ones last), oldest first. */
  async roomWithComments(roomId: string, limit: number): Promise<(Room & { comments: Comment[] }) | undefined> {
    return this.read(async () => {
      const pending = await this.pendingOf(roomId)
      const v = await this.visible(roomId, pending, { participants: true, comments: true })
      const room = (await this.present([v], true))[0]
      if (!room) return undefined
      return { ...room, comments: await this.commentsOf(roomId, v, { limit }) }
    })
  }

  private async commentsOf(roomId: string, v: VisibleRoom, q: { limit: number; before?: number }): Promise<Comment[]> {
    const me = this.me().userId
    const base = await this.newestComments(roomId, q.limit, q.before)
    const merged = [...base.map((c) => toComment(c, statusFor(c, me, v.participants)))]
    if (q.before === undefined) merged.push(...v.pendingComments.map(pendingToComment))
    return merged.slice(-q.limit)
  }

  /** Cached comments before `before` (newest `limit`, oldest first), pending ones included on the first page. */
  async comments(roomId: string, q: { limit: number; before?: number }): Promise<Comment[]> {
    return this.read(async () => {
      const pending = await this.pendingOf(roomId)
      const v = await this.visible(roomId, pending, { participants: true, comments: true })
      return this.commentsOf(roomId, v, q)
    })
  }

  async roomList(q: RoomListQuery): Promise<Room[]> {
    return this.read(async () => {
      const pending = await this.pendingByRoom()
      const [index, lo, hi] = q.showEmpty
        ? ['[removedKey+lastActivityAt]', [0, -Infinity], [0, Infinity]]
        : ['[removedKey+hasCommentsKey+lastActivityAt]', [0, 1, -Infinity], [0, 1, Infinity]]
      const offset = (q.page - 1) * q.limit
      const ordered = this.db.rooms.where(index).between(lo, hi, true, true).reverse()
      let views: VisibleRoom[]
      if (pending.size === 0) {
        const rows = await ordered.offset(offset).limit(q.limit).toArray()
        views = await Promise.all(rows.map((r) => this.visible(r.id, [], { participants: q.showParticipants }, r)))
      } else {
        const rows = await ordered.filter((r) => !pending.has(r.id)).limit(offset + q.limit).toArray()
        const changed = await Promise.all([...pending].map(([id, ms]) => this.visible(id, ms, { participants: true })))
        const listed = changed.filter((v) => v.room && !v.room.isRemoved && (q.showEmpty || v.room.hasComments))
        const baseViews = await Promise.all(rows.map((r) => this.visible(r.id, [], { participants: q.showParticipants }, r)))
        views = [...baseViews, ...listed].sort(byActivity).slice(offset, offset + q.limit)
      }
      return this.present(views, q.showParticipants)
    })
  }

  /** Rooms by id and unique id that the user is (or, with showRemoved, was) in. */
  async roomsInfo(q: { roomIds: string[]; uniqueIds: string[]; showParticipants: boolean; showRemoved: boolean }): Promise<Room[]> {
    return this.read(async () => {
      const pending = await this.pendingByRoom()
      const byUnique = await this.db.rooms.where('uniqueId').anyOf(q.uniqueIds).toArray()
      const ids = [...new Set([...q.roomIds, ...byUnique.map((r) => r.id), ...q.uniqueIds.filter((u) => pending.has(u))])]
      const views = await Promise.all(ids.map((id) => this.visible(id, pending.get(id) ?? [], { participants: q.showParticipants })))
      const kept = views.filter((v) => v.room && (q.showRemoved || !v.room.isRemoved))
      return this.present(kept, q.showParticipants)
    })
  }

  /** Active participants of a cached room, in stable order; undefined if the room is not cached. */
  async participants(roomId: string, page: number, limit: number): Promise<Participant[] | undefined> {
    return this.read(async () => {
      const pending = await this.pendingOf(roomId)
      const v = await this.visible(roomId, pending, { participants: true })
      if (!v.room || v.room.isRemoved) return undefined
      const list = (v.participants ?? []).sort(byJoinOrder)
      return list.slice((page - 1) * limit, page * limit).map(toParticipant)
    })
  }

  async totalUnread(): Promise<number> {
    return this.read(async () => {
      const pending = await this.pendingByRoom()
      let total = 0
      await this.db.rooms.where('[removedKey+lastActivityAt]').between([0, -Infinity], [0, Infinity]).each((r) => {
        if (!pending.has(r.id)) total += r.unreadCount
      })
      for (const [id, ms] of pending) {
        const v = await this.visible(id, ms, {})
        if (v.room && !v.room.isRemoved) total += v.room.unreadCount
      }
      return total
    })
  }
}

function byActivity(a: VisibleRoom, b: VisibleRoom): number {
  const x = a.room!
  const y = b.room!
  return y.lastActivityAt - x.lastActivityAt || (y.id > x.id ? 1 : y.id < x.id ? -1 : 0)
}
