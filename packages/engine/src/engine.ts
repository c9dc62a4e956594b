import { nanoid } from 'nanoid'
import { uint32 } from 'lib0/random'
import type * as Y from 'yjs'
import {
  LIMITS,
  ParlorError,
  checkOptionEntry,
  checkOptions,
  decodeOptionsUpdate,
  encodeOptionsUpdate,
  patchOptions as patchOptionsDoc,
  readOptions,
  replaceOptions,
  setOption,
  isUserId,
  roomIdFromUniqueId,
  roomTypeOf,
  type Comment,
  type Mutation,
  type MutationArgs,
  type MutationName,
  type Participant,
  type Room,
  type RoomOptions,
  type UserProfile,
} from '@parlor/protocol'
import { defaultBackoff, type Backoff } from './core/backoff.js'
import { assertManageable, buildMutation, channelArgs, chatTargetArgs, groupArgs } from './core/build-mutation.js'
import { Emitter } from './core/emitter.js'
import { noopLogger, type Logger } from './core/logger.js'
import { live, type LiveObservable } from './live.js'
import { pendingToComment } from './core/present.js'
import { makeOptionsUpdate } from './core/options-state.js'
import { OptionsHandle } from './options-handle.js'
import { checkBool, checkIdList, checkPage, pick, roomExtras, type RoomListParams, type RoomsInfoParams, type UpdateRoomParams } from './params.js'
import type { EngineEvents, EngineStatus, LiveQuery, PendingMutation } from './engine-types.js'
import { RelayLink } from './relay-link.js'
import { SessionKeeper } from './session-keeper.js'
import { chooseLeadership } from './tabs/choose-leadership.js'
import type { Leadership } from './tabs/leadership.js'
import { openDb, type ParlorDb } from './store/db.js'
import { Reader } from './store/reader.js'
import type { OutboxRow } from './store/rows.js'
import { Writer } from './store/writer.js'
import type { WebSocketCtor } from './net/connection.js'

export interface EngineOptions {
  /** The relay's base URL, or several tried in turn (failover between relay nodes). */
  relayUrl: string | string[]
  /** IndexedDB database name: one per user profile. */
  dbName?: string
  /** An IndexedDB implementation (Node: fake-indexeddb); defaults to the global one. */
  indexedDB?: IDBFactory
  IDBKeyRange?: typeof IDBKeyRange
  /** A WebSocket class (Node 20: the `ws` package); defaults to the global one. */
  WebSocket?: WebSocketCtor
  fetch?: typeof fetch
  logger?: Logger
  /** Reconnect and retry backoff. */
  backoff?: Backoff
  /** Who among engines sharing the database runs the socket (default: Web Locks, else a lease). */
  leadership?: Leadership
}

/** How long local writes to a room gather before its `room` event (one per burst). */
const ROOM_EVENT_DELAY_MS = 16

export const defaultEngineOptions = { dbName: 'parlor', backoff: defaultBackoff } as const

/**
 * The Parlor engine: every read from IndexedDB, every change queued in the outbox and applied
 * optimistically, one socket to the relay for all rooms. Create it with {@link createEngine}.
 */
export class Engine {
  private readonly db: ParlorDb
  private readonly reader: Reader
  private readonly writer: Writer
  private readonly link: RelayLink
  private readonly events: Emitter<EngineEvents>
  private readonly urls: string[]
  private readonly backoff: Backoff
  private readonly fetchFn: typeof fetch
  private readonly logger: Logger
  private readonly sessions: SessionKeeper
  private closed = false
  private readonly roomsToAnnounce = new Set<string>()
  /**
   * The Yjs client id of this engine's option changes. One per engine instance (tabs differ), and
   * its changes are made one at a time (`optionsQueue`) from the stored state plus the pending ones,
   * so a clock is never taken twice.
   */
  private readonly optionsClientId = uint32()
  private optionsQueue: Promise<unknown> = Promise.resolve()
  /** Calls holding sending back (see `answerBeforeSending`), and what they queued meanwhile. */
  private sendHolds = 0
  private hasHeldSends = false

