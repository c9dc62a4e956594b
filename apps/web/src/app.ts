import { render } from 'lit-html'
import { type Comment, type Engine, type Mutation, type Participant, type Room } from '@parlor/engine'
import { describeError, describeFailure } from './errors.js'
import { parseIds } from './format.js'
import { forgetCredentials, openSession, savedCredentials, type Credentials } from './session.js'
import { initialState, PARTICIPANTS_PAGE, ROOMS_PAGE, type AppState, type FailedComment, type NewRoomKind, type Panel, type RoomWithComments } from './state.js'
import { appView } from './views/app-view.js'
import { createRoom, type NewRoomInput } from './new-room.js'
import { draftFromRoom, optionsFromDraft } from './options-draft.js'
import { liveErrors, watch } from './watch.js'

type Subscription = { unsubscribe(): void }

/** `#/room/<id>` ↔ room id. */
export const roomHref = (roomId: string) => `#/room/${encodeURIComponent(roomId)}`
function roomIdFromHash(hash: string): string | undefined {
  const m = /^#\/room\/(.+)$/.exec(hash)
  if (!m) return undefined
  try {
    return decodeURIComponent(m[1]!)
  } catch {
    return undefined
  }
}

/**
 * The app controller: owns the engine of the signed-in user, the live subscriptions, and the
 * state the views render from. Every view is a function of `state`; actions are methods here.
 */
export class App {
  state: AppState = initialState()
  private engine: Engine | undefined
  private sessionOffs: Array<() => void> = []
  private roomListSubs: Subscription[] = []
  private roomListPages: Room[][] = []
  private roomSub: Subscription | undefined
  private participantsSub: Subscription | undefined
  private markedUpTo = new Map<string, number>()
  private renderQueued = false
  private stickToBottom = false
  private hasMarkedFirstList = false
  private toastSeq = 0

  constructor(private readonly root: HTMLElement) {
    root.replaceChildren() // the static "Loading…" placeholder of index.html
  }

