/**
 * Crash safety of the relay: SIGKILL the relay process repeatedly while 5 engines stream mutations,
 * restart it on the same data and port each time; afterwards every acknowledged mutation is there,
 * the engines' replays duplicated nothing, and SQLite passes its integrity check (also right after
 * a final kill).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import { createEngine } from '@parlor/engine'
import { defer, interceptingSocket, keyOf, uid } from '../harness.js'
import { integrityCheck, startRelayProcess, type RelayProcess } from './relay-process.js'

const ENGINES = 5
const KILLS = 5

it(`keeps every acknowledged mutation, once, across ${KILLS} SIGKILLs of the relay while ${ENGINES} engines write`, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'parlor-crash-'))
  defer(() => rm(dataDir, { recursive: true, force: true }))
  let proc: RelayProcess = await startRelayProcess(dataDir)
  defer(() => proc.kill())
  const port = proc.port

  /** uniqueIds of comments whose mutation the relay acknowledged as applied. */
  const acked = new Set<string>()
  const Recording = interceptingSocket((data) => {
    const f = JSON.parse(data)
    if (f.type === 'ack') for (const r of f.results) if (r.ok && r.value.comment) acked.add(r.value.comment.uniqueId)
    return true
  })
  const engines = Array.from({ length: ENGINES }, (_, i) => {
    const engine = createEngine({
      relayUrl: proc.url,
      dbName: uid(`crash-db-${i}`),
      indexedDB: new IDBFactory(),
      IDBKeyRange,
      WebSocket: Recording as never,
      backoff: { baseMs: 25, maxMs: 400 },
    })
    defer(() => engine.close())
    return Object.assign(engine, { userId: uid(`writer${i}`) })
  })
  for (const e of engines) await e.setUser(e.userId, keyOf(e.userId))
  const room = await engines[0]!.createGroupRoom('crash', engines.slice(1).map((e) => e.userId))
  await Promise.all(engines.map((e) => e.sync()))

  // Each engine writes a stream of comments, online or not, until told to stop.
  const sent: string[][] = engines.map(() => [])
  let writing = true
  const writers = engines.map(async (e, i) => {
    for (let n = 0; writing; n++) {
      const uniqueId = `w${i}-${n}`
      await e.sendComment(room.id, uniqueId, { uniqueId })
      sent[i]!.push(uniqueId)
      await new Promise((r) => setTimeout(r, 4))
    }
  })

  let kills = 0
  for (; kills < KILLS; kills++) {
    // Let acknowledgements flow on this incarnation, then kill it mid-stream.
    const floor = acked.size
    await expect.poll(() => acked.size, { timeout: 20_000, interval: 10 }).toBeGreaterThan(floor + 20)
    await proc.kill('SIGKILL')
    proc = await startRelayProcess(dataDir, port)
  }
  writing = false
  await Promise.all(writers)
  await Promise.all(engines.map((e) => e.sync()))

  // Read every comment of the room from the relay, oldest page last.
  const token = (await (await fetch(`${proc.url}/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId: engines[0]!.userId, userKey: keyOf(engines[0]!.userId) }),
  })).json()).token as string
  const onRelay: Array<{ id: number; uniqueId: string; type: string }> = []
  for (let before: number | undefined; ;) {
    const res = await fetch(`${proc.url}/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ name: 'loadComments', args: { roomId: room.id, limit: 100, ...(before !== undefined && { before }) } }),
    })
    const { comments } = (await res.json()) as { comments: typeof onRelay }
    onRelay.unshift(...comments)
    if (comments.length < 100) break
    before = comments[0]!.id
  }
  const texts = onRelay.filter((c) => c.type !== 'system_event').map((c) => c.uniqueId)
  const all = sent.flat()
  console.log(`[crash-relay] ${kills} SIGKILLs survived; ${all.length} comments sent, ${acked.size} acknowledged before a kill or after, ${texts.length} stored`)
  expect(kills).toBe(KILLS)
  expect([...acked].filter((u) => !texts.includes(u)), 'acknowledged but lost').toEqual([])
  expect(new Set(texts).size, 'duplicated').toBe(texts.length)
  expect([...texts].sort()).toEqual([...all].sort())
  // Each writer's comments in the order it wrote them.
  for (const [i, mine] of sent.entries()) expect(texts.filter((u) => u.startsWith(`w${i}-`))).toEqual(mine)
  for (const e of engines) expect(e.status().pending).toBe(0)

  // One more kill, then the database must be sound as the crash left it.
  await proc.kill('SIGKILL')
  expect(integrityCheck(dataDir)).toEqual(['ok'])
}, 120_000)
