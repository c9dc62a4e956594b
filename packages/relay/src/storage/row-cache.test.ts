import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it, onTestFinished } from 'vitest'
import { comment, participant, room, runRelayStorageContract, user } from './contract.js'
import type { RelayStorage, StorageReader, StorageTx } from './relay-storage.js'
import { withRowCache } from './row-cache.js'
import { createSqliteStorage } from './sqlite.js'

const tempDir = () => mkdtemp(join(tmpdir(), 'parlor-row-cache-'))

runRelayStorageContract(async () => {
  const dataDir = await tempDir()
  return {
    storage: withRowCache(await createSqliteStorage({ dataDir })),
    reopen: async () => withRowCache(await createSqliteStorage({ dataDir })),
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
  }
}, 'SQLite storage with the row cache passes the RelayStorage contract')

const ROOMS = ['g:a', 'g:b', 'g:c']
const USERS = ['alice', 'bob', 'carol']

/** One step of a transaction; `savepoint` runs its steps inside one and throws at the end if asked. */
type Op =
  | { kind: 'getRoom'; roomId: string; scribble: boolean }
  | { kind: 'putRoom'; roomId: string; name: string }
  | { kind: 'getParticipant'; roomId: string; userId: string }
  | { kind: 'putParticipant'; roomId: string; userId: string; lastRead: number; isRemoved: boolean }
  | { kind: 'getUser'; userId: string }
  | { kind: 'putUser'; userId: string; username: string }
  | { kind: 'listMemberships'; userId: string }
  | { kind: 'countParticipants'; roomId: string }
  | { kind: 'listParticipants'; roomId: string }
  | { kind: 'listActiveRoomIds'; userId: string }
  | { kind: 'nextSeq' }
  | { kind: 'currentSeq' }
  | { kind: 'sendComment'; roomId: string; uniqueId: string }
  | { kind: 'getCommentByUniqueId'; roomId: string; uniqueId: string }
  | { kind: 'getCommentsByUniqueIds'; roomId: string }
  | { kind: 'listComments'; roomId: string }
  | { kind: 'countUnread'; roomId: string; userId: string }
  | { kind: 'putResult'; userId: string; mutationId: string }
  | { kind: 'getMutationResult'; userId: string; mutationId: string }
  | { kind: 'getMutationResults'; userId: string }
  | { kind: 'savepoint'; ops: Op[]; throws: boolean }

const UNIQUE_IDS = ['u1', 'u2', 'u3']
const MUTATION_IDS = ['m1', 'm2', 'm3']
const roomId = fc.constantFrom(...ROOMS)
const userId = fc.constantFrom(...USERS)
const uniqueId = fc.constantFrom(...UNIQUE_IDS)
const mutationId = fc.constantFrom(...MUTATION_IDS)
const leaf: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('getRoom' as const), roomId, scribble: fc.boolean() }),
  fc.record({ kind: fc.constant('putRoom' as const), roomId, name: fc.string({ maxLength: 4 }) }),
  fc.record({ kind: fc.constant('getParticipant' as const), roomId, userId }),
  fc.record({ kind: fc.constant('putParticipant' as const), roomId, userId, lastRead: fc.nat(9), isRemoved: fc.boolean() }),
  fc.record({ kind: fc.constant('getUser' as const), userId }),
  fc.record({ kind: fc.constant('putUser' as const), userId, username: fc.string({ maxLength: 4 }) }),
  fc.record({ kind: fc.constant('listMemberships' as const), userId }),
  fc.record({ kind: fc.constant('countParticipants' as const), roomId }),
  fc.record({ kind: fc.constant('listParticipants' as const), roomId }),
  fc.record({ kind: fc.constant('listActiveRoomIds' as const), userId }),
  fc.record({ kind: fc.constant('nextSeq' as const) }),
  fc.record({ kind: fc.constant('currentSeq' as const) }),
  fc.record({ kind: fc.constant('sendComment' as const), roomId, uniqueId }),
  fc.record({ kind: fc.constant('getCommentByUniqueId' as const), roomId, uniqueId }),
  fc.record({ kind: fc.constant('getCommentsByUniqueIds' as const), roomId }),
  fc.record({ kind: fc.constant('listComments' as const), roomId }),
  fc.record({ kind: fc.constant('countUnread' as const), roomId, userId }),
  fc.record({ kind: fc.constant('putResult' as const), userId, mutationId }),
  fc.record({ kind: fc.constant('getMutationResult' as const), userId, mutationId }),
  fc.record({ kind: fc.constant('getMutationResults' as const), userId }),
)
const op: fc.Arbitrary<Op> = fc.letrec<{ op: Op }>((tie) => ({
  op: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.record({ kind: fc.constant('savepoint' as const), ops: fc.array(tie('op'), { maxLength: 6 }), throws: fc.boolean() }),
  ),
})).op

