import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it, onTestFinished } from 'vitest'
import { runRelayStorageContract } from './contract.js'
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

  it('refuses work after close', async () => {
    const dataDir = await tempDir()
    onTestFinished(() => rm(dataDir, { recursive: true, force: true }))
    const storage = await createSqliteStorage({ dataDir })
    await storage.close()
    await expect(storage.read((r) => r.currentSeq())).rejects.toThrow(/closed/)
  })
})