  constructor(options: EngineOptions) {
    const opts = { ...defaultEngineOptions, ...options }
    this.urls = Array.isArray(opts.relayUrl) ? [...opts.relayUrl] : [opts.relayUrl]
    if (this.urls.length === 0) throw new ParlorError('validation', 'relayUrl names no relay')
    this.logger = opts.logger ?? noopLogger
    this.backoff = opts.backoff
    this.fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis)
    const WebSocketClass = opts.WebSocket ?? (globalThis.WebSocket as unknown as WebSocketCtor | undefined)
    if (!WebSocketClass) throw new ParlorError('validation', 'no WebSocket class: pass one (Node 20: the `ws` package)')
    this.db = openDb(opts.dbName, { ...(opts.indexedDB && { indexedDB: opts.indexedDB }), ...(opts.IDBKeyRange && { IDBKeyRange: opts.IDBKeyRange }) })
    this.events = new Emitter(this.logger)
    this.sessions = new SessionKeeper({ db: this.db, urls: this.urls, fetchFn: this.fetchFn, logger: this.logger, link: () => this.link })
    const me = () => this.me()
    this.reader = new Reader(this.db, me)
    this.writer = new Writer(this.db, () => me().userId)
    this.link = new RelayLink({
      db: this.db,
      dbName: opts.dbName,
      reader: this.reader,
      writer: this.writer,
      events: this.events,
      leadership: opts.leadership ?? chooseLeadership(this.db, opts.dbName, nanoid()),
      urls: this.urls,
      WebSocket: WebSocketClass,
      backoff: this.backoff,
      logger: this.logger,
      hello: () => this.sessions.hello(),
      onAuthRejected: () => this.sessions.rejected(),
      tokenExpiresAt: () => this.sessions.expiresAt,
      freshToken: () => this.sessions.freshToken(),
    })
  }

  // ---- session ----------------------------------------------------------------------------------

  /**
   * Signs in: registers the user on first use, else logs in. A device that signed this user in
   * before with the same key and holds an unexpired token resolves without a round trip; offline it
   * restores that session. Errors: `validation`, `unauthorized`, `offline` (first sign-in of this
   * user on this device needs the relay).
   */
  setUser(userId: string, userKey: string, username?: string, avatarURL?: string): Promise<UserProfile> {
    return this.sessions.signIn(userId, userKey, username, avatarURL)
  }

  /**
   * Restores the session last stored on this device without the user key (an app reopening), or
   * resolves undefined when there is none. When its token has expired, sign in with `setUser`.
   */
  resume(): Promise<UserProfile | undefined> {
    return this.sessions.resume()
  }

  /**
   * Signs out: revokes the session on the relay (its sockets close), takes the engine offline and
   * clears the local database, queued mutations included. Offline, the local data is cleared all the
   * same and `revoked` is false (the token stays valid on the relay until it expires).
   */
  logout(): Promise<{ revoked: boolean }> {
    if (this.closed) return Promise.reject(new ParlorError('closed', 'the engine is closed'))
    return this.sessions.logout()
  }

  /** The signed-in user, if any. */
  currentUser(): UserProfile | undefined {
    return this.sessions.user
  }

  private me(): UserProfile {
    return this.sessions.me()
  }

  // ---- status and sync --------------------------------------------------------------------------

  /** Online state, queued mutations and last catch-up time. */
  status(): EngineStatus {
    return this.link.status()
  }

  /** Resolves once the outbox is empty and the cache has caught up with the relay. */
  sync(): Promise<void> {
    if (this.closed) return Promise.reject(new ParlorError('closed', 'the engine is closed'))
    this.me()
    return this.link.sync()
  }

  /** Queued mutations with their attempts and last error, oldest first. */
  async pendingMutations(): Promise<PendingMutation[]> {
    const rows = await this.db.outbox.orderBy('seq').toArray()
    return rows.map((r: OutboxRow) => ({
      id: r.id,
      name: r.mutation.name,
      roomId: r.roomId,
      createdAt: r.createdAt,
      attempts: r.attempts,
      ...(r.lastError && { lastError: r.lastError }),
    }))
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof EngineEvents & string>(event: K, fn: (value: EngineEvents[K]) => void): () => void {
    return this.events.on(event, fn)
  }

  /** Takes the engine offline on purpose (mutations keep queueing); `connect()` goes back online. */
  async disconnect(): Promise<void> {
    await this.link.pause()
  }

  connect(): void {
    if (this.sessions.user && !this.closed) this.link.start()
  }

  /** Closes the socket (handing it to another tab, if any) and the database. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.link.close()
    this.db.close()
  }

  // ---- mutations --------------------------------------------------------------------------------

  /** Tells the link a mutation was queued; it sends it, unless a call holds sending back. */
  private notifyQueued(createdAt: number): void {
    if (this.sendHolds > 0) this.hasHeldSends = true
    this.link.queued(createdAt, this.sendHolds === 0)
  }

  /**
   * Runs a call that answers with the room as its mutations left it: they are sent once that answer
   * is read, so it always shows them queued (`pending`) rather than whatever part a fast relay has
   * confirmed meanwhile.
   */
  private async answerBeforeSending<T>(fn: () => Promise<T>): Promise<T> {
    this.sendHolds++
    try {
      return await fn()
    } finally {
      if (--this.sendHolds === 0 && this.hasHeldSends) {
        this.hasHeldSends = false
        this.link.sendQueued()
      }
    }
  }

  /** Writes a mutation to the outbox: that row is the optimistic change (reads apply it). */
  private async enqueue<N extends MutationName>(name: N, args: MutationArgs<N>): Promise<Mutation> {
    if (this.closed) throw new ParlorError('closed', 'the engine is closed')
    this.me()
    const m = buildMutation(name, args, nanoid(), Date.now())
    await this.db.outbox.add({ id: m.id, roomId: m.args.roomId, mutation: m, createdAt: m.createdAt, attempts: 0 })
    this.notifyQueued(m.createdAt)
    return m
  }

  /**
   * Queues `before` (a room's creation, a rename) and then the options change `change` makes to the
   * room's visible document, in one IndexedDB transaction: the change is made from the stored state
   * plus the pending updates, checked against the limits (throwing `validation`/`limit_exceeded`
   * with nothing queued), and becomes an `updateOptions` mutation. Resolves with the visible options
   * after it, or undefined when it changed nothing.
   */
  private enqueueOptions(
    roomId: string,
    change: (doc: Y.Doc) => void,
    before: { name: MutationName; args: MutationArgs }[] = [],
  ): Promise<RoomOptions | undefined> {
    if (this.closed) return Promise.reject(new ParlorError('closed', 'the engine is closed'))
    this.me()
    const run = async (): Promise<RoomOptions | undefined> => {
      const { outbox, optionDocs } = this.db
      const made: Mutation[] = []
      let options: RoomOptions | undefined
      await this.db.transaction('rw', [outbox, optionDocs], async () => {
        const stored = await optionDocs.get(roomId)
        const rows = await outbox.where('roomId').equals(roomId).sortBy('seq')
        const pending = rows.flatMap((r) => (r.mutation.name === 'updateOptions' ? [decodeOptionsUpdate(r.mutation.args.update)] : []))
        const ms = before.map((b) => buildMutation(b.name, b.args as never, nanoid(), Date.now()))
        const made1 = makeOptionsUpdate(stored?.state, pending, this.optionsClientId, change)
        if (made1) {
          ms.push(buildMutation('updateOptions', { roomId, update: encodeOptionsUpdate(made1.update) }, nanoid(), Date.now()))
          options = made1.options
        }
        for (const m of ms) await outbox.add({ id: m.id, roomId: m.args.roomId, mutation: m, createdAt: m.createdAt, attempts: 0 })
        made.push(...ms)
      })
      for (const m of made) this.notifyQueued(m.createdAt)
      return options
    }
    const result = this.optionsQueue.then(run, run)
    this.optionsQueue = result.catch(() => undefined)
    return result
  }

  /** Emits `options` with what a room shows now. */
  private async announceOptions(roomId: string): Promise<void> {
    const options = await this.reader.options(roomId)
    if (options) this.link.emit('options', { roomId, options })
  }

  /**
   * Emits `room` for rooms changed by local writes, once per burst: a thousand comments queued in a
   * loop re-read their room once, not a thousand times.
   */
  private roomEventSoon(roomId: string): void {
    this.roomsToAnnounce.add(roomId)
    if (this.roomsToAnnounce.size > 1) return
    setTimeout(() => {
      const ids = [...this.roomsToAnnounce]
      this.roomsToAnnounce.clear()
      for (const id of ids) {
        if (this.closed) return
        void this.reader.room(id).then((room) => room && !this.closed && this.link.emit('room', room), () => {})
      }
    }, ROOM_EVENT_DELAY_MS)
  }

  private async visibleRoom(roomId: string): Promise<Room> {
    const room = await this.reader.room(roomId)
    if (!room) throw new ParlorError('internal', `room ${roomId} vanished after a local write`)
    this.link.emit('room', room)
    return room
  }

  /** A room the user is in, from the cache; `not_found`/`forbidden` otherwise. */
  private async requireMember(roomId: string): Promise<void> {
    const state = await this.reader.membership(roomId)
    if (state === 'unknown') throw new ParlorError('not_found', `room ${roomId} is not one of your rooms`)
    if (state === 'removed') throw new ParlorError('forbidden', `you are no longer a participant of ${roomId}`)
  }

  private async memberRoom(roomId: string): Promise<Room> {
    await this.requireMember(roomId)
    return (await this.reader.room(roomId))!
  }

  /** Gets or creates the 1-on-1 room with `userId` (one room however many times, even offline). */
  async chatTarget(userId: string, options?: unknown): Promise<Room> {
    if (!isUserId(userId)) throw new ParlorError('validation', 'userId is not a valid user id')
    const initial = initialOptions(roomExtras(options).options)
    const args = chatTargetArgs(this.me().userId, userId, undefined)
    return this.answerBeforeSending(async () => {
      if (!initial) await this.enqueue('chatTarget', args)
      // The room may exist (made by the other user, maybe offline too): keys it has already stay.
      else await this.enqueueOptions(args.roomId, (doc) => setAbsent(doc, initial), [{ name: 'chatTarget', args }])
      return this.visibleRoom(args.roomId)
    })
  }

  /** Creates a new group of the current user and `userIds` (deduplicated). */
  async createGroupRoom(roomName: string, userIds: string[], options?: unknown): Promise<Room> {
    const ids = checkIdList(userIds, 'userIds')
    const { options: map, ...extras } = roomExtras(options)
    const initial = initialOptions(map)
    const args = groupArgs(nanoid(), this.me().userId, roomName, ids, extras)
    return this.answerBeforeSending(async () => {
      if (!initial) await this.enqueue('createGroupRoom', args)
      else await this.enqueueOptions(args.roomId, (doc) => replaceOptions(doc, initial), [{ name: 'createGroupRoom', args }])
      return this.visibleRoom(args.roomId)
    })
  }

  /** Gets or creates channel `uniqueId`, joining it; a name or avatar given updates them. */
  async getOrCreateRoomByChannel(uniqueId: string, name?: string, avatarURL?: string, options?: unknown): Promise<Room> {
    const initial = initialOptions(roomExtras(options).options)
    const args = channelArgs(uniqueId, {
      ...(name !== undefined && { name }),
      ...(avatarURL !== undefined && { avatarUrl: avatarURL }),
    })
    // Options are a channel's first state: a channel this device knows keeps its own (as on the relay).
    const isKnown = initial !== undefined && (await this.reader.room(args.roomId, { participants: false })) !== undefined
    return this.answerBeforeSending(async () => {
      if (!initial || isKnown) await this.enqueue('getOrCreateChannel', args)
      else await this.enqueueOptions(args.roomId, (doc) => setAbsent(doc, initial), [{ name: 'getOrCreateChannel', args }])
      return this.visibleRoom(args.roomId)
    })
  }

  /** Renames a group or channel, changes its avatar, or replaces its options map. */
  async updateRoom(params: UpdateRoomParams): Promise<Room> {
    const roomId = params?.id
    if (typeof roomId !== 'string') throw new ParlorError('validation', 'id is required')
    assertManageable(roomId, 'updateRoom')
    await this.memberRoom(roomId)
    const name = pick<string | undefined>(params, 'room_name', 'roomName', undefined) ?? params.name
    const avatarUrl = pick<string | undefined>(params, 'avatar_url', 'avatarUrl', undefined)
    const args: MutationArgs<'updateRoom'> = { roomId }
    if (name !== undefined) args.name = name
    if (avatarUrl !== undefined) args.avatarUrl = avatarUrl
    if (params.options === undefined) {
      return this.answerBeforeSending(async () => {
        await this.enqueue('updateRoom', args)
        return this.visibleRoom(roomId)
      })
    }
    // The map replaces the options as Yjs operations on the keys that differ, so a concurrent edit
    // of another key survives the merge.
    const target = checkedOptions(roomExtras({ options: params.options }).options ?? {})
    const isRenaming = name !== undefined || avatarUrl !== undefined
    return this.answerBeforeSending(async () => {
      await this.enqueueOptions(roomId, (doc) => replaceOptions(doc, target), isRenaming ? [{ name: 'updateRoom', args }] : [])
      await this.announceOptions(roomId)
      return this.visibleRoom(roomId)
    })
  }

  /**
   * Sets (a string) or deletes (`null`) single option keys, leaving other keys alone: one
   * `updateOptions` mutation. Any room the user is in (1-on-1 rooms too).
   */
  async patchOptions(roomId: string, patch: Record<string, string | null>): Promise<Room> {
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw new ParlorError('validation', 'an options patch is an object')
    for (const [k, v] of Object.entries(patch)) {
      if (v !== null && typeof v !== 'string') throw new ParlorError('validation', `option "${k}" must be a string or null`)
      checkOptionEntry(k, v)
    }
    await this.memberRoom(roomId)
    return this.answerBeforeSending(async () => {
      await this.enqueueOptions(roomId, (doc) => patchOptionsDoc(doc, patch))
      await this.announceOptions(roomId)
      return this.visibleRoom(roomId)
    })
  }

  /** Adds users to a group (or channel); resolves with the participants added. */
  async addParticipantsToGroup(roomId: string, userIds: string[]): Promise<Participant[]> {
    const ids = checkIdList(userIds, 'userIds')
    assertManageable(roomId, 'addParticipantsToGroup')
    await this.memberRoom(roomId)
    const before = new Set((await this.reader.participants(roomId, 1, Infinity))?.map((p) => p.userId))
    await this.enqueue('addParticipants', { roomId, userIds: ids })
    const after = (await this.reader.participants(roomId, 1, Infinity)) ?? []
    await this.visibleRoom(roomId)
    return after.filter((p) => !before.has(p.userId) && ids.includes(p.userId))
  }

  /** Removes users from a group (or channel); resolves with the ids removed. */
  async removeParticipantsFromGroup(roomId: string, userIds: string[]): Promise<string[]> {
    const ids = checkIdList(userIds, 'userIds')
    assertManageable(roomId, 'removeParticipantsFromGroup')
    await this.memberRoom(roomId)
    const before = new Set((await this.reader.participants(roomId, 1, Infinity))?.map((p) => p.userId))
    await this.enqueue('removeParticipants', { roomId, userIds: ids })
    if (ids.includes(this.me().userId)) this.link.emit('room:removed', { roomId })
    else await this.visibleRoom(roomId)
    return [...new Set(ids)].filter((id) => before.has(id))
  }

  /** Sends a comment: resolves at once with it `pending`; it becomes `sent` when the relay stores it. */
  async sendComment(roomId: string, text: string, opts: { uniqueId?: string; type?: 'text' | 'custom'; payload?: Record<string, unknown>; extras?: Record<string, unknown> } = {}): Promise<Comment> {
    await this.requireMember(roomId)
    const m = await this.enqueue('sendComment', {
      roomId,
      uniqueId: opts.uniqueId ?? nanoid(),
      text,
      type: opts.type ?? 'text',
      ...(opts.payload && { payload: opts.payload }),
      ...(opts.extras && { extras: opts.extras }),
    })
    if (m.name !== 'sendComment') throw new ParlorError('internal', 'unexpected mutation')
    const comment = pendingToComment({ ...m.args, sender: this.me(), timestamp: m.createdAt })
    this.link.emit('comment', comment)
    this.roomEventSoon(roomId)
    return comment
  }

  /** Moves the user's read pointer in a room forward. */
  async markAsRead(roomId: string, commentId: number): Promise<void> {
    await this.requireMember(roomId)
    await this.enqueue('markAsRead', { roomId, commentId })
    this.roomEventSoon(roomId)
  }

  // ---- reads ------------------------------------------------------------------------------------

  /** A room with its newest 20 comments (oldest first); asks the relay only for rooms never cached. */
  async getRoomById(roomId: string): Promise<Room & { comments: Comment[] }> {
    if (typeof roomId !== 'string' || !roomTypeOf(roomId)) throw new ParlorError('validation', 'roomId is not a room id')
    const local = await this.reader.roomWithComments(roomId, LIMITS.roomComments)
    if (local?.isRemoved) throw new ParlorError('forbidden', `you are no longer a participant of ${roomId}`)
    if (local) return local
    return this.link.queries.roomById(roomId, this.me().userId)
  }

  /** Rooms by ids and/or unique ids that the user is (or, with show_removed, was) in. */
  async getRoomsInfo(params: RoomsInfoParams = {}): Promise<Room[]> {
    const roomIds = checkIdList(pick(params, 'room_ids', 'roomIds', []), 'room_ids', LIMITS.maxRoomsPerRequest)
    const uniqueIds = checkIdList(pick(params, 'room_unique_ids', 'roomUniqueIds', []), 'room_unique_ids', LIMITS.maxRoomsPerRequest)
    if (roomIds.length + uniqueIds.length > LIMITS.maxRoomsPerRequest) {
      throw new ParlorError('validation', `at most ${LIMITS.maxRoomsPerRequest} rooms per request`)
    }
    return this.reader.roomsInfo({
      roomIds,
      uniqueIds,
      showParticipants: checkBool(pick(params, 'show_participants', 'showParticipants', true), 'show_participants'),
      showRemoved: checkBool(pick(params, 'show_removed', 'showRemoved', false), 'show_removed'),
    })
  }

  /** The user's rooms, newest activity first. */
  async loadRoomList(params: RoomListParams = {}): Promise<Room[]> {
    const { page, limit } = checkPage(pick(params, 'page', 'page', 1), pick(params, 'limit', 'limit', 20), LIMITS.maxRoomListLimit)
    return this.reader.roomList({
      page,
      limit,
      showParticipants: checkBool(pick(params, 'show_participants', 'showParticipants', false), 'show_participants'),
      showEmpty: checkBool(pick(params, 'show_empty', 'showEmpty', false), 'show_empty'),
    })
  }

  /** Participants of a room by its unique id, paged in join order. Channels ask the relay when online. */
  async getParticipants(roomUniqueId: string, page = 1, limit = 100): Promise<Participant[]> {
    if (typeof roomUniqueId !== 'string' || roomUniqueId.length === 0) throw new ParlorError('validation', 'roomUniqueId is required')
    const bounds = checkPage(page, limit, LIMITS.maxParticipantsLimit)
    const roomId = roomIdFromUniqueId(roomUniqueId)
    if (roomTypeOf(roomId) !== 'channel' || !this.link.isReady()) {
      const local = await this.reader.participants(roomId, bounds.page, bounds.limit)
      if (local) return local
      const room = await this.reader.room(roomId, { participants: false })
      if (room?.isRemoved) throw new ParlorError('forbidden', `you are no longer a participant of ${roomId}`)
    }
    return this.link.queries.participants(roomUniqueId, bounds.page, bounds.limit)
  }

  /** Sum of unread comments over the user's rooms. */
  getTotalUnreadCount(): Promise<number> {
    this.me()
    return this.reader.totalUnread()
  }

  /** Comments before `before` (newest `limit`, oldest first); fetches from the relay what was never cached. */
  async loadComments(roomId: string, opts: { before?: number; limit?: number } = {}): Promise<Comment[]> {
    const { limit } = checkPage(1, opts.limit ?? 20, LIMITS.maxCommentsLimit)
    const before = opts.before
    if (before !== undefined && (!Number.isInteger(before) || before < 0)) throw new ParlorError('validation', 'before must be a comment id')
    const room = await this.reader.room(roomId, { participants: false })
    if (room?.isRemoved) throw new ParlorError('forbidden', `you are no longer a participant of ${roomId}`)
    const local = room ? await this.reader.comments(roomId, { limit, ...(before !== undefined && { before }) }) : []
    const stored = local.filter((c) => c.id !== undefined)
    const lowest = stored[0]?.id
    const isContiguous = stored.every((c, i) => i === 0 || c.id === stored[i - 1]!.id! + 1)
    const isComplete = room !== undefined && isContiguous && (local.length >= limit || lowest === 1 || (lowest === undefined && !room.lastComment))
    if (isComplete || !this.link.isReady()) return local
    const remote = await this.link.queries.comments(roomId, limit, before)
    const pending = local.filter((c) => c.status === 'pending')
    return [...remote, ...pending].slice(-limit)
  }

  /** The room's options as a live key–value handle (its Yjs document; changes work offline). */
  options(roomId: string): OptionsHandle {
    return new OptionsHandle(roomId, {
      read: async () => (await this.reader.options(roomId)) ?? {},
      patch: async (p) => void (await this.patchOptions(roomId, p)),
      onChange: (fn) => this.on('options', (e) => e.roomId === roomId && fn(e.options)),
    })
  }

  /** A reactive query: re-runs whenever what it reads may have changed, in this tab or another. */
  live(query: LiveQuery): LiveObservable<unknown> {
    const changes = (fn: () => void) => {
      const offs = (['room', 'room:removed', 'comment', 'options', 'status'] as const).map((e) => this.on(e, fn))
      return () => offs.forEach((off) => off())
    }
    switch (query.type) {
      case 'roomList':
        return live(() => this.loadRoomList(query), changes)
      case 'room':
        return live(() => this.reader.roomWithComments(query.roomId, LIMITS.roomComments), changes)
      case 'participants':
        return live(() => this.reader.participants(roomIdFromUniqueId(query.roomUniqueId), query.page ?? 1, query.limit ?? 100), changes)
    }
  }
}

/** Creates an engine. Call `setUser` (or `resume`) before anything else. */
export function createEngine(options: EngineOptions): Engine {
  return new Engine(options)
}

/** A creation map checked at once (limits, string values), or undefined when empty. */
function initialOptions(options: RoomOptions | undefined): RoomOptions | undefined {
  if (!options || Object.keys(options).length === 0) return undefined
  return checkedOptions(options)
}

function checkedOptions(options: RoomOptions): RoomOptions {
  for (const [k, v] of Object.entries(options)) checkOptionEntry(k, v)
  checkOptions(options)
  return options
}

/** Sets the keys of `options` the document does not hold yet (get-or-create: the room may exist). */
function setAbsent(doc: Y.Doc, options: RoomOptions): void {
  const current = readOptions(doc)
  for (const [k, v] of Object.entries(options)) if (!Object.hasOwn(current, k)) setOption(doc, k, v)
}