class Refused extends Error {}

/**
 * Runs the steps, recording what every read answered. A comment is inserted only when its unique id
 * is free, and a result only when its mutation has none (as the core does), with comment ids from
 * `ids` (the same for both stores, never used before).
 */
async function run(tx: StorageTx, ops: Op[], seen: unknown[], ids: { next: number }): Promise<void> {
  for (const o of ops) {
    switch (o.kind) {
      case 'sendComment': {
        const existing = await tx.getCommentByUniqueId(o.roomId, o.uniqueId)
        if (!existing) await tx.insertComment(comment(o.roomId, ids.next++, { uniqueId: o.uniqueId, sender: { userId: 'bob', username: 'bob', avatarUrl: '' } }))
        break
      }
      case 'getCommentByUniqueId':
        seen.push(await tx.getCommentByUniqueId(o.roomId, o.uniqueId))
        break
      case 'getCommentsByUniqueIds':
        seen.push(await tx.getCommentsByUniqueIds(UNIQUE_IDS.map((u) => ({ roomId: o.roomId, uniqueId: u }))))
        break
      case 'listComments':
        seen.push(await tx.listComments(o.roomId, { limit: 4 }))
        break
      case 'countUnread':
        seen.push(await tx.countUnread(o.roomId, o.userId, 0))
        break
      case 'putResult':
        if (!(await tx.getMutationResult(o.userId, o.mutationId))) {
          await tx.putMutationResult(o.userId, o.mutationId, { mutationId: o.mutationId, ok: true, value: { seen: seen.length } as never })
        }
        break
      case 'getMutationResult':
        seen.push(await tx.getMutationResult(o.userId, o.mutationId))
        break
      case 'getMutationResults':
        seen.push([...(await tx.getMutationResults(o.userId, MUTATION_IDS))])
        break
      case 'getRoom': {
        const r = await tx.getRoom(o.roomId)
        seen.push(r && { ...r })
        // A caller changing what it got must not change what the next read answers.
        if (r && o.scribble) r.name = 'scribbled'
        break
      }
      case 'putRoom':
        await tx.putRoom(room(o.roomId, { name: o.name }))
        break
      case 'getParticipant':
        seen.push(await tx.getParticipant(o.roomId, o.userId))
        break
      case 'putParticipant':
        await tx.putParticipant(participant(o.roomId, o.userId, { lastReadCommentId: o.lastRead, isRemoved: o.isRemoved }))
        break
      case 'getUser':
        seen.push(await tx.getUser(o.userId))
        break
      case 'putUser':
        await tx.putUser(user(o.userId, { username: o.username }))
        break
      case 'listMemberships':
        seen.push(await tx.listMemberships(o.userId, 0))
        break
      case 'countParticipants':
        seen.push(await tx.countParticipants(o.roomId))
        break
      case 'listParticipants':
        seen.push(await tx.listParticipants(o.roomId, { includeRemoved: true }))
        break
      case 'listActiveRoomIds':
        seen.push(await tx.listActiveRoomIds(o.userId))
        break
      case 'nextSeq':
        seen.push(await tx.nextSeq())
        break
      case 'currentSeq':
        seen.push(await tx.currentSeq())
        break
      case 'savepoint':
        try {
          await tx.savepoint(async () => {
            await run(tx, o.ops, seen, ids)
            if (o.throws) throw new Refused()
          })
        } catch (e) {
          if (!(e instanceof Refused)) throw e
          seen.push('refused')
        }
        break
    }
  }
}

