import { describe, expect, it, onTestFinished } from 'vitest'
import fc from 'fast-check'
import * as Y from 'yjs'
import {
  captureUpdate,
  compactOptionsState,
  decodeOptionsUpdate,
  isParlorError,
  optionsArray,
  optionsDocFrom,
  optionsOfState,
  setOption,
  validateOptionsUpdate,
  type ParticipantRecord,
  type RoomRecord,
} from '@parlor/protocol'
import { echoOrigin, type RelayChange } from '../fanout/fanout.js'
import { noopLogger } from '../logger.js'
import type { RelayStorage, StorageTx } from '../storage/relay-storage.js'
import { createSqliteStorage } from '../storage/sqlite.js'
import { tempDir } from '../testing/relay-fixture.js'
import { OptionsDocs } from './options-docs.js'
import { createOptionsUpdateQueue, type RunWrite } from './options-update-queue.js'

const room = (id: string): RoomRecord => ({
  id, uniqueId: id, type: 'group', name: 'n', avatarUrl: '', options: {}, participantCount: 1, lastComment: null,
  hasComments: false, createdAt: 1, updatedAt: 1, lastActivityAt: 1, version: 0,
})
const user = (userId: string) => ({ userId, username: userId, avatarUrl: '', keyHash: 'x', createdAt: 1, updatedAt: 1 })
const member = (roomId: string, userId: string, isRemoved = false): ParticipantRecord => ({
  roomId, userId, username: userId, avatarUrl: '', joinedAt: 1, lastReadCommentId: 0, lastReceivedCommentId: 0, isRemoved, version: 0,
})

/** A queue on real SQLite storage; `failNext` makes the next transaction fail after its function ran. */
async function setup(rooms: string[]) {
  const storage: RelayStorage = await createSqliteStorage({ dataDir: await tempDir() })
  onTestFinished(() => storage.close())
  await storage.transaction(async (tx) => {
    for (const u of ['alice', 'bob', 'eve', 'gone']) await tx.putUser(user(u))
    for (const id of rooms) {
      await tx.putRoom(room(id))
      await tx.putParticipant(member(id, 'alice'))
      await tx.putParticipant(member(id, 'bob'))
      await tx.putParticipant(member(id, 'gone', true))
    }
  })
  const docs = new OptionsDocs({
    logger: noopLogger,
    runCompaction: (compact) => storage.transaction(compact),
  })
  onTestFinished(() => docs.close())
  const published: RelayChange[] = []
  const transactions: number[] = []
  let failNext = false
  const write: RunWrite = async (fn) => {
    const { value, changes } = await storage.transaction(async (tx: StorageTx) => {
      const result = await fn(tx)
      if (failNext) {
        failNext = false
        throw new Error('disk full')
      }
      return result
    })
    transactions.push(changes.length)
    published.push(...changes)
    return value
  }
  const queue = createOptionsUpdateQueue({ write, docs, now: () => 5 })
  const stored = async (roomId: string) => {
    const rows = await storage.read((r) => r.listOptionsUpdates(roomId))
    return rows.length === 0 ? undefined : compactOptionsState(rows.map((r) => r.update))
  }
  return { storage, docs, queue, published, transactions, stored, failNext: () => (failNext = true) }
}

/** Settles like Promise.allSettled, as code or value. */
const settle = (ps: Promise<boolean>[]) =>
  Promise.all(ps.map((p) => p.then((v) => v as boolean | string, (e: unknown) => (isParlorError(e) ? e.code : `thrown: ${String(e)}`))))

