import pg from 'pg'
import { describe, expect, it, onTestFinished } from 'vitest'
import { freshDatabase } from '../testing/services.js'
import { comment, participant, room, runRelayStorageContract, user } from './contract.js'
import { createPostgresStorage } from './postgres.js'
import { PG_MIGRATIONS } from './postgres-schema.js'
import { withRowCache } from './row-cache.js'

runRelayStorageContract(async () => {
  const db = await freshDatabase()
  return {
    storage: await createPostgresStorage({ url: db.url }),
    reopen: () => createPostgresStorage({ url: db.url }),
    cleanup: db.drop,
  }
}, 'PostgreSQL storage passes the RelayStorage contract')

runRelayStorageContract(async () => {
  const db = await freshDatabase()
  return {
    storage: withRowCache(await createPostgresStorage({ url: db.url })),
    reopen: async () => withRowCache(await createPostgresStorage({ url: db.url })),
    cleanup: db.drop,
  }
}, 'PostgreSQL storage with the row cache passes the RelayStorage contract')

/** A fresh database with `n` storages on it, as `n` relay processes would have. */
async function storages(n: number) {
  const db = await freshDatabase()
  const list = await Promise.all(Array.from({ length: n }, () => createPostgresStorage({ url: db.url, poolSize: 4 })))
  onTestFinished(async () => {
    for (const s of list) await s.close()
    await db.drop()
  })
  return { list, url: db.url }
}

describe('PostgreSQL storage with several processes on one database', () => {
  it('migrates once when several start together, and records the schema version', async () => {
    const { list, url } = await storages(4)
    expect(list).toHaveLength(4)
    const c = new pg.Client({ connectionString: url })
    await c.connect()
    onTestFinished(() => c.end())
    const { rows } = await c.query('SELECT version FROM parlor_schema ORDER BY version')
    expect(rows.map((r) => r.version)).toEqual(PG_MIGRATIONS.map((_, i) => i + 1))
  })

  it('refuses a database made by a newer relay', async () => {
    const { url } = await storages(1)
    const c = new pg.Client({ connectionString: url })
    await c.connect()
    await c.query('INSERT INTO parlor_schema (version, applied_at) VALUES ($1, 0)', [PG_MIGRATIONS.length + 1])
    await c.end()
    await expect(createPostgresStorage({ url })).rejects.toThrow(/newer/)
  })

  it('serializes writers of different processes: no lost update, seq order is commit order', async () => {
    const { list } = await storages(3)
    await list[0]!.transaction((tx) => tx.putRoom(room('g:1', { participantCount: 0 })))
    const commits: number[] = []
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        list[i % 3]!.transaction(async (tx) => {
          const r = (await tx.getRoom('g:1'))!
          const seq = await tx.nextSeq()
          await new Promise((done) => setTimeout(done, 1))
          await tx.putRoom({ ...r, participantCount: r.participantCount + 1, version: seq })
          return seq
        }).then((seq) => commits.push(seq)),
      ),
    )
    expect((await list[1]!.read((rd) => rd.getRoom('g:1')))?.participantCount).toBe(30)
    // Each commit resolved after the previous one, so resolution order is seq order.
    expect(commits).toEqual([...commits].sort((a, b) => a - b))
    expect(new Set(commits).size).toBe(30)
  })

  it('lets only one of two processes create the same room (get-or-create under the lock)', async () => {
    const { list } = await storages(2)
    const created = await Promise.all(
      list.map((s, i) =>
        s.transaction(async (tx) => {
          if (await tx.getRoom('s:a:b')) return false
          await tx.putRoom(room('s:a:b', { type: 'single', name: `by ${i}` }))
          return true
        }),
      ),
    )
    expect(created.filter(Boolean)).toHaveLength(1)
  })

  it('shares values between processes: the first one written wins', async () => {
    const { list } = await storages(2)
    const [a, b] = await Promise.all(list.map((s, i) => s.sharedValue('cluster_id', () => `v${i}`)))
    expect(a).toBe(b)
    expect(await list[0]!.sharedValue('cluster_id', () => 'other')).toBe(a)
    // The epoch belongs to the database, so an engine moving between nodes keeps its cursor.
    const [e0, e1] = await Promise.all(list.map((s) => s.read((r) => r.epoch())))
    expect(e0).toBe(e1)
    expect(Number.isSafeInteger(e0)).toBe(true)
  })

  it('rebuilds the changes of a seq range from the rows that carry them', async () => {
    const { list } = await storages(1)
    const s = list[0]!
    await s.transaction(async (tx) => {
      const seq = await tx.nextSeq() // 1: room, two participants, a comment
      await tx.putUser(user('alice'))
      await tx.putRoom(room('g:1', { version: seq }))
      await tx.putParticipant(participant('g:1', 'alice', { version: seq }))
      await tx.putParticipant(participant('g:1', 'bob', { version: seq, joinedAt: 2 }))
      await tx.insertComment(comment('g:1', 1, { seq }))
    })
    await s.transaction(async (tx) => {
      const seq = await tx.nextSeq() // 2: bob's row rewritten, a comment in another room
      await tx.putParticipant(participant('g:1', 'bob', { version: seq, joinedAt: 2, lastReadCommentId: 1 }))
      await tx.insertComment(comment('g:2', 1, { seq }))
    })
    const { currentSeq, changes } = await s.changesBetween(0, 99)
    expect(currentSeq).toBe(2)
    expect(changes).toEqual([
      { seq: 1, roomId: 'g:1', room: room('g:1'), participants: [participant('g:1', 'alice')], comments: [comment('g:1', 1)] },
      { seq: 2, roomId: 'g:1', participants: [participant('g:1', 'bob', { version: 2, joinedAt: 2, lastReadCommentId: 1 })] },
      { seq: 2, roomId: 'g:2', comments: [comment('g:2', 1, { seq: 2 })] },
    ])
    expect((await s.changesBetween(1, 1)).changes).toEqual([])
    expect((await s.changesBetween(1, 2)).changes.map((c) => c.roomId)).toEqual(['g:1', 'g:2'])
  })
})