async function everything(r: StorageReader) {
  return {
    rooms: await Promise.all(ROOMS.map((id) => r.getRoom(id))),
    users: await Promise.all(USERS.map((id) => r.getUser(id))),
    participants: await Promise.all(ROOMS.flatMap((id) => r.listParticipants(id, { includeRemoved: true }))),
    comments: await Promise.all(ROOMS.map((id) => r.listComments(id, { limit: 1000 }))),
    results: await Promise.all(USERS.map(async (u) => [...(await r.getMutationResults(u, MUTATION_IDS))])),
    seq: await r.currentSeq(),
  }
}

describe('row cache', () => {
  it('answers every read and leaves the database exactly as the adapter alone does, savepoints and failed transactions included', async () => {
    const open = async (wrap: (s: RelayStorage) => RelayStorage) => {
      const dataDir = await tempDir()
      const storage = wrap(await createSqliteStorage({ dataDir }))
      onTestFinished(async () => {
        await storage.close()
        await rm(dataDir, { recursive: true, force: true })
      })
      return storage
    }
    const plain = await open((s) => s)
    const cached = await open(withRowCache)
    const seed = async (s: RelayStorage) =>
      s.transaction(async (tx) => {
        await tx.putUser(user('alice'))
        await tx.putRoom(room('g:a'))
        await tx.putParticipant(participant('g:a', 'alice'))
      })
    await seed(plain)
    await seed(cached)
    let iteration = 0

    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 12 }), fc.boolean(), async (ops, commits) => {
        const base = (iteration += 1000)
        const outcome = async (s: RelayStorage) => {
          const seen: unknown[] = []
          try {
            await s.transaction(async (tx) => {
              await run(tx, ops, seen, { next: base })
              if (!commits) throw new Refused()
            })
          } catch (e) {
            if (!(e instanceof Refused)) throw e
          }
          return { seen, stored: await s.read(everything) }
        }
        expect(await outcome(cached)).toEqual(await outcome(plain))
      }),
      { numRuns: 300, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31) },
    )
  })

  it('writes a room and a participant changed many times in one transaction once, and takes one seq from the adapter', async () => {
    const dataDir = await tempDir()
    const sqlite = await createSqliteStorage({ dataDir })
    onTestFinished(async () => {
      await sqlite.close()
      await rm(dataDir, { recursive: true, force: true })
    })
    const calls = { putRoom: 0, putParticipant: 0, nextSeq: 0 }
    const counting: RelayStorage = {
      ...sqlite,
      transaction: (fn) =>
        sqlite.transaction((tx) =>
          fn({
            ...tx,
            putRoom: (r) => (calls.putRoom++, tx.putRoom(r)),
            putParticipant: (p) => (calls.putParticipant++, tx.putParticipant(p)),
            nextSeq: () => (calls.nextSeq++, tx.nextSeq()),
          }),
        ),
    }
    const seqs = await withRowCache(counting).transaction(async (tx) => {
      const taken: number[] = []
      for (let i = 0; i < 50; i++) {
        await tx.savepoint(async () => {
          taken.push(await tx.nextSeq())
          await tx.putRoom(room('g:a', { name: `n${i}` }))
          await tx.putParticipant(participant('g:a', 'alice', { lastReadCommentId: i }))
        })
      }
      return taken
    })
    expect(calls).toEqual({ putRoom: 1, putParticipant: 1, nextSeq: 1 })
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    await sqlite.read(async (r) => {
      expect((await r.getRoom('g:a'))?.name).toBe('n49')
      expect((await r.getParticipant('g:a', 'alice'))?.lastReadCommentId).toBe(49)
      expect(await r.currentSeq()).toBe(50)
    })
  })
})
