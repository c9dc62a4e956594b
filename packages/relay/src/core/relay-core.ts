/**
 * The relay core: everything the relay does, knowing no transport. HTTP and the socket both call it,
 * so a mutation behaves the same on either path (exactly once per user and mutation id, published
 * to live subscribers after commit).
 */
import {
  ParlorError,
  toParlorError,
  type Mutation,
  type MutationName,
  type MutationResult,
  type MutationValue,
  type SessionResponse,
} from '@parlor/protocol'
import { issueToken, verifyToken, type VerifiedToken } from '../auth.js'
import { markEcho, type Fanout, type RelayChange } from '../fanout/fanout.js'
import type { Logger } from '../logger.js'
import { createAsyncMutex } from '../storage/async-mutex.js'
import type { RelayStorage, StorageReader, StorageTx, UserRow } from '../storage/relay-storage.js'
import { withRowCache } from '../storage/row-cache.js'
import { addParticipants, removeParticipants } from './member-mutations.js'
import { markAsRead, sendComment } from './comment-mutations.js'
import { catchUp, roomSync, runQuery, streamCatchUp, type CatchUp, type StreamedCatchUp } from './read-model.js'
import type { EncodedSyncFrame } from './sync-frame-writer.js'
import { chatTarget, createGroupRoom, getOrCreateChannel, updateOptions, updateRoom } from './room-mutations.js'
import { OptionsDocs } from './options-docs.js'
import { createGroupCommit } from './group-commit.js'
import { createOptionsUpdateQueue } from './options-update-queue.js'
import { openSession } from './session.js'
import { WriteScope } from './write-scope.js'
import { requireActive, requireReadable, requireRoom } from './guards.js'

type Handler = (scope: WriteScope, args: never) => Promise<MutationValue>

/** A mutation frame waiting for its write transaction. */
interface PendingFrame {
  userId: string
  mutations: readonly Mutation[]
  /** Who will get the results (a socket), for changes whose rows the results repeat (see `markEcho`). */
  origin?: object
}

/** The most mutations one group-committed transaction takes (a frame is never split). */
const MAX_GROUP_MUTATIONS = 1_000
const MUTATIONS: Record<MutationName, Handler> = {
  chatTarget,
  createGroupRoom,
  getOrCreateChannel,
  updateRoom,
  updateOptions,
  addParticipants,
  removeParticipants,
  sendComment,
  markAsRead,
}

export interface RelayCoreOptions {
  storage: RelayStorage
  fanout: Fanout
  logger: Logger
  secret: string
  tokenTtlMs: number
  now?: () => number
  /** How long an options document nobody uses stays in memory, in ms (default 2 000). */
  optionsIdleMs?: number
}

export type RelayCore = ReturnType<typeof createRelayCore>