describe('options update queue', () => {
  it('puts the updates that arrive together in one transaction, one change per room, in seq order', async () => {
    const { queue, published, transactions, stored } = await setup(['g:1', 'g:2'])
    const a = optionsDocFrom([], 1)
    const b = optionsDocFrom([], 2)
    const results = await settle([
      queue.submit('alice', 'g:1', captureUpdate(a, (d) => setOption(d, 'x', '1'))!),
      queue.submit('bob', 'g:2', captureUpdate(b, (d) => setOption(d, 'y', '1'))!),
      queue.submit('alice', 'g:1', captureUpdate(a, (d) => setOption(d, 'x', '2'))!),
    ])
    expect(results).toEqual([true, true, true])
    expect(transactions).toEqual([2])
    expect(published.map((c) => c.roomId)).toEqual(['g:1', 'g:2'])
    expect(published[1]!.seq).toBe(published[0]!.seq + 1)
    // The later update of a room wins: order is kept within the group.
    expect(optionsOfState(decodeOptionsUpdate(published[0]!.optionsUpdate!))).toEqual({ x: '2' })
    expect(optionsOfState(await stored('g:1'))).toEqual({ x: '2' })
    expect(optionsOfState(await stored('g:2'))).toEqual({ y: '1' })
  })

  it('marks a change that is exactly one sender\'s update with that sender, and no other change', async () => {
    const { queue, published } = await setup(['g:1', 'g:2'])
    const [alice, bob] = [{ socket: 'alice' }, { socket: 'bob' }]
    const doc = (clientId: number) => optionsDocFrom([], clientId)
    // Alone in its room: the change is the update as sent.
    expect(await queue.submit('alice', 'g:1', captureUpdate(doc(1), (d) => setOption(d, 'x', '1'))!, alice)).toBe(true)
    // Two updates of one room in one group: each sender lacks the other's.
    await settle([
      queue.submit('alice', 'g:2', captureUpdate(doc(2), (d) => setOption(d, 'y', '1'))!, alice),
      queue.submit('bob', 'g:2', captureUpdate(doc(3), (d) => setOption(d, 'z', '1'))!, bob),
    ])
    // The same key set by another client without having seen alice's entry: the relay removes one.
    expect(await queue.submit('bob', 'g:1', captureUpdate(doc(4), (d) => setOption(d, 'x', '2'))!, bob)).toBe(true)
    expect(published.map((c) => [c.roomId, echoOrigin(c)])).toEqual([['g:1', alice], ['g:2', undefined], ['g:1', undefined]])
  })

  it('answers a refused update alone with its code; the others of its group are applied and the document is unharmed', async () => {
    const { queue, stored, published } = await setup(['g:1'])
    const a = optionsDocFrom([], 1)
    const ok1 = captureUpdate(a, (d) => setOption(d, 'k', 'v1'))!
    const hostile = captureUpdate(optionsDocFrom([], 9), (d) => (optionsArray(d) as unknown as Y.Array<unknown>).push([new Y.Map()]))!
    const ok2 = captureUpdate(a, (d) => setOption(d, 'k', 'v2'))!
    const results = await settle([
      queue.submit('alice', 'g:1', ok1),
      queue.submit('alice', 'g:1', hostile),
      queue.submit('eve', 'g:1', captureUpdate(optionsDocFrom([], 3), (d) => setOption(d, 'e', 'x'))!),
      queue.submit('gone', 'g:1', captureUpdate(optionsDocFrom([], 4), (d) => setOption(d, 'g', 'x'))!),
      queue.submit('nobody', 'g:1', captureUpdate(optionsDocFrom([], 5), (d) => setOption(d, 'n', 'x'))!),
      queue.submit('alice', 'g:none', ok1),
      queue.submit('alice', 'g:1', new Uint8Array([1, 2, 3])),
      queue.submit('alice', 'g:1', ok2),
      queue.submit('bob', 'g:1', ok2),
    ])
    expect(results).toEqual([true, 'validation', 'forbidden', 'forbidden', 'unauthorized', 'not_found', 'validation', true, false])
    expect(optionsOfState(await stored('g:1'))).toEqual({ k: 'v2' })
    expect(published).toHaveLength(1)
    // Later updates are checked against the document as the accepted ones left it.
    const next = captureUpdate(a, (d) => setOption(d, 'k2', 'w'))!
    expect(await queue.submit('bob', 'g:1', next)).toBe(true)
    expect(optionsOfState(await stored('g:1'))).toEqual({ k: 'v2', k2: 'w' })
  })

  it('answers every update of a transaction that failed with its error; nothing of it is kept, in storage or in memory', async () => {
    const { queue, stored, failNext, published, storage, docs } = await setup(['g:1'])
    const a = optionsDocFrom([], 1)
    expect(await queue.submit('alice', 'g:1', captureUpdate(a, (d) => setOption(d, 'k', 'kept'))!)).toBe(true)
    failNext()
    const lost = optionsDocFrom([await stored('g:1')], 2)
    const results = await settle([
      queue.submit('alice', 'g:1', captureUpdate(lost, (d) => setOption(d, 'k', 'lost'))!),
      queue.submit('bob', 'g:1', captureUpdate(lost, (d) => setOption(d, 'other', 'lost'))!),
    ])
    expect(results).toEqual(['thrown: Error: disk full', 'thrown: Error: disk full'])
    expect(published).toHaveLength(1)
    expect(optionsOfState(await stored('g:1'))).toEqual({ k: 'kept' })
    expect(optionsOfState((await storage.read((r) => docs.load(r, room('g:1')))).state)).toEqual({ k: 'kept' })
    // The client resends (as a y-websocket client does on reconnect): applied now.
    expect(await queue.submit('alice', 'g:1', Y.encodeStateAsUpdate(lost))).toBe(true)
    expect(optionsOfState(await stored('g:1'))).toEqual({ k: 'lost', other: 'lost' })
  })

  it('ends like applying each accepted update in order, whatever the groups (property)', async () => {
    const rooms = ['g:1', 'g:2', 'g:3']
    const { queue, stored } = await setup(rooms)
    const step = fc.record({
      room: fc.nat(2),
      writer: fc.nat(2),
      kind: fc.constantFrom('set', 'set', 'set', 'nested', 'random', 'big'),
      key: fc.constantFrom('a', 'b', 'c'),
      value: fc.string({ maxLength: 6 }),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 20 }),
      isNewGroup: fc.boolean(),
    })
    let run = 0
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
        run++
        const ids = rooms.map((r) => `${r}`)
        // Each run starts from what storage holds (runs share the rooms).
        const reference = new Map<string, Uint8Array | undefined>()
        for (const id of ids) reference.set(id, await stored(id))
        const writers = ids.map((id) => [0, 1, 2].map((w) => optionsDocFrom([reference.get(id)], 1000 * run + 10 * w + ids.indexOf(id))))
        let group: { roomId: string; update: Uint8Array }[] = []
        const groups = [group]
        for (const s of steps) {
          if (s.isNewGroup && group.length > 0) groups.push((group = []))
          const w = writers[s.room]![s.writer]!
          const update =
            s.kind === 'set' ? captureUpdate(w, (d) => setOption(d, s.key, s.value))
            : s.kind === 'nested' ? captureUpdate(optionsDocFrom([reference.get(ids[s.room]!)]), (d) => (optionsArray(d) as unknown as Y.Array<unknown>).push([new Y.Map()]))
            : s.kind === 'big' ? captureUpdate(w, (d) => setOption(d, s.key, 'v'.repeat(2000)))
            : s.bytes
          if (update) group.push({ roomId: ids[s.room]!, update })
        }
        for (const g of groups) {
          const got = await settle(g.map((u) => queue.submit('alice', u.roomId, u.update)))
          const want = g.map((u) => {
            try {
              const r = validateOptionsUpdate(reference.get(u.roomId), u.update)
              if (r.effective) reference.set(u.roomId, compactOptionsState([reference.get(u.roomId), r.effective].filter((x): x is Uint8Array => x !== undefined)))
              return r.effective !== undefined
            } catch (e) {
              return isParlorError(e) ? e.code : 'thrown'
            }
          })
          expect(got).toEqual(want)
        }
        for (const id of ids) expect(optionsOfState(await stored(id))).toEqual(optionsOfState(reference.get(id)))
      }),
      { numRuns: 40 },
    )
  })
})
