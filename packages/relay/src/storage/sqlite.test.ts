import { statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it, onTestFinished } from 'vitest'
import { comment, runRelayStorageContract } from './contract.js'
import { MIGRATIONS } from './sqlite-schema.js'
import { createSqliteStorage } from './sqlite.js'

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'parlor-relay-sqlite-'))
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

  it('refuses work after close', async () => {
    const dataDir = await tempDir()
    onTestFinished(() => rm(dataDir, { recursive: true, force: true }))
    const storage = await createSqliteStorage({ dataDir })
    await storage.close()
    await expect(storage.read((r) => r.currentSeq())).rejects.toThrow(/closed/)
  })
})