export function createRelayCore(options: RelayCoreOptions) {
  const { fanout, logger, secret, tokenTtlMs } = options
  // A group of mutations mostly touches the same few rows: each is read and written once per transaction.
  const storage = withRowCache(options.storage)
  const now = options.now ?? Date.now
  // Commit and publish happen under one lock, so changes reach subscribers in seq order.
  const writeLock = createAsyncMutex()
  let isClosed = false
  const checkOpen = () => {
    if (isClosed) throw new ParlorError('closed', 'the relay is shutting down; try again shortly')
  }

  /** Runs a write transaction, then publishes the changes it returns, in seq order. */
  // async, so a refusal is a rejected promise; the check still runs at call time, before any await.
  async function write<T>(fn: (tx: StorageTx) => Promise<{ value: T; changes: RelayChange[] }>): Promise<T> {
    checkOpen()
    return writeLock.run(async () => {
      const { value, changes } = await storage.transaction(fn)
      for (const change of changes) await fanout.publish(change)
      return value
    })
  }

  async function read<T>(fn: (reader: StorageReader) => Promise<T>): Promise<T> {
    checkOpen()
    return storage.read(fn)
  }

  const optionsDocs = new OptionsDocs({
    logger,
    now,
    ...(options.optionsIdleMs !== undefined && { idleMs: options.optionsIdleMs }),
    // Compaction is a write like any other (serialized with mutations), publishing nothing.
    runCompaction: (compact) =>
      write(async (tx) => {
        await compact(tx)
        return { value: undefined, changes: [] }
      }),
  })
  // Options updates from y-websocket sockets that arrive together share one write transaction.
  const optionsUpdates = createOptionsUpdateQueue({ write, docs: optionsDocs, now })

  /** The result of a refused mutation (or of a frame that could not run). */
  const refusal = (mutationId: string, e: unknown, userId: string): MutationResult => {
    const error = toParlorError(e)
    if (error.code === 'internal') logger.error('mutation failed unexpectedly', { err: e, userId, mutationId })
    return { mutationId, ok: false, error: { code: error.code, message: error.message } }
  }

  /**
   * Applies one mutation inside the frame's transaction, in a savepoint: a refusal undoes only its
   * own writes. Refusals are stored like successes (so a replay gets the same answer); transient
   * failures are not, so a retry may still succeed.
   */
  async function applyInFrame(tx: StorageTx, actor: UserRow, mutation: Mutation, origin?: object): Promise<{ result: MutationResult; changes: RelayChange[] }> {
    const { id: mutationId } = mutation
    const stored = await tx.getMutationResult(actor.userId, mutationId)
    if (stored) return { result: stored, changes: [] }
    try {
      return await tx.savepoint(async () => {
        const scope = new WriteScope(tx, actor, now(), optionsDocs)
        const value = await MUTATIONS[mutation.name](scope, mutation.args as never)
        const result: MutationResult = { mutationId, ok: true, value }
        await tx.putMutationResult(actor.userId, mutationId, result)
        const changes = scope.changes()
        // A new comment's change is its room and the comment: what its result holds too.
        if (origin && mutation.name === 'sendComment' && changes.length === 1 && !changes[0]!.participants && changes[0]!.optionsUpdate === undefined) {
          markEcho(changes[0]!, origin)
        }
        return { result, changes }
      })
    } catch (e) {
      const result = refusal(mutationId, e, actor.userId)
      if (!toParlorError(e).retryable) await tx.putMutationResult(actor.userId, mutationId, result)
      return { result, changes: [] }
    }
  }

  /**
   * Mutation frames (a socket's `mutate`, an HTTP batch) waiting for a write transaction: those that
   * arrive in the same turn of the event loop or while one is being written share the next one, up
   * to MAX_GROUP_MUTATIONS mutations (under load many sockets each send a few mutations, and each
   * commit costs more than they do).
   */
  const frames = createGroupCommit<PendingFrame, MutationResult[]>({
    write,
    maxWeight: MAX_GROUP_MUTATIONS,
    // The frames of many sockets arrive in one I/O phase: they go together (one commit, not one each).
    waitsForTurn: true,
    weight: (frame) => frame.mutations.length,
    apply: async (tx, group) => {
      const value: MutationResult[][] = []
      const changes: RelayChange[] = []
      for (const frame of group) {
        const actor = await tx.getUser(frame.userId)
        if (!actor) {
          const unknown = new ParlorError('unauthorized', `user ${frame.userId} does not exist`)
          value.push(frame.mutations.map((m) => refusal(m.id, unknown, frame.userId)))
          continue
        }
        // The frame's stored results and its comments' unique ids, looked up at once: the row cache
        // keeps what they answer, so each mutation's lookups cost nothing (on PostgreSQL, a round trip each).
        await tx.getMutationResults(frame.userId, frame.mutations.map((m) => m.id))
        const keys = frame.mutations.flatMap((m) => (m.name === 'sendComment' ? [{ roomId: m.args.roomId, uniqueId: m.args.uniqueId }] : []))
        if (keys.length > 0) await tx.getCommentsByUniqueIds(keys)
        const results: MutationResult[] = []
        for (const mutation of frame.mutations) {
          const applied = await applyInFrame(tx, actor, mutation, frame.origin)
          results.push(applied.result)
          changes.push(...applied.changes)
        }
        value.push(results)
      }
      return { value, changes }
    },
    onFailure: (group, e) => {
      // The documents in memory may hold what the transaction wrote before it failed.
      optionsDocs.forget(new Set(group.flatMap((frame) => frame.mutations.map((m) => m.args.roomId))))
      return group.map((frame) => frame.mutations.map((m) => refusal(m.id, e, frame.userId)))
    },
  })

  const revokedListeners = new Set<(sessionId: string) => void>()

  /**
   * The user and session a token signs in; `unauthorized` (also for a user that does not exist or a
   * revoked session) or `token_expired`.
   */
  async function authenticate(token: string | undefined): Promise<VerifiedToken> {
    const verified = verifyToken(secret, token, now())
    const [user, isRevoked] = await read(async (r) => [await r.getUser(verified.userId), await r.isSessionRevoked(verified.sessionId)] as const)
    if (!user) throw new ParlorError('unauthorized', 'the session token names an unknown user')
    if (isRevoked) throw new ParlorError('unauthorized', 'this session was logged out; sign in again')
    return verified
  }

  return {
    authenticate,

    /** Of the sessions named, those revoked since (sockets re-check theirs on every heartbeat). */
    revokedAmong: (sessionIds: readonly string[]): Promise<Set<string>> =>
      read(async (r) => {
        const revoked = new Set<string>()
        for (const id of new Set(sessionIds)) if (await r.isSessionRevoked(id)) revoked.add(id)
        return revoked
      }),

    /**
     * `POST /v1/logout`: revokes the token's session for good (stored, so a restart keeps it revoked)
     * and tells the listeners (the socket server closes that session's sockets).
     */
    async logout(token: string | undefined): Promise<{ ok: true }> {
      const { sessionId, userId, expiresAt } = await authenticate(token)
      await write(async (tx) => {
        await tx.revokeSession({ sessionId, userId, expiresAt, revokedAt: now() })
        return { value: undefined, changes: [] }
      })
      for (const fn of revokedListeners) fn(sessionId)
      return { ok: true }
    },

    /** Calls `fn` with the id of every session revoked on this node; returns the unsubscribe function. */
    onSessionRevoked(fn: (sessionId: string) => void): () => void {
      revokedListeners.add(fn)
      return () => revokedListeners.delete(fn)
    },

    openSession: (body: unknown): Promise<SessionResponse> =>
      openSession({ read, write, body, now, issue: (userId) => issueToken(secret, userId, tokenTtlMs, now()) }),

    mintToken: (userId: string, ttlMs: number = tokenTtlMs): string => issueToken(secret, userId, ttlMs, now()).token,

    /**
     * Applies validated mutations in order, at most once per (user, mutation id); one result per
     * mutation. They share one write transaction (a commit costs more than most mutations), each in
     * its own savepoint, with the frames of other sockets and requests that came meanwhile (see
     * `frames`); their changes are published after it commits. Domain refusals are
     * results. If the transaction itself fails, nothing of it was applied and every mutation gets the error.
     * `origin` (the socket that will send the results) is marked on the changes the results repeat.
     */
    applyMutations(userId: string, mutations: readonly Mutation[], origin?: object): Promise<MutationResult[]> {
      return mutations.length === 0 ? Promise.resolve([]) : frames.submit({ userId, mutations, ...(origin && { origin }) })
    },

    query: (userId: string, body: unknown) => read((r) => runQuery(r, userId, body, optionsDocs)),
    catchUp: (userId: string, cursor: number, epoch?: number): Promise<CatchUp> =>
      read((r) => catchUp(r, userId, cursor, epoch, optionsDocs)),
    /** The catch-up as frames a socket sends, each handed to `emit` as soon as it is full (see streamCatchUp). */
    streamCatchUp: (userId: string, cursor: number, epoch: number | undefined, emit: (frame: EncodedSyncFrame) => void): Promise<StreamedCatchUp> =>
      read((r) => streamCatchUp(r, userId, cursor, epoch, optionsDocs, emit)),
    roomSync: (userId: string, roomId: string, cursor: number) => read((r) => roomSync(r, userId, roomId, cursor, optionsDocs)),

    /**
     * A room's options document for `userId` (y-websocket endpoint): its state and whether the user
     * may write it. `not_found`; `forbidden` unless the user may read it (participants; anyone signed
     * in for a channel).
     */
    optionsDoc: (userId: string, roomId: string): Promise<{ state: Uint8Array | undefined; canWrite: boolean }> =>
      read(async (r) => {
        const room = await requireRoom(r, roomId)
        const me = await requireReadable(r, room, userId)
        return { state: (await optionsDocs.load(r, room)).state, canWrite: me !== undefined && !me.isRemoved }
      }),

    /**
     * Applies an options update sent outside a mutation (y-websocket endpoint): the same checks and
     * publication as `updateOptions`, without a mutation id (Yjs updates are idempotent), in one
     * write transaction with the updates that arrive with it (see options-update-queue.ts). Whether
     * it changed anything. `origin` (the socket that sent it) is marked on a change that is exactly
     * this update (see `markEcho`). `forbidden` unless an active participant; `validation`/`limit_exceeded`.
     */
    async applyOptionsUpdate(userId: string, roomId: string, update: Uint8Array, origin?: object): Promise<boolean> {
      checkOpen()
      return optionsUpdates.submit(userId, roomId, update, origin)
    },

    /** Options documents held in memory (metrics, tests). */
    optionsDocsInMemory: (): number => optionsDocs.size,

    /**
     * Refuses new work with `closed` (retryable, never stored as a mutation result) and resolves once
     * every write already started has committed and been published.
     */
    async close(): Promise<void> {
      // What was accepted before waits for the end of the turn: it is written, not refused.
      frames.flushNow()
      optionsUpdates.flushNow()
      isClosed = true
      optionsDocs.close()
      await writeLock.idle()
    },
  }
}