  async start(): Promise<void> {
    window.addEventListener('hashchange', () => this.route())
    // The browser knows first when the network goes: stop using the socket at once (an open socket
    // can outlive the network for a long time), and reconnect at once when it is back rather than
    // at the end of a backoff delay grown while offline.
    window.addEventListener('offline', () => void this.engine?.disconnect())
    window.addEventListener('online', () => void this.reconnect())
    document.addEventListener('visibilitychange', () => this.maybeMarkRead())
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.state.panel && !this.state.newRoom) this.closePanel()
    })
    const saved = savedCredentials()
    if (saved) await this.signIn(saved)
    else this.set({ phase: 'signed-out' })
  }

  /** Debug handle (`window.parlor.engine` in the console; benchmarks use it too). */
  get currentEngine(): Engine | undefined {
    return this.engine
  }

  // ---- rendering --------------------------------------------------------------------------------

  set(patch: Partial<AppState>): void {
    this.state = { ...this.state, ...patch }
    if (this.renderQueued) return
    this.renderQueued = true
    queueMicrotask(() => this.flush())
  }

  private flush(): void {
    this.renderQueued = false
    const before = this.root.querySelector<HTMLElement>('.comments')
    const stick = this.stickToBottom || !before || before.scrollHeight - before.scrollTop - before.clientHeight < 48
    render(appView(this.state, this), this.root)
    this.stickToBottom = false
    const after = this.root.querySelector<HTMLElement>('.comments')
    if (after && stick) after.scrollTop = after.scrollHeight
    if (!this.hasMarkedFirstList && this.state.phase === 'ready' && this.state.roomsLoaded) {
      this.hasMarkedFirstList = true
      performance.mark('parlor:room-list-rendered', { detail: { rooms: this.state.rooms.length } })
    }
  }

  // ---- session ----------------------------------------------------------------------------------

  async signIn(c: Credentials): Promise<void> {
    this.set({ phase: 'signing-in', signInError: undefined, lastUserId: c.userId })
    try {
      const { engine, me } = await openSession(c)
      performance.mark('parlor:signed-in')
      this.engine = engine
      ;(window as unknown as { parlor?: unknown }).parlor = { engine, app: this, liveErrors }
      const { online, pending } = engine.status()
      this.set({ phase: 'ready', me, status: { online, pending } })
      if (!navigator.onLine) void engine.disconnect()
      this.attach(engine)
      this.route()
    } catch (e) {
      const offline = (e as { code?: string }).code === 'offline'
      this.set({
        phase: 'signed-out',
        signInError: offline ? 'You’re offline. Signing in on this device for the first time needs the server.' : describeError(e),
      })
    }
  }

  async signOut(): Promise<void> {
    const engine = this.engine
    this.detach()
    this.engine = undefined
    forgetCredentials()
    await engine?.close()
    this.state = { ...initialState(), phase: 'signed-out', lastUserId: this.state.me?.userId }
    history.replaceState(null, '', location.pathname + location.search)
    this.set({})
  }

  private async reconnect(): Promise<void> {
    const engine = this.engine
    if (!engine) return
    await engine.disconnect()
    engine.connect()
  }

  private attach(engine: Engine): void {
    // The pill reads engine.status() after every change, not only on 'status' events: the engine
    // counts a queued mutation into status() at once without emitting 'status' for it (see the
    // engine issues in the web app's README).
    const readStatus = () => {
      const { online, pending } = engine.status()
      if (online !== this.state.status.online || pending !== this.state.status.pending) this.set({ status: { online, pending } })
    }
    this.sessionOffs.push(
      engine.on('status', ({ online, pending }) => this.set({ status: { online, pending } })),
      ...(['room', 'comment', 'options', 'room:removed', 'mutation:failed'] as const).map((ev) => engine.on(ev, () => queueMicrotask(readStatus))),
      engine.on('room:removed', ({ roomId }) => {
        const removed = new Set(this.state.removed).add(roomId)
        this.set({ removed })
      }),
      engine.on('mutation:failed', ({ mutation, error }) => this.onMutationFailed(mutation, error)),
      engine.on('room', (room) => {
        if (room.id === this.state.roomId && this.state.panel === 'participants' && room.type === 'channel') void this.loadChannelParticipants()
      }),
    )
    this.subscribeRoomList()
  }

  private detach(): void {
    for (const off of this.sessionOffs.splice(0)) off()
    for (const s of this.roomListSubs.splice(0)) s.unsubscribe()
    this.roomSub?.unsubscribe()
    this.roomSub = undefined
    this.participantsSub?.unsubscribe()
    this.participantsSub = undefined
    this.roomListPages = []
  }

  private onMutationFailed(mutation: { id: string; name: Mutation['name']; args: unknown }, error: unknown): void {
    if (mutation.name === 'markAsRead') return // harmless: the next view marks again
    if (mutation.name === 'sendComment') {
      const a = mutation.args as { roomId: string; uniqueId: string; text: string }
      const failed: FailedComment = { mutationId: mutation.id, roomId: a.roomId, uniqueId: a.uniqueId, text: a.text, reason: describeError(error), at: Date.now() }
      this.set({ failed: [...this.state.failed, failed] })
    }
    this.toast(describeFailure(mutation.name, error))
  }

  // ---- room list --------------------------------------------------------------------------------

  private subscribeRoomList(): void {
    for (let page = this.roomListSubs.length + 1; page <= this.state.roomPages; page++) this.subscribeRoomPage(page)
  }

  private subscribeRoomPage(page: number): void {
    const engine = this.engine!
    const params = { page, limit: ROOMS_PAGE, show_empty: true }
    this.roomListSubs.push(
      watch<Room[]>(engine, { type: 'roomList', ...params }, {
        next: (rooms) => {
          this.roomListPages[page - 1] = rooms
          const seen = new Set<string>()
          const all = this.roomListPages.flat().filter((r) => !seen.has(r.id) && seen.add(r.id))
          const last = this.roomListPages[this.state.roomPages - 1]
          this.set({ rooms: all, roomsLoaded: true, hasMoreRooms: (last?.length ?? 0) === ROOMS_PAGE })
        },
        error: (e) => this.toast(describeError(e)),
      }),
    )
  }

  showMoreRooms(): void {
    this.set({ roomPages: this.state.roomPages + 1 })
    this.subscribeRoomList()
  }

  // ---- the open room ----------------------------------------------------------------------------

  private route(): void {
    if (this.state.phase !== 'ready') return
    const roomId = roomIdFromHash(location.hash)
    if (roomId === this.state.roomId) return
    this.roomSub?.unsubscribe()
    this.roomSub = undefined
    this.participantsSub?.unsubscribe()
    this.participantsSub = undefined
    this.stickToBottom = true
    this.set({ roomId, room: undefined, roomMissing: undefined, older: [], hasOlder: false, participants: [], participantsPage: 1, options: undefined, panel: roomId ? this.state.panel : undefined })
    if (!roomId) return
    const engine = this.engine!
    this.roomSub = watch<RoomWithComments | undefined>(engine, { type: 'room', roomId }, {
      next: (room) => {
        if (this.state.roomId !== roomId) return
        if (!room) return void this.fetchUncachedRoom(roomId)
        this.onRoomValue(room)
      },
      error: (e) => {
        if (this.state.roomId !== roomId) return
        if (this.state.room) return this.toast(describeError(e))
        this.set({ roomMissing: describeError(e) })
      },
    })
    if (this.state.panel) this.openPanel(this.state.panel)
  }

  private onRoomValue(room: RoomWithComments): void {
    const me = this.state.me!.userId
    // Removed: the room says so (or 'room:removed' said so first); back in: a value listing me again.
    let removed = this.state.removed
    const isBackIn = !room.isRemoved && (room.type === 'channel' || room.participants?.some((p) => p.userId === me) === true)
    if (room.isRemoved && !removed.has(room.id)) removed = new Set(removed).add(room.id)
    else if (isBackIn && removed.has(room.id)) {
      removed = new Set(removed)
      removed.delete(room.id)
    }
    // The live value is the newest window of comments; keep what slid out of it on screen.
    const windowStart = room.comments.find((c) => c.id !== undefined)?.id ?? Infinity
    const slid = (this.state.room?.id === room.id ? this.state.room.comments : []).filter((c) => c.id !== undefined && c.id < windowStart)
    const known = new Set(this.state.older.map((c) => c.uniqueId))
    const older = [...this.state.older, ...slid.filter((c) => !known.has(c.uniqueId))]
    const firstId = older[0]?.id ?? room.comments.find((c) => c.id !== undefined)?.id
    const hasOlder = firstId !== undefined && firstId > 1
    if (room.comments.length !== this.state.room?.comments.length) this.stickToBottom ||= this.isOwnNewest(room.comments)
    this.set({ room, removed, older, hasOlder, roomMissing: undefined })
    if (this.state.options?.roomId !== room.id && this.state.panel === 'options') this.set({ options: draftFromRoom(room) })
    this.maybeMarkRead()
  }

  private isOwnNewest(comments: Comment[]): boolean {
    return comments.at(-1)?.sender.userId === this.state.me?.userId
  }

  /** A room the cache never held (a link to a channel, say): ask the relay once. */
  private async fetchUncachedRoom(roomId: string): Promise<void> {
    try {
      const room = await this.engine!.getRoomById(roomId)
      if (this.state.roomId === roomId && !this.state.room) this.set({ room: { ...room, isRemoved: false } })
    } catch (e) {
      if (this.state.roomId === roomId) this.set({ roomMissing: describeError(e) })
    }
  }

  /** Marks the open room read up to its newest comment while it is on screen. */
  private maybeMarkRead(): void {
    const { room, removed, phase } = this.state
    if (phase !== 'ready' || !room || removed.has(room.id) || room.unreadCount === 0) return
    if (document.visibilityState !== 'visible') return
    const newest = room.comments.reduce((max, c) => (c.id !== undefined && c.id > max ? c.id : max), 0)
    if (newest === 0 || (this.markedUpTo.get(room.id) ?? 0) >= newest) return
    this.markedUpTo.set(room.id, newest)
    this.engine!.markAsRead(room.id, newest).catch(() => this.markedUpTo.delete(room.id))
  }

  async loadOlder(): Promise<void> {
    const { room, older } = this.state
    if (!room || this.state.loadingOlder) return
    const before = older[0]?.id ?? room.comments.find((c) => c.id !== undefined)?.id
    if (before === undefined) return
    this.set({ loadingOlder: true })
    try {
      const page = await this.engine!.loadComments(room.id, { before, limit: 20 })
      if (this.state.roomId !== room.id) return
      const first = page.find((c) => c.id !== undefined)?.id
      this.set({ older: [...page, ...this.state.older], hasOlder: page.length > 0 && first !== undefined && first > 1 })
    } catch (e) {
      this.toast(describeError(e))
    } finally {
      this.set({ loadingOlder: false })
    }
  }

  async send(text: string): Promise<boolean> {
    const roomId = this.state.roomId
    if (!roomId || !text.trim()) return false
    try {
      this.stickToBottom = true
      await this.engine!.sendComment(roomId, text)
      return true
    } catch (e) {
      this.toast(describeError(e))
      return false
    }
  }

  async retry(f: FailedComment): Promise<void> {
    this.discard(f)
    try {
      this.stickToBottom = true
      await this.engine!.sendComment(f.roomId, f.text)
    } catch (e) {
      this.set({ failed: [...this.state.failed, { ...f, reason: describeError(e), at: Date.now() }] })
    }
  }

  discard(f: FailedComment): void {
    this.set({ failed: this.state.failed.filter((x) => x.mutationId !== f.mutationId) })
  }

  // ---- panels -----------------------------------------------------------------------------------

  togglePanel(panel: Panel): void {
    if (this.state.panel === panel) this.closePanel()
    else this.openPanel(panel)
  }

  closePanel(): void {
    this.participantsSub?.unsubscribe()
    this.participantsSub = undefined
    this.set({ panel: undefined, options: undefined })
  }

  openPanel(panel: Panel): void {
    this.participantsSub?.unsubscribe()
    this.participantsSub = undefined
    this.set({ panel, options: panel === 'options' && this.state.room ? draftFromRoom(this.state.room) : undefined })
    if (panel === 'participants') this.subscribeParticipants()
  }

  setParticipantsPage(page: number): void {
    this.set({ participantsPage: Math.max(1, page) })
    this.subscribeParticipants()
  }

  private subscribeParticipants(): void {
    this.participantsSub?.unsubscribe()
    this.participantsSub = undefined
    const roomId = this.state.roomId
    if (!roomId) return
    if (roomId.startsWith('c:')) return void this.loadChannelParticipants()
    const engine = this.engine!
    const page = this.state.participantsPage
    const query = { type: 'participants' as const, roomUniqueId: roomId, page, limit: PARTICIPANTS_PAGE }
    this.participantsSub = watch<Participant[] | undefined>(engine, query, {
      next: (list) => this.set({ participants: list ?? [], participantsError: undefined }),
      error: (e) => this.set({ participantsError: describeError(e) }),
    })
  }

  /** A channel's participants are not all cached: ask the engine (the relay when online). */
  private async loadChannelParticipants(): Promise<void> {
    const roomId = this.state.roomId
    if (!roomId) return
    const page = this.state.participantsPage
    try {
      const list = await this.engine!.getParticipants(roomId.slice(2), page, PARTICIPANTS_PAGE)
      if (this.state.roomId === roomId && this.state.participantsPage === page) this.set({ participants: list, participantsError: undefined })
    } catch (e) {
      if (this.state.roomId === roomId) this.set({ participantsError: describeError(e) })
    }
  }

  async addParticipants(text: string): Promise<boolean> {
    const roomId = this.state.roomId
    const ids = parseIds(text)
    if (!roomId || ids.length === 0) return false
    try {
      const added = await this.engine!.addParticipantsToGroup(roomId, ids)
      this.toast(added.length === 0 ? 'They are already in this room.' : `Added ${added.map((p) => p.username || p.userId).join(', ')}.`, 'info')
      return true
    } catch (e) {
      this.set({ participantsError: describeError(e) })
      return false
    }
  }

  async removeParticipant(userId: string): Promise<void> {
    const roomId = this.state.roomId
    if (!roomId) return
    try {
      await this.engine!.removeParticipantsFromGroup(roomId, [userId])
      if (userId === this.state.me?.userId) location.hash = '#/'
    } catch (e) {
      this.set({ participantsError: describeError(e) })
    }
  }

  editOptions(patch: Partial<NonNullable<AppState['options']>>): void {
    if (this.state.options) this.set({ options: { ...this.state.options, ...patch, saved: false, error: undefined } })
  }

  resetOptions(): void {
    if (this.state.room) this.set({ options: draftFromRoom(this.state.room) })
  }

  async saveOptions(): Promise<void> {
    const { options: draft, room } = this.state
    if (!draft || !room) return
    const built = optionsFromDraft(draft)
    if (typeof built === 'string') return this.set({ options: { ...draft, error: built } })
    try {
      await this.engine!.updateRoom({ id: room.id, options: built, ...(draft.name.trim() !== room.name && room.type !== 'single' && { room_name: draft.name.trim() }) })
      this.set({ options: { ...draft, saved: true, error: undefined } })
    } catch (e) {
      this.set({ options: { ...draft, error: describeError(e) } })
    }
  }

  // ---- new rooms --------------------------------------------------------------------------------

  async openNewRoom(kind: NewRoomKind = 'single'): Promise<void> {
    this.set({ newRoom: { kind, picks: [], contacts: [] } })
    // Contacts for the group picker: everyone in the user's cached rooms.
    try {
      const rooms = await this.engine!.loadRoomList({ limit: 100, show_empty: true, show_participants: true })
      const me = this.state.me!.userId
      const byId = new Map<string, { userId: string; username: string; avatarUrl: string }>()
      for (const r of rooms) for (const p of r.participants ?? []) if (p.userId !== me) byId.set(p.userId, { userId: p.userId, username: p.username, avatarUrl: p.avatarUrl })
      const contacts = [...byId.values()].sort((a, b) => (a.username || a.userId).localeCompare(b.username || b.userId))
      if (this.state.newRoom) this.set({ newRoom: { ...this.state.newRoom, contacts } })
    } catch {
      // no contacts: the picker still takes typed ids
    }
  }

  setNewRoom(patch: Partial<NonNullable<AppState['newRoom']>>): void {
    if (this.state.newRoom) this.set({ newRoom: { ...this.state.newRoom, ...patch, error: undefined } })
  }

  closeNewRoom(): void {
    this.set({ newRoom: undefined })
  }

  async submitNewRoom(input: NewRoomInput): Promise<void> {
    const dialog = this.state.newRoom
    if (!dialog || dialog.busy) return
    this.set({ newRoom: { ...dialog, busy: true, error: undefined } })
    const result = await createRoom(this.engine!, this.state.me!.userId, input)
    if (typeof result === 'string') return this.set({ newRoom: { ...dialog, busy: false, error: result } })
    this.set({ newRoom: undefined })
    location.hash = roomHref(result.id)
  }

  // ---- toasts -----------------------------------------------------------------------------------

  toast(text: string, kind: 'error' | 'info' = 'error'): void {
    const id = ++this.toastSeq
    this.set({ toasts: [...this.state.toasts.slice(-3), { id, text, kind }] })
    setTimeout(() => this.dismissToast(id), kind === 'error' ? 8000 : 4000)
  }

  dismissToast(id: number): void {
    this.set({ toasts: this.state.toasts.filter((t) => t.id !== id) })
  }
}
