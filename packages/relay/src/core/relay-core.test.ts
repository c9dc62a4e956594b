import { describe, expect, it, onTestFinished } from 'vitest'
import { LIMITS, type Mutation, type MutationArgs, type MutationName, type SyncFrame } from '@parlor/protocol'
import { createInProcessFanout } from '../fanout/in-process.js'
import type { RelayChange } from '../fanout/fanout.js'
import { noopLogger } from '../logger.js'
import { createSqliteStorage } from '../storage/sqlite.js'
import { tempDir, uid } from '../testing/relay-fixture.js'
import { createRelayCore } from './relay-core.js'

/** The core without any transport, on real SQLite; users are seeded straight into storage. */
async function setup() {
  const storage = await createSqliteStorage({ dataDir: await tempDir() })
  onTestFinished(() => storage.close())
  const fanout = createInProcessFanout()
  const published: RelayChange[] = []
  fanout.subscribe((c) => published.push(c))
  const core = createRelayCore({ storage, fanout, logger: noopLogger, secret: 's', tokenTtlMs: 60_000 })
  const seedUsers = (ids: string[]) =>
    storage.transaction(async (tx) => {
      for (const userId of ids) await tx.putUser({ userId, username: userId, avatarUrl: '', keyHash: 'x', createdAt: 0, updatedAt: 0 })
    })
  const apply = async <N extends MutationName>(userId: string, name: N, args: MutationArgs<N>) => {
    const id = uid('m')
    const [result] = await core.applyMutations(userId, [{ id, name, args, createdAt: 0 } as never])
    return result!
  }
  return { core, storage, published, seedUsers, apply }
}

