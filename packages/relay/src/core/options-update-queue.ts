/**
 * Options updates sent outside mutations (the y-websocket endpoint), grouped (group-commit.ts): the
 * updates that arrive while the previous group is being written (or within one turn of the event
 * loop) share one write transaction, since the commit costs more than checking an update.
 *
 * Each update is still checked on its own, in arrival order, against the room's document as the
 * updates before it left it, and with the same authorization as `updateOptions` (an active
 * participant). A refused one is answered alone, with its code, before anything of it is written
 * (checks only read): the others of the group are applied and the document is unharmed. All the
 * updates of one room in a group take one seq and make one change (one room row written, one update
 * published, merged); changes are published after the commit, in seq order. If the transaction
 * itself fails, none of the group was applied and every update of it gets the error.
 */
import { ParlorError, type RoomRecord } from '@parlor/protocol'
import { markEcho, type RelayChange } from '../fanout/fanout.js'
import type { StorageTx, UserRow } from '../storage/relay-storage.js'
import { createGroupCommit, type RunWrite } from './group-commit.js'
import { requireActive, requireRoom } from './guards.js'
import type { OptionsDocs } from './options-docs.js'
import { WriteScope } from './write-scope.js'

export type { RunWrite } from './group-commit.js'

export interface OptionsUpdateQueueOptions {
  write: RunWrite
  docs: OptionsDocs
  now: () => number
  /** At most this many updates in one transaction (the rest go in the next). Default 256. */
  maxBatch?: number
}

interface Pending {
  userId: string
  roomId: string
  update: Uint8Array
  /** Who sent it (a socket), marked on the room's change when that is exactly its update (see `markEcho`). */
  origin?: object
}

/** An update's outcome: whether it changed anything, or why it was refused. */
type Outcome = boolean | Error

export const defaultOptionsUpdateQueueOptions = { maxBatch: 256 } as const

export function createOptionsUpdateQueue(options: OptionsUpdateQueueOptions) {
  const { docs, now } = options
  const group = createGroupCommit<Pending, Outcome>({
    write: options.write,
    maxWeight: options.maxBatch ?? defaultOptionsUpdateQueueOptions.maxBatch,
    // The updates of many sockets arrive in one I/O phase: they go together.
    waitsForTurn: true,
    apply: applyBatch,
    onFailure: (batch, e) => {
      // The documents in memory may hold what the transaction wrote before it failed.
      docs.forget(new Set(batch.map((p) => p.roomId)))
      const error = e instanceof Error ? e : new Error(String(e))
      return batch.map(() => error)
    },
  })

  /** Checks and stores the batch: one outcome per update (whether it changed anything, or its refusal). */
  async function applyBatch(tx: StorageTx, batch: Pending[]): Promise<{ value: Outcome[]; changes: RelayChange[] }> {
    const users = new Map<string, UserRow | undefined>()
    /** Per room: whether it changed, and `soleUpdate`: the one update that changed it when that update is the whole change. */
    const rooms = new Map<string, { room: RoomRecord; scope?: WriteScope; isChanged: boolean; soleUpdate?: Pending | undefined }>()
    const access = new Map<string, ParlorError | undefined>()
    const outcomes: Outcome[] = []
    /** The checks of one update: only reads, so a refusal leaves nothing to undo. */
    const check = async (p: Pending) => {
      if (!users.has(p.userId)) users.set(p.userId, await tx.getUser(p.userId))
      const actor = users.get(p.userId)
      if (!actor) throw new ParlorError('unauthorized', `user ${p.userId} does not exist`)
      let r = rooms.get(p.roomId)
      if (!r) rooms.set(p.roomId, (r = { room: await requireRoom(tx, p.roomId), isChanged: false }))
      const accessKey = `${p.roomId}\n${p.userId}`
      if (!access.has(accessKey)) access.set(accessKey, await requireActive(tx, r.room, p.userId).then(() => undefined, refusalOnly))
      const denied = access.get(accessKey)
      if (denied) throw denied
      return { actor, r, prepared: await docs.prepare(tx, r.room, p.update) }
    }
    for (const p of batch) {
      let checked: Awaited<ReturnType<typeof check>>
      try {
        checked = await check(p)
      } catch (e) {
        outcomes.push(refusalOnly(e))
        continue
      }
      const { actor, r, prepared } = checked
      if (!prepared) {
        outcomes.push(false)
        continue
      }
      // Storing is no check: if it fails, the transaction fails (flush answers every update).
      r.scope ??= new WriteScope(tx, actor, now(), docs)
      await docs.store(r.scope, r.room, prepared)
      // The sender has all of the change when what is published is exactly what it sent (the relay
      // added nothing: no removal of entries the update made lose, no conversion of older options).
      r.soleUpdate = !r.isChanged && equalBytes(prepared.toPublish, p.update) ? p : undefined
      r.isChanged = true
      outcomes.push(true)
    }
    const changes: RelayChange[] = []
    for (const r of rooms.values()) {
      if (!r.isChanged || !r.scope) continue
      await r.scope.saveRoom(r.room, { isOptionsOnly: true })
      const made = r.scope.changes()
      if (r.soleUpdate?.origin && made.length === 1) markEcho(made[0]!, r.soleUpdate.origin)
      changes.push(...made)
    }
    // Published in seq order (a room's seq is taken when its first update is stored).
    changes.sort((a, b) => a.seq - b.seq)
    return { value: outcomes, changes }
  }

  return {
    /**
     * Applies an options update of `userId` to room `roomId` with the updates grouped with it.
     * Resolves (whether it changed anything) after its change is committed and published; a change
     * that is exactly this update is marked as the echo of `origin` (the socket that sent it).
     * `forbidden` unless an active participant; `not_found`; `unauthorized`; `validation`/`limit_exceeded`.
     */
    async submit(userId: string, roomId: string, update: Uint8Array, origin?: object): Promise<boolean> {
      const outcome = await group.submit({ userId, roomId, update, ...(origin && { origin }) })
      if (outcome instanceof Error) throw outcome
      return outcome
    },

    /** Puts updates waiting for the end of the turn in line for the write lock now (before closing). */
    flushNow: (): void => group.flushNow(),
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

/** Refusals (domain errors) become answers; anything else (storage failures) fails the transaction. */
function refusalOnly(e: unknown): ParlorError {
  if (e instanceof ParlorError && e.code !== 'internal') return e
  throw e
}
