import { statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it, onTestFinished } from 'vitest'
import { comment, participant, room, runRelayStorageContract } from './contract.js'
import { MIGRATIONS } from './sqlite-schema.js'
import { createSqliteStorage } from './sqlite.js'

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'parlor-relay-sqlite-'))
}

/** A database as a relay that knew only the first `migrations` left it (removed when the test ends). */
async function databaseAt(migrations: number): Promise<{ dataDir: string; db: Database.Database }> {
  const dataDir = await tempDir()
  onTestFinished(() => rm(dataDir, { recursive: true, force: true }))
  const db = new Database(join(dataDir, 'relay.db'))
  for (const [v, sql] of MIGRATIONS.slice(0, migrations).entries()) {
    db.exec(sql)
    db.pragma(`user_version = ${v + 1}`)
  }
  return { dataDir, db }
}

runRelayStorageContract(async () => {
  const dataDir = await tempDir()
  return {
    storage: await createSqliteStorage({ dataDir }),
    reopen: () => createSqliteStorage({ dataDir }),
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
  }
}, 'SQLite storage passes the RelayStorage contract')

describe('SQLite storage', () => {
  it('creates the data directory, uses WAL and records the schema version', async () => {
    const root = await tempDir()
    onTestFinished(() => rm(root, { recursive: true, force: true }))
    const dataDir = join(root, 'nested', 'data')
    const storage = await createSqliteStorage({ dataDir })
    await storage.close()
    const db = new Database(join(dataDir, 'relay.db'), { readonly: true })
    onTestFinished(() => {
      db.close()
    })
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length)
  })

  it('refuses a database made by a newer relay', async () => {
    const dataDir = await tempDir()
    onTestFinished(() => rm(dataDir, { recursive: true, force: true }))
    const db = new Database(join(dataDir, 'relay.db'))
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`)
    db.close()
    await expect(createSqliteStorage({ dataDir })).rejects.toThrow(/newer/)
  })

  it('keeps the stored mutation results when migration 6 moves them into a rowid table', async () => {
    const { dataDir, db } = await databaseAt(5)
    const result = { mutationId: 'm1', ok: true as const, value: { comment: comment('g:r', 1) } }
    db.prepare('INSERT INTO mutations (user_id, mutation_id, result, created_at) VALUES (?, ?, ?, ?)').run('alice', 'm1', JSON.stringify(result), 1)
    db.close()
    const storage = await createSqliteStorage({ dataDir })
    onTestFinished(() => storage.close())
    expect(await storage.read((r) => r.getMutationResult('alice', 'm1'))).toEqual(result)
    expect(await storage.read((r) => r.getMutationResult('bob', 'm1'))).toBeUndefined()
    await expect(
      storage.transaction((tx) => tx.putMutationResult('alice', 'm1', { ...result, mutationId: 'm1' })),
    ).rejects.toThrow(/UNIQUE/)
  })

  it('keeps the options rows and their ids when migration 7 drops AUTOINCREMENT, and ids go on growing', async () => {
    const { dataDir, db } = await databaseAt(6)
    const insert = db.prepare('INSERT INTO options_updates (room_id, seq, "update") VALUES (?, ?, ?) RETURNING id').pluck()
    const ids = [insert.get('g:a', 1, Buffer.from([1])), insert.get('g:b', 2, Buffer.from([2])), insert.get('g:b', 3, Buffer.from([3]))] as number[]
    db.close()
    const storage = await createSqliteStorage({ dataDir })
    onTestFinished(() => storage.close())
    const rows = (roomId: string) => storage.read(async (r) => (await r.listOptionsUpdates(roomId)).map((x) => [x.id, x.seq, [...x.update]]))
    expect([await rows('g:a'), await rows('g:b')]).toEqual([[[ids[0], 1, [1]]], [[ids[1], 2, [2]], [ids[2], 3, [3]]]])
    // g:b holds the largest id: its compaction's row and the rows after it take new ones.
    const merged = await storage.transaction((tx) => tx.replaceOptionsUpdates('g:b', 3, new Uint8Array([2, 3])))
    const next = await storage.transaction((tx) => tx.appendOptionsUpdate('g:a', 4, new Uint8Array([4])))
    expect(merged).toBeGreaterThan(ids[2]!)
    expect(next).toBeGreaterThan(merged)
    expect(await rows('g:b')).toEqual([[merged, 3, [2, 3]]])
  })

  it('copies the WAL into the database file once writes pause, not while they go on', async () => {
    const dataDir = await tempDir()
    onTestFinished(() => rm(dataDir, { recursive: true, force: true }))
    const storage = await createSqliteStorage({ dataDir, idleCheckpointMs: 200 })
    onTestFinished(() => storage.close())
    const file = join(dataDir, 'relay.db')
    const before = statSync(file).size
    const write = (n: number) =>
      storage.transaction(async (tx) => {
        for (let i = 0; i < 50; i++) await tx.insertComment(comment('g:r', n * 50 + i + 1, { uniqueId: `u${n}-${i}`, text: 'x'.repeat(500) }))
      })
    // Writes every 50 ms: never 200 ms apart (unless the machine stalls), so nothing is checkpointed meanwhile.
    let longestPause = 0
    for (let n = 0; n < 8; n++) {
      const at = Date.now()
      await write(n)
      await new Promise((r) => setTimeout(r, 50))
      longestPause = Math.max(longestPause, Date.now() - at)
    }
    if (longestPause < 180) expect(statSync(file).size).toBe(before)
    await expect.poll(() => statSync(file).size, { timeout: 3_000 }).toBeGreaterThan(before)
    expect(await storage.read((r) => r.listComments('g:r', { limit: 1_000 }))).toHaveLength(400)
  })

  it('lists the same memberships for a recent cursor (from the rows changed since) as for an old one', async () => {
    const dataDir = await tempDir()
    onTestFinished(() => rm(dataDir, { recursive: true, force: true }))
    const storage = await createSqliteStorage({ dataDir })
    onTestFinished(() => storage.close())
    await storage.transaction(async (tx) => {
      for (let i = 1; i <= 60; i++) {
        const id = i % 7 === 0 ? `c:${i}` : `g:${i}`
        await tx.putRoom(room(id, { version: i % 5 === 0 ? 100 + i : i, type: id.startsWith('c:') ? 'channel' : 'group' }))
        await tx.putParticipant(participant(id, 'me', { version: i % 3 === 0 ? 100 + i : i, isRemoved: i % 11 === 0 }))
        if (i % 4 === 0) await tx.putParticipant(participant(id, 'you', { version: 150 + i }))
      }
    })
    const raw = new Database(join(dataDir, 'relay.db'))
    onTestFinished(() => void raw.close())
    const listedWithSeqAt = async (seq: number) => {
      raw.prepare(`UPDATE counters SET value = ? WHERE name = 'seq'`).run(seq)
      return storage.read(async (r) => Promise.all([0, 50, 120, 170, 300].map(async (since) => (await r.listMemberships('me', since)).map((m) => m.room.id))))
    }
    const recent = await listedWithSeqAt(300)
    const old = await listedWithSeqAt(1_000_000)
    expect(recent).toEqual(old)
    expect(recent[0]).toHaveLength(60)
    expect(recent[4]).toEqual([])
  })

  it('refuses work after close', async () => {
    const dataDir = await tempDir()
    onTestFinished(() => rm(dataDir, { recursive: true, force: true }))
    const storage = await createSqliteStorage({ dataDir })
    await storage.close()
    await expect(storage.read((r) => r.currentSeq())).rejects.toThrow(/closed/)
  })
})
