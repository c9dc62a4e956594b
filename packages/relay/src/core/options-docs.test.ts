import { describe, expect, it, onTestFinished } from 'vitest'
import * as Y from 'yjs'
import { captureUpdate, optionsDocFrom, optionsOfState, setOption, type RoomRecord } from '@parlor/protocol'
import { noopLogger } from '../logger.js'
import type { RelayStorage } from '../storage/relay-storage.js'
import { createSqliteStorage } from '../storage/sqlite.js'
import { tempDir } from '../testing/relay-fixture.js'
import { OptionsDocs } from './options-docs.js'
import { WriteScope } from './write-scope.js'

const room = (id: string, options: Record<string, string> = {}): RoomRecord => ({
  id, uniqueId: id, type: 'group', name: 'n', avatarUrl: '', options, participantCount: 1, lastComment: null,
  hasComments: false, createdAt: 1, updatedAt: 1, lastActivityAt: 1, version: 1,
})
const actor = { userId: 'alice', username: 'alice', avatarUrl: '', keyHash: 'x', createdAt: 1, updatedAt: 1 }

async function setup(o: { idleMs?: number } = {}) {
  const storage = await createSqliteStorage({ dataDir: await tempDir() })
  onTestFinished(() => storage.close())
  const make = () => {
    const docs: OptionsDocs = new OptionsDocs({
      logger: noopLogger,
      ...(o.idleMs !== undefined && { idleMs: o.idleMs }),
      runCompaction: (roomId, plan) =>
        storage.transaction(async (tx) => {
          const p = await plan(tx)
          if (p) await tx.replaceOptionsUpdates(roomId, p.seq, p.state)
        }),
    })
    onTestFinished(() => docs.close())
    return docs
  }
  return { storage, make }
}

/** Applies one client change to the room through `docs`, as a mutation would. */
async function change(storage: RelayStorage, docs: OptionsDocs, r: RoomRecord, fn: (d: Y.Doc) => void, clientId = 7) {
  const { state } = await storage.read((rd) => docs.load(rd, r))
  const update = captureUpdate(optionsDocFrom([state], clientId), fn)!
  return storage.transaction(async (tx) => {
    const scope = new WriteScope(tx, actor, 1, docs)
    const isChanged = await docs.apply(scope, r, update)
    return { isChanged, changes: scope.changes() }
  })
}

