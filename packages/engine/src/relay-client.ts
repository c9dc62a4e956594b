import {
  ParlorError,
  commentsValueSchema,
  parseWith,
  participantsValueSchema,
  roomByIdValueSchema,
  type Comment,
  type Participant,
  type Query,
  type Room,
} from '@parlor/protocol'
import { byJoinOrder } from './core/overlay.js'
import { statusFor, toComment, toParticipant, toRoom } from './core/present.js'
import type { Connection } from './net/connection.js'

const QUERY_TIMEOUT_MS = 15_000

interface Waiter {
  resolve(value: unknown): void
  reject(e: unknown): void
  timer: ReturnType<typeof setTimeout>
}

/**
 * Asks the relay, over the engine's one socket, for what the cache has never held. Offline it fails
 * at once with `offline`, never waiting for the network to come back.
 */
export class RelayClient {
  private nextId = 1
  private readonly waiting = new Map<number, Waiter>()
  private askFn: (query: Query) => Promise<unknown> = (q) => this.ask(q)

  constructor(
    private readonly conn: Connection,
    private readonly caughtUp: () => boolean,
  ) {}

  isReady(): boolean {
    return this.caughtUp() && this.conn.isOpen
  }

  /** The same typed queries, sent through another path (the leader tab). */
  via(ask: (query: Query) => Promise<unknown>): RelayClient {
    const client = Object.create(this) as RelayClient
    client.askFn = ask
    return client
  }

  /** Sends a query on the socket and resolves with the relay's unvalidated value. */
  ask(query: Query): Promise<unknown> {
    if (!this.isReady()) return Promise.reject(new ParlorError('offline', 'the relay is not reachable and the cache does not hold this'))
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id)
        reject(new ParlorError('timeout', `the relay did not answer ${query.name} in time`))
      }, QUERY_TIMEOUT_MS)
      this.waiting.set(id, { resolve, reject, timer })
      if (!this.conn.send({ type: 'query', id, query })) this.fail(id, { code: 'offline', message: 'the socket closed' })
    })
  }

  private async askTyped<T>(query: Query, schema: { safeParse(v: unknown): unknown; parse(v: unknown): T }): Promise<T> {
    return parseWith(schema as never, await this.askFn(query), query.name) as T
  }

  settle(frame: { id: number; ok: true; value: unknown } | { id: number; ok: false; error: { code: string; message: string } }): void {
    if (!frame.ok) return this.fail(frame.id, frame.error)
    const w = this.waiting.get(frame.id)
    if (!w) return
    this.waiting.delete(frame.id)
    clearTimeout(w.timer)
    w.resolve(frame.value)
  }

  fail(id: number, error: { code: string; message: string }): void {
    const w = this.waiting.get(id)
    if (!w) return
    this.waiting.delete(id)
    clearTimeout(w.timer)
    w.reject(ParlorError.fromWire(error))
  }

  disconnected(): void {
    for (const id of [...this.waiting.keys()]) this.fail(id, { code: 'offline', message: 'the socket closed' })
  }

  async roomById(roomId: string, me: string): Promise<Room & { comments: Comment[] }> {
    const v = await this.askTyped({ name: 'getRoomById', args: { roomId } }, roomByIdValueSchema)
    const participants = [...v.participants].filter((p) => !p.isRemoved).sort(byJoinOrder)
    const names = new Map(participants.map((p) => [p.userId, p.username]))
    const room = toRoom(
      {
        room: { ...v.room, lastReadCommentId: 0, removedKey: v.room.isRemoved ? 1 : 0, hasCommentsKey: v.room.hasComments ? 1 : 0 },
        ...(v.room.type !== 'channel' && { participants }),
        pendingComments: [],
        pendingCount: 0,
      },
      { me, showParticipants: true, usernameOf: (id) => names.get(id) ?? id },
    )!
    return { ...room, comments: v.comments.map((c) => toComment(c, statusFor(c, me, participants))) }
  }

  async participants(roomUniqueId: string, page: number, limit: number): Promise<Participant[]> {
    const v = await this.askTyped({ name: 'getParticipants', args: { roomUniqueId, page, limit } }, participantsValueSchema)
    return v.participants.map(toParticipant)
  }

  async comments(roomId: string, limit: number, before: number | undefined): Promise<Comment[]> {
    const args = { roomId, limit, ...(before !== undefined && { before }) }
    const v = await this.askTyped({ name: 'loadComments', args }, commentsValueSchema)
    return v.comments.map((c) => toComment(c))
  }
}
