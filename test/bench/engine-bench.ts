/**
 * Engine benchmarks (issue 3), printed, not CI-timed:
 *  1. loadRoomList({ limit: 100 }) over 10,000 cached rooms, against a raw Dexie read of the same
 *     page (the floor);
 *  2. replay of 1,000 mutations queued offline (from `connect()` until the outbox is empty and the
 *     cache holds the relay's results), against sending the same mutations one HTTP request each
 *     (the baseline); `rounds` times each, medians and the ratio of medians printed.
 * The relay runs in its own process (the CLI, as deployed), so its CPU time is its own and is
 * printed per mutation; the engine uses fake-indexeddb in this process.
 * Run: `npx -y pnpm@12.4.2 --filter @parlor/test exec tsx bench/engine-bench.ts [rooms=10000] [mutations=1000] [rounds=5]`
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Dexie } from 'dexie'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import WebSocket from 'ws'
import { createEngine } from '@parlor/engine'
import { startRelayProcess } from '../src/security/relay-process.js'
import { groupRoomId, type Mutation } from '@parlor/protocol'
import { post } from './lib/http.js'

const ROOMS = Number(process.argv[2] ?? 10_000)
const MUTATIONS = Number(process.argv[3] ?? 1_000)
const ROUNDS = Number(process.argv[4] ?? 5)

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!
  return { median: at(0.5), p95: at(0.95), min: s[0]!, max: s.at(-1)! }
}
const ms = (x: number) => `${x.toFixed(2)} ms`


/** CPU time (user + system) a process has used, in ms, from /proc (Linux). */
async function cpuMsOf(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /, '').split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
}

const dataDir = await mkdtemp(join(tmpdir(), 'parlor-bench-'))
const relay = await startRelayProcess(dataDir)
const relayPid = relay.child.pid!
try {
  const { token } = await post(relay.url, '/v1/session', { userId: 'bench-alice', userKey: 'k' })
  await post(relay.url, '/v1/session', { userId: 'bench-bob', userKey: 'k' })

  // ---- 1. room list over ROOMS cached rooms ------------------------------------------------------
  let t = performance.now()
  for (let i = 0; i < ROOMS; i += 100) {
    const mutations: Mutation[] = []
    for (let j = i; j < Math.min(ROOMS, i + 100); j++) {
      mutations.push({ id: `room-${j}`, name: 'createGroupRoom', args: { roomId: groupRoomId(`bench${j}`), name: `Room ${j}`, userIds: ['bench-bob'] }, createdAt: Date.now() })
    }
    await post(relay.url, '/v1/mutations', { mutations }, token)
  }
  console.log(`created ${ROOMS} rooms on the relay in ${ms(performance.now() - t)}`)

  const idb = new IDBFactory()
  const engine = createEngine({ relayUrl: relay.url, dbName: 'bench', indexedDB: idb, IDBKeyRange, WebSocket: WebSocket as never })
  t = performance.now()
  await engine.setUser('bench-alice', 'k')
  await engine.sync()
  console.log(`first sync of ${ROOMS} rooms (one socket): ${ms(performance.now() - t)}`)

  const raw = new Dexie('bench', { indexedDB: idb, IDBKeyRange })
  raw.version(1).stores({ rooms: 'id, &uniqueId, [removedKey+lastActivityAt], [removedKey+hasCommentsKey+lastActivityAt]' })
  const rawPage = () => raw.table('rooms').where('[removedKey+lastActivityAt]').between([0, -Infinity], [0, Infinity]).reverse().limit(100).toArray()

  for (let i = 0; i < 5; i++) await Promise.all([engine.loadRoomList({ limit: 100, show_empty: true }), rawPage()])
  const engineTimes: number[] = []
  const rawTimes: number[] = []
  for (let i = 0; i < 30; i++) {
    t = performance.now()
    const page = await engine.loadRoomList({ limit: 100, show_empty: true })
    engineTimes.push(performance.now() - t)
    if (page.length !== 100) throw new Error(`expected 100 rooms, got ${page.length}`)
    t = performance.now()
    await rawPage()
    rawTimes.push(performance.now() - t)
  }
  const e = stats(engineTimes)
  const r = stats(rawTimes)
  console.log(`loadRoomList({limit:100}) over ${ROOMS} rooms: median ${ms(e.median)}, p95 ${ms(e.p95)} (min ${ms(e.min)}, max ${ms(e.max)})`)
  console.log(`raw Dexie page of the same 100 rows (floor): median ${ms(r.median)}, p95 ${ms(r.p95)}`)
  console.log(`ratio engine/floor (median): ${(e.median / r.median).toFixed(2)}×`)
  raw.close()

  // ---- 2. replay of MUTATIONS queued offline, against one HTTP request per mutation ----------------
  const replays: number[] = []
  const baselines: number[] = []
  const relayCpu: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const room = await engine.createGroupRoom(`Replay ${round}`, ['bench-bob'])
    await engine.sync()
    await engine.disconnect()
    for (let i = 0; i < MUTATIONS; i++) await engine.sendComment(room.id, `queued ${i}`)
    const cpu0 = await cpuMsOf(relayPid)
    t = performance.now()
    engine.connect()
    await engine.sync()
    replays.push(performance.now() - t)
    relayCpu.push(((await cpuMsOf(relayPid)) - cpu0) / MUTATIONS)
    const cached = await engine.loadComments(room.id, { limit: 1 })
    if (cached[0]?.text !== `queued ${MUTATIONS - 1}` || (await engine.pendingMutations()).length !== 0) throw new Error('replay did not land')

    const baselineRoom = groupRoomId(`bench-baseline-${round}`)
    await post(relay.url, '/v1/mutations', { mutations: [{ id: `baseline-room-${round}`, name: 'createGroupRoom', args: { roomId: baselineRoom, name: 'Baseline', userIds: ['bench-bob'] }, createdAt: Date.now() }] }, token)
    t = performance.now()
    for (let i = 0; i < MUTATIONS; i++) {
      const m: Mutation = { id: `baseline-${round}-${i}`, name: 'sendComment', args: { roomId: baselineRoom, uniqueId: `b-${round}-${i}`, text: `one by one ${i}`, type: 'text' }, createdAt: Date.now() }
      await post(relay.url, '/v1/mutations', { mutations: [m] }, token)
    }
    baselines.push(performance.now() - t)
    console.log(`round ${round + 1}: replay ${ms(replays.at(-1)!)}, baseline ${ms(baselines.at(-1)!)}, relay CPU ${(relayCpu.at(-1)! * 1000).toFixed(0)} µs/mutation`)
  }
  const rp = stats(replays)
  const bl = stats(baselines)
  console.log(`replay of ${MUTATIONS} queued mutations after reconnect: median ${ms(rp.median)} (min ${ms(rp.min)}, max ${ms(rp.max)})`)
  console.log(`baseline, one HTTP request per mutation: median ${ms(bl.median)} (min ${ms(bl.min)}, max ${ms(bl.max)})`)
  console.log(`relay CPU during replay: median ${(stats(relayCpu).median * 1000).toFixed(0)} µs per mutation`)
  console.log(`ratio baseline/replay (medians): ${(bl.median / rp.median).toFixed(1)}× (target ≥ 10×)`)
  await engine.close()
} finally {
  await relay.kill('SIGTERM')
  await rm(dataDir, { recursive: true, force: true })
}