describe('OptionsDocs', () => {
  it('stores each accepted change as a row and records it for the change it publishes', async () => {
    const { storage, make } = await setup()
    const docs = make()
    const r = room('g:a')
    const { isChanged, changes } = await change(storage, docs, r, (d) => setOption(d, 'k', 'v'))
    expect(isChanged).toBe(true)
    expect(r.options).toEqual({ k: 'v' })
    expect(changes).toHaveLength(1)
    expect(optionsOfState(new Uint8Array(Buffer.from(changes[0]!.optionsUpdate!, 'base64')))).toEqual({ k: 'v' })
    expect(await storage.read((rd) => rd.listOptionsUpdates('g:a'))).toHaveLength(1)
    // The same update again changes nothing and writes nothing.
    const state = (await storage.read((rd) => docs.load(rd, r))).state!
    const again = await storage.transaction(async (tx) => docs.apply(new WriteScope(tx, actor, 1, docs), r, state))
    expect(again).toBe(false)
    expect(await storage.read((rd) => rd.listOptionsUpdates('g:a'))).toHaveLength(1)
  })

  it('compacts a document with many rows into one in the background, losing nothing', async () => {
    const { storage, make } = await setup()
    const docs = make()
    const r = room('g:b')
    for (let i = 0; i < 40; i++) await change(storage, docs, r, (d) => setOption(d, `k${i % 4}`, `v${i}`))
    await expect.poll(async () => (await storage.read((rd) => rd.listOptionsUpdates('g:b'))).length).toBe(1)
    const [row] = await storage.read((rd) => rd.listOptionsUpdates('g:b'))
    expect(optionsOfState(row!.update)).toEqual({ k0: 'v36', k1: 'v37', k2: 'v38', k3: 'v39' })
    expect((await storage.read((rd) => docs.load(rd, r))).state).toBeDefined()
  })

  it('sees rows written by another relay process sharing the storage', async () => {
    const { storage, make } = await setup()
    const [here, there] = [make(), make()]
    const r = room('g:c')
    await change(storage, here, r, (d) => setOption(d, 'a', '1'))
    expect(optionsOfState((await storage.read((rd) => here.load(rd, r))).state)).toEqual({ a: '1' })
    await change(storage, there, r, (d) => setOption(d, 'b', '2'), 8)
    expect(optionsOfState((await storage.read((rd) => here.load(rd, r))).state)).toEqual({ a: '1', b: '2' })
  })

  it('converts options from before documents deterministically, and stores the conversion with the first change', async () => {
    const { storage, make } = await setup()
    const docs = make()
    const r = room('g:d', { old: 'x' })
    const loaded = await storage.read((rd) => docs.load(rd, r))
    expect(optionsOfState(loaded.state)).toEqual({ old: 'x' })
    await change(storage, docs, r, (d) => setOption(d, 'new', 'y'))
    expect(r.options).toEqual({ old: 'x', new: 'y' })
    const rows = await storage.read((rd) => rd.listOptionsUpdates('g:d'))
    expect(optionsOfState(...rows.map((row) => row.update))).toEqual({ old: 'x', new: 'y' })
  })

  it('drops documents nobody used for idleMs', async () => {
    const { storage, make } = await setup({ idleMs: 50 })
    const docs = make()
    await change(storage, docs, room('g:e'), (d) => setOption(d, 'k', 'v'))
    await storage.read((rd) => docs.load(rd, room('g:e')))
    expect(docs.size).toBe(1)
    await expect.poll(() => docs.size, { timeout: 2_000 }).toBe(0)
  })

  it('never serves an update whose transaction rolled back: readers answer from storage, the next write rebuilds the document', async () => {
    const { storage, make } = await setup()
    const docs = make()
    const r = room('g:f')
    await change(storage, docs, r, (d) => setOption(d, 'k', 'kept'))
    const { state } = await storage.read((rd) => docs.load(rd, r))
    const lost = captureUpdate(optionsDocFrom([state], 9), (d) => setOption(d, 'k', 'lost'))!
    // Checked and appended, then the transaction fails (nobody calls forget).
    await expect(
      storage.transaction(async (tx) => {
        await docs.apply(new WriteScope(tx, actor, 1, docs), { ...r }, lost)
        throw new Error('commit failed')
      }),
    ).rejects.toThrow('commit failed')
    expect(optionsOfState((await storage.read((rd) => docs.load(rd, r))).state)).toEqual({ k: 'kept' })
    const next = captureUpdate(optionsDocFrom([state], 10), (d) => setOption(d, 'other', 'x'))!
    const { isChanged } = await storage.transaction(async (tx) => ({ isChanged: await docs.apply(new WriteScope(tx, actor, 1, docs), r, next) }))
    expect(isChanged).toBe(true)
    expect(r.options).toEqual({ k: 'kept', other: 'x' })
    expect(optionsOfState((await storage.read((rd) => docs.load(rd, r))).state)).toEqual({ k: 'kept', other: 'x' })
    // The update that was lost is accepted when sent again.
    await storage.transaction(async (tx) => docs.apply(new WriteScope(tx, actor, 1, docs), r, lost))
    expect(r.options).toEqual({ k: 'lost', other: 'x' })
  })

  it('checks each update against the document as the accepted ones left it; a refused one changes nothing', async () => {
    const { storage, make } = await setup()
    const docs = make()
    const r = room('g:h')
    const w = optionsDocFrom([], 11)
    const apply = (u: Uint8Array) => storage.transaction(async (tx) => docs.apply(new WriteScope(tx, actor, 1, docs), r, u))
    expect(await apply(captureUpdate(w, (d) => setOption(d, 'a', '1'))!)).toBe(true)
    const tooBig = captureUpdate(optionsDocFrom([(await storage.read((rd) => docs.load(rd, r))).state], 12), (d) => {
      for (let i = 0; i < 70; i++) setOption(d, `k${i}`, 'v')
    })!
    await expect(apply(tooBig)).rejects.toMatchObject({ code: 'limit_exceeded' })
    expect(await apply(captureUpdate(w, (d) => setOption(d, 'a', '2'))!)).toBe(true)
    expect(r.options).toEqual({ a: '2' })
    expect(optionsOfState(...(await storage.read((rd) => rd.listOptionsUpdates('g:h'))).map((row) => row.update))).toEqual({ a: '2' })
  })

  it('keeps a room without options without a document when its first update is refused or brings nothing', async () => {
    const { storage, make } = await setup()
    const docs = make()
    const r = room('g:i')
    const hostile = captureUpdate(optionsDocFrom([], 13), (d) => d.getMap('other').set('a', 'b'))!
    await expect(storage.transaction(async (tx) => docs.apply(new WriteScope(tx, actor, 1, docs), r, hostile))).rejects.toMatchObject({ code: 'validation' })
    expect(await storage.transaction(async (tx) => docs.apply(new WriteScope(tx, actor, 1, docs), r, new Uint8Array([0, 0])))).toBe(false)
    expect((await storage.read((rd) => docs.load(rd, r))).state).toBeUndefined()
  })
})