describe('relay core', () => {
  it(`caps a group at ${LIMITS.maxGroupParticipants} participants`, async () => {
    const { seedUsers, apply } = await setup()
    const ids = Array.from({ length: LIMITS.maxGroupParticipants + 1 }, (_, i) => `user${i}`)
    await seedUsers(ids)
    const roomId = 'g:big'
    const owner = ids[0]!
    expect((await apply(owner, 'createGroupRoom', { roomId, name: 'big', userIds: ids.slice(1, 100) })).ok).toBe(true)
    for (let from = 100; from < LIMITS.maxGroupParticipants; from += 100) {
      expect((await apply(owner, 'addParticipants', { roomId, userIds: ids.slice(from, from + 100) })).ok).toBe(true)
    }
    const over = await apply(owner, 'addParticipants', { roomId, userIds: [ids.at(-1)!] })
    expect(over).toMatchObject({ ok: false, error: { code: 'limit_exceeded' } })
  })

  it('applies a frame in one transaction where a refused mutation undoes only itself', async () => {
    const { core, seedUsers, published, storage } = await setup()
    await seedUsers(['a', 'b'])
    const m = (id: string, name: MutationName, args: object): Mutation => ({ id, name, args, createdAt: 0 }) as never
    const frame = [
      m('m1', 'createGroupRoom', { roomId: 'g:f', name: 'frame', userIds: ['b'] }),
      m('m2', 'sendComment', { roomId: 'g:f', uniqueId: 'c1', text: 'one', type: 'text' }),
      // Refused after writing nothing of its own: unknown room.
      m('m3', 'sendComment', { roomId: 'g:none', uniqueId: 'c2', text: 'lost', type: 'text' }),
      // Refused mid-way: the second user does not exist, so the room it would create must not either.
      m('m4', 'createGroupRoom', { roomId: 'g:half', name: 'half', userIds: ['b', 'nobody'] }),
      m('m5', 'sendComment', { roomId: 'g:f', uniqueId: 'c3', text: 'two', type: 'text' }),
      // The same id again in one frame: the first answer, applied once.
      m('m2', 'sendComment', { roomId: 'g:f', uniqueId: 'c1', text: 'one', type: 'text' }),
    ]
    const results = await core.applyMutations('a', frame)
    expect(results.map((r) => [r.mutationId, r.ok])).toEqual([['m1', true], ['m2', true], ['m3', false], ['m4', false], ['m5', true], ['m2', true]])
    expect(results[5]).toEqual(results[1])
    expect(published.map((c) => [c.seq, c.roomId])).toEqual([[1, 'g:f'], [2, 'g:f'], [3, 'g:f']])
    await storage.read(async (r) => {
      expect(await r.currentSeq()).toBe(3)
      expect(await r.getRoom('g:half')).toBeUndefined()
      expect((await r.listComments('g:f', { limit: 10 })).map((c) => c.uniqueId)).toEqual([expect.stringMatching(/^system/), 'c1', 'c3'])
    })
    // A replayed frame answers the stored results (refusals included) and changes nothing.
    expect(await core.applyMutations('a', frame)).toEqual(results)
    expect(published).toHaveLength(3)
  })

  it('group-commits frames that arrive while a transaction runs, each answered alone, in seq order', async () => {
    const { core, seedUsers, published, storage } = await setup()
    await seedUsers(['a', 'b'])
    await core.applyMutations('a', [{ id: 'room', name: 'createGroupRoom', args: { roomId: 'g:busy', name: 'busy', userIds: ['b'] }, createdAt: 0 } as Mutation])
    let transactions = 0
    const transaction = storage.transaction.bind(storage)
    storage.transaction = (fn) => (transactions++, transaction(fn))
    const frames = Array.from({ length: 20 }, (_, i) => {
      const userId = i === 7 ? 'ghost' : i % 2 === 0 ? 'a' : 'b'
      const mutations = [0, 1, 2].map((j) => ({ id: `f${i}-${j}`, name: 'sendComment', args: { roomId: 'g:busy', uniqueId: `c${i}-${j}`, text: `${i}.${j}`, type: 'text' }, createdAt: 0 }) as Mutation)
      return core.applyMutations(userId, mutations)
    })
    const answers = await Promise.all(frames)
    answers.forEach((results, i) => {
      if (i === 7) expect(results.map((r) => r.ok || r.error.code)).toEqual(['unauthorized', 'unauthorized', 'unauthorized'])
      else expect(results.map((r) => r.ok && r.value.comment?.text)).toEqual([`${i}.0`, `${i}.1`, `${i}.2`])
    })
    // Fewer transactions than frames, and every committed mutation published once, in seq order.
    expect(transactions).toBeLessThan(frames.length)
    const seqs = published.map((c) => c.seq)
    expect(seqs).toEqual(Array.from({ length: 1 + 19 * 3 }, (_, i) => i + 1))
    const stored = await storage.read((r) => r.listComments('g:busy', { limit: 100 }))
    expect(stored.filter((c) => c.type === 'text')).toHaveLength(19 * 3)
  })

  it('publishes one change per committed mutation, in seq order, and none for refusals or no-ops', async () => {
    const { seedUsers, apply, published } = await setup()
    await seedUsers(['a', 'b', 'c'])
    await Promise.all([
      apply('a', 'createGroupRoom', { roomId: 'g:1', name: 'one', userIds: ['b'] }),
      apply('b', 'createGroupRoom', { roomId: 'g:2', name: 'two', userIds: [] }),
      apply('c', 'sendComment', { roomId: 'g:1', uniqueId: 'x', text: 'refused', type: 'text' }),
      apply('a', 'addParticipants', { roomId: 'g:1', userIds: ['b'] }),
    ])
    expect(published.map((c) => c.seq)).toEqual([1, 2])
    const [first] = published
    expect(first).toMatchObject({ roomId: 'g:1', room: { version: 1 }, comments: [{ seq: 1, payload: { type: 'create' } }] })
    expect(first!.participants!.map((p) => p.userId)).toEqual(['a', 'b'])
  })

  it('does not store transient failures, so a retry can succeed', async () => {
    const { core, storage, seedUsers } = await setup()
    await seedUsers(['a'])
    const id = uid('m')
    const item: Mutation = { id, name: 'createGroupRoom', args: { roomId: 'g:t', name: 't', userIds: [] }, createdAt: 0 }
    const original = storage.transaction
    let failOnce = true
    storage.transaction = (fn) => {
      if (failOnce) {
        failOnce = false
        return Promise.reject(new Error('disk on fire'))
      }
      return original(fn)
    }
    const [failed] = await core.applyMutations('a', [item])
    expect(failed).toMatchObject({ ok: false, error: { code: 'internal' } })
    const [retried] = await core.applyMutations('a', [item])
    expect(retried).toMatchObject({ ok: true })
  })

  it('refuses new work with closed (not stored) once closing, after finishing writes in flight', async () => {
    const { core, storage, seedUsers, apply } = await setup()
    await seedUsers(['a'])
    const inFlight = apply('a', 'createGroupRoom', { roomId: 'g:late', name: 'late', userIds: [] })
    await core.close()
    expect((await inFlight).ok).toBe(true)
    expect(await apply('a', 'createGroupRoom', { roomId: 'g:after', name: 'x', userIds: [] })).toMatchObject({ ok: false, error: { code: 'closed' } })
    await expect(core.query('a', { name: 'getRoomById', args: { roomId: 'g:late' } })).rejects.toMatchObject({ code: 'closed' })
    expect(await storage.read((r) => r.getRoom('g:after'))).toBeUndefined()
  })

  it('streams a large catch-up as frames within the limit that together hold all of it', async () => {
    const { core, seedUsers, apply } = await setup()
    await seedUsers(['a'])
    const text = 'x'.repeat(2000)
    for (let r = 0; r < 15; r++) {
      await apply('a', 'createGroupRoom', { roomId: `g:r${r}`, name: `r${r}`, userIds: [] })
      for (let i = 0; i < 20; i++) await apply('a', 'sendComment', { roomId: `g:r${r}`, uniqueId: `c${i}`, text, type: 'text' })
    }
    const { frame } = await core.catchUp('a', 0)
    expect(JSON.stringify(frame).length).toBeGreaterThan(LIMITS.maxFrameBytes)
    const texts: string[] = []
    const streamed = await core.streamCatchUp('a', 0, undefined, ({ text }) => texts.push(text))
    expect(streamed.cursor).toBe(frame.cursor)
    expect(texts.length).toBeGreaterThan(1)
    for (const text of texts) expect(Buffer.byteLength(text)).toBeLessThanOrEqual(LIMITS.maxFrameBytes)
    const frames = texts.map((text) => JSON.parse(text) as SyncFrame)
    expect(frames.map((f) => f.more)).toEqual([...frames.slice(1).map(() => true), undefined])
    expect(frames.flatMap((f) => f.rooms)).toEqual(frame.rooms)
    expect(frames.flatMap((f) => f.participants)).toEqual(frame.participants)
    expect(frames.flatMap((f) => f.comments)).toEqual(frame.comments)
    const perRoom = frames.flatMap((f) => f.comments).filter((c) => c.roomId === 'g:r0')
    expect(perRoom.map((c) => c.uniqueId).filter((u) => u.startsWith('c'))).toHaveLength(LIMITS.roomComments)
    expect(perRoom.at(-1)?.uniqueId).toBe('c19')
  })
})
