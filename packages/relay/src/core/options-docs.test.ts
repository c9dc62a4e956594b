import { describe, expect, it, onTestFinished } from 'vitest'
import * as Y from 'yjs'
import { captureUpdate, optionsDocFrom, optionsOfState, setOption, type RoomRecord } from '@parlor/protocol'
import { noopLogger } from '../logger.js'
import type { RelayStorage, StorageReader } from '../storage/relay-storage.js'
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
      runCompaction: (compact) => storage.transaction(compact),
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

/**
 * `storage` recording the `afterId` of every options row listing; `hidden` rows are left out of
 * listings after an id (what a cache catching up asks), as a row committed late below ids already
 * read would be.
 */
function watched(storage: RelayStorage, hidden: Set<number> = new Set()) {
  const afterIds: (number | undefined)[] = []
  const wrap = <R extends StorageReader>(r: R): R =>
    new Proxy(r, {
      get(target, key, receiver) {
        if (key !== 'listOptionsUpdates') return Reflect.get(target, key, receiver)
        return async (roomId: string, afterId?: number) => {
          afterIds.push(afterId)
          const rows = await target.listOptionsUpdates(roomId, afterId)
          return afterId ? rows.filter((row) => !hidden.has(row.id)) : rows
        }
      },
    })
  const view: RelayStorage = {
    transaction: (fn) => storage.transaction((tx) => fn(wrap(tx))),
    read: (fn) => storage.read((rd) => fn(wrap(rd))),
    close: () => storage.close(),
  }
  return { view, afterIds }
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

  it('loads many rooms at once as it loads each: cached ones with the rows written since, others from storage', async () => {
    const { storage, make } = await setup()
    const writer = make()
    const rooms = [room('g:cached'), room('g:cold'), room('g:legacy', { color: 'red' }), room('g:none')]
    await change(storage, writer, rooms[0]!, (d) => setOption(d, 'a', '1'))
    await change(storage, writer, rooms[1]!, (d) => setOption(d, 'b', '1'))
    const docs = make()
    await storage.read((rd) => docs.load(rd, rooms[0]!))
    // Written by another process: the cached document of g:cached catches up with it.
    await change(storage, writer, rooms[0]!, (d) => setOption(d, 'a', '2'), 8)
    const many = await storage.read((rd) => docs.loadMany(rd, rooms))
    const each = await storage.read(async (rd) => Promise.all(rooms.map((r) => make().load(rd, r))))
    expect(rooms.map((r) => many.get(r.id))).toEqual(each)
    expect(rooms.map((r) => optionsOfState(many.get(r.id)!.state))).toEqual([{ a: '2' }, { b: '1' }, { color: 'red' }, {}])
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
  it('compacts from the document in memory: the rows are not read into a new document, nor the merged row applied again', async () => {
    const { storage } = await setup()
    const { view, afterIds } = watched(storage)
    const docs = new OptionsDocs({ logger: noopLogger, compactAfterRows: 8, runCompaction: (compact) => view.transaction(compact) })
    onTestFinished(() => docs.close())
    const r = room('g:m')
    for (let i = 0; i < 20; i++) await change(view, docs, r, (d) => setOption(d, `k${i % 3}`, `v${i}`), 20 + (i % 2))
    await expect.poll(async () => (await storage.read((rd) => rd.listOptionsUpdates('g:m'))).length).toBeLessThan(8)
    await change(view, docs, r, (d) => setOption(d, 'k0', 'last'))
    const expected = { k0: 'last', k1: 'v19', k2: 'v17' }
    expect(optionsOfState((await view.read((rd) => docs.load(rd, r))).state)).toEqual(expected)
    // A compaction lists every row (no afterId); after it, the cache only ever caught up (never rebuilt
    // from the first row, afterId 0), and reading back the merged row made it rebuild nothing.
    const compaction = afterIds.indexOf(undefined)
    expect(compaction).toBeGreaterThan(0)
    expect(afterIds.slice(compaction + 1).every((a) => a !== undefined && a > 0)).toBe(true)
    // Storage holds the same document as the cache: a process that loads it anew agrees.
    const fresh = new OptionsDocs({ logger: noopLogger, runCompaction: (compact) => storage.transaction(compact) })
    onTestFinished(() => fresh.close())
    const stored = await storage.read((rd) => fresh.load(rd, r))
    expect(optionsOfState(stored.state)).toEqual(expected)
    expect(Y.encodeStateVectorFromUpdate(stored.state!)).toEqual(Y.encodeStateVectorFromUpdate((await view.read((rd) => docs.load(rd, r))).state!))
  })

  it('compacts from the rows when the document in memory missed one of them (it is dropped), losing nothing', async () => {
    const { storage } = await setup()
    const hidden = new Set<number>()
    const here = watched(storage, hidden)
    const docs = new OptionsDocs({ logger: noopLogger, compactAfterRows: 6, runCompaction: (compact) => here.view.transaction(compact) })
    onTestFinished(() => docs.close())
    const other = new OptionsDocs({ logger: noopLogger, runCompaction: (compact) => storage.transaction(compact) })
    onTestFinished(() => other.close())
    const r = room('g:n')
    await change(here.view, docs, r, (d) => setOption(d, 'a', '1'), 30)
    await here.view.read((rd) => docs.load(rd, r))
    // Another relay's row that this cache never sees when catching up.
    await change(storage, other, room('g:n'), (d) => setOption(d, 'late', 'x'), 31)
    for (const row of await storage.read((rd) => rd.listOptionsUpdates('g:n'))) if (row.id !== 1) hidden.add(row.id)
    for (let i = 0; i < 6; i++) await change(here.view, docs, r, (d) => setOption(d, 'a', `${i + 2}`), 30)
    await expect.poll(async () => (await storage.read((rd) => rd.listOptionsUpdates('g:n'))).length).toBeLessThan(3)
    const rows = await storage.read((rd) => rd.listOptionsUpdates('g:n'))
    expect(optionsOfState(...rows.map((row) => row.update))).toEqual({ a: '7', late: 'x' })
    // The dropped document is rebuilt from storage: it has the row it missed.
    expect(optionsOfState((await here.view.read((rd) => docs.load(rd, r))).state)).toEqual({ a: '7', late: 'x' })
  })

  it('a compaction whose transaction rolls back loses nothing, and the document is right after it', async () => {
    const { storage } = await setup()
    let failing = true
    const docs = new OptionsDocs({
      logger: noopLogger,
      compactAfterRows: 4,
      runCompaction: (compact) =>
        storage.transaction(async (tx) => {
          await compact(tx)
          if (failing) throw new Error('disk full')
        }),
    })
    onTestFinished(() => docs.close())
    const r = room('g:o')
    for (let i = 0; i < 5; i++) await change(storage, docs, r, (d) => setOption(d, `k${i % 4}`, `${i % 4}`), 40)
    // The failed compaction dropped the document; storage kept every row.
    await expect.poll(() => docs.size).toBe(0)
    expect(await storage.read((rd) => rd.listOptionsUpdates('g:o'))).toHaveLength(5)
    failing = false
    await change(storage, docs, r, (d) => setOption(d, 'k0', 'x'), 40)
    await expect.poll(async () => (await storage.read((rd) => rd.listOptionsUpdates('g:o'))).length).toBe(1)
    await change(storage, docs, r, (d) => setOption(d, 'k1', 'y'), 40)
    const expected = { k0: 'x', k1: 'y', k2: '2', k3: '3' }
    expect(r.options).toEqual(expected)
    expect(optionsOfState(...(await storage.read((rd) => rd.listOptionsUpdates('g:o'))).map((row) => row.update))).toEqual(expected)
  })
})
