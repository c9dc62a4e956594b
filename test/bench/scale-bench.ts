/**
 * Scale-out benchmark (issue 7), printed, not CI-timed. Real relay processes (the CLI) on a
 * throwaway PostgreSQL cluster and Redis server, all on this machine, driven by raw websocket
 * clients (the protocol's `mutate` and `change` frames), so engine work does not blur the figures:
 *
 *  1. Fan-out latency: one sender posts a comment, waits until all receivers (30 members of the
 *     room, spread over the nodes) got its `change` frame, and repeats. 1 node (PostgreSQL, in-process
 *     fan-out) against 3 nodes (PostgreSQL + Redis; sender on node 0). The Redis hop's overhead is the
 *     ratio of the 3-node latency for receivers on other nodes to the 1-node latency.
 *  2. Fan-out throughput: 5 senders (on different nodes) post 2,000 comments as fast as the relay
 *     takes them (20 per frame); commits/s and deliveries/s until every receiver has every comment.
 *  3. Connections per node at 1 GiB RSS: one relay process (PostgreSQL + Redis), users in rooms of
 *     50; open connections in steps (hello + catch-up each), read the process's RSS from /metrics
 *     after each step, fit RSS = base + slope·connections by least squares, and extrapolate
 *     (1 GiB − base) / slope. The model is linear in connections at rest (no traffic), so it is an
 *     upper bound for busy connections.
 *
 * Run: `cd test && npx tsx bench/scale-bench.ts [connections=8000] [all|fanout|connections]` (needs the PostgreSQL 15 and
 * redis-server binaries, as the tests do; opens up to `connections` sockets: keep `ulimit -n` above
 * that).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import WebSocket from 'ws'
import { PROTOCOL_VERSION, groupRoomId } from '@parlor/protocol'
import { mintToken } from '@parlor/relay'
import { startDataServices } from '../../scripts/test-services.mjs'
import { post } from './lib/http.js'

const MAX_CONNECTIONS = Number(process.argv[2] ?? 8000)
/** `fanout`, `connections` or `all` (default). */
const ONLY = process.argv[3] ?? 'all'
const BIN = fileURLToPath(new URL('../../apps/relay/bin/parlor-relay.mjs', import.meta.url))
const SECRET = randomBytes(24).toString('base64url')
const RECEIVERS = 30
const LATENCY_ROUNDS = 300
const SENDERS = 5
const PER_SENDER = 400
const PER_FRAME = 20

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`)

/** Rejects when `p` takes longer than `ms` (a stuck benchmark fails instead of hanging). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms))),
  ])
}

// ---- processes ------------------------------------------------------------------------------------

interface Node {
  url: string
  child: ChildProcess
}

const children: ChildProcess[] = []
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
})

async function startNode(args: string[]): Promise<Node> {
  const cwd = mkdtempSync(join(tmpdir(), 'parlor-bench-node-'))
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PARLOR_')))
  const child = spawn(process.execPath, [BIN, '--port', '0', '--secret', SECRET, '--log-level', 'error', ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  child.once('exit', () => rmSync(cwd, { recursive: true, force: true }))
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^parlor-relay listening on (http:\/\/\S+)$/.exec(line)
      if (m) resolve(m[1]!)
    })
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}`)))
  })
  return { url, child }
}

async function stopNodes(nodes: Node[]): Promise<void> {
  await Promise.all(nodes.map((n) => new Promise<void>((resolve) => {
    if (n.child.exitCode !== null) return resolve()
    n.child.once('exit', () => resolve())
    n.child.kill('SIGTERM')
  })))
}

async function freshDatabase(adminUrl: string): Promise<string> {
  const name = `parlor_bench_${randomBytes(5).toString('hex')}`
  const c = new pg.Client({ connectionString: adminUrl })
  await c.connect()
  await c.query(`CREATE DATABASE ${name}`)
  await c.end()
  const u = new URL(adminUrl)
  u.pathname = `/${name}`
  return u.toString()
}

// ---- clients --------------------------------------------------------------------------------------


/** Users inserted straight into the database (the bench mints their tokens with the shared secret). */
async function insertUsers(databaseUrl: string, ids: string[]): Promise<void> {
  const c = new pg.Client({ connectionString: databaseUrl })
  await c.connect()
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000)
    await c.query(
      `INSERT INTO users (user_id, username, avatar_url, key_hash, created_at, updated_at)
       SELECT id, id, '', 'scrypt$bench', 0, 0 FROM unnest($1::text[]) AS id`,
      [chunk],
    )
  }
  await c.end()
}

async function createRoom(url: string, ownerToken: string, memberIds: string[]): Promise<string> {
  const roomId = groupRoomId(randomBytes(8).toString('hex'))
  const mutations = [{ id: `m-${randomBytes(6).toString('hex')}`, name: 'createGroupRoom', args: { roomId, name: 'bench', userIds: memberIds }, createdAt: Date.now() }]
  const { results } = await post(url, '/v1/mutations', { mutations }, ownerToken)
  if (!results[0].ok) throw new Error(JSON.stringify(results[0]))
  return roomId
}

interface Client {
  ws: WebSocket
  onChange: ((frame: any, at: number) => void) | undefined
}

/** A socket that has said hello and received its catch-up. */
function connect(url: string, token: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/socket`, { perMessageDeflate: false })
    const client: Client = { ws, onChange: undefined }
    let isReady = false
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token, cursor: 0 })))
    ws.on('message', (data) => {
      const at = performance.now()
      const text = data.toString()
      if (!isReady) {
        if (text.startsWith('{"type":"sync"')) {
          isReady = true
          resolve(client)
        }
        return
      }
      if (client.onChange && text.startsWith('{"type":"change"')) client.onChange(JSON.parse(text), at)
    })
    ws.on('error', reject)
    ws.on('close', (code) => {
      if (!isReady) reject(new Error(`socket closed with ${code} before its sync`))
    })
  })
}

const sendComments = (c: Client, roomId: string, texts: string[]) =>
  c.ws.send(JSON.stringify({
    type: 'mutate',
    mutations: texts.map((text) => ({
      id: `m-${randomBytes(6).toString('hex')}`, name: 'sendComment', createdAt: Date.now(),
      args: { roomId, uniqueId: `c-${randomBytes(6).toString('hex')}`, text, type: 'text' },
    })),
  }))

// ---- figures --------------------------------------------------------------------------------------

const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN
}
const fmt = (x: number) => `${x.toFixed(2)} ms`
const summary = (xs: number[]) => `p50 ${fmt(pct(xs, 0.5))}  p95 ${fmt(pct(xs, 0.95))}  p99 ${fmt(pct(xs, 0.99))}  (n=${xs.length})`

interface FanoutFigures {
  sameNode: number[]
  otherNodes: number[]
  commitsPerSec: number
  deliveriesPerSec: number
  /** Seqs the nodes rebuilt from the database because no Redis message brought them in time. */
  recovered: number
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0)
}

async function fanoutBench(nodes: Node[], databaseUrl: string): Promise<FanoutFigures> {
  const tag = randomBytes(3).toString('hex')
  const senderIds = Array.from({ length: SENDERS }, (_, i) => `s${i}-${tag}`)
  const receiverIds = Array.from({ length: RECEIVERS }, (_, i) => `r${i}-${tag}`)
  await insertUsers(databaseUrl, [...senderIds, ...receiverIds])
  const token = (id: string) => mintToken({ secret: SECRET, userId: id })
  const roomId = await createRoom(nodes[0]!.url, token(senderIds[0]!), [...senderIds.slice(1), ...receiverIds])
  const senders = await Promise.all(senderIds.map((id, i) => connect(nodes[i % nodes.length]!.url, token(id))))
  const receivers = await Promise.all(receiverIds.map((id, i) => connect(nodes[i % nodes.length]!.url, token(id))))
  const homeOf = (i: number) => i % nodes.length

  // 1. latency, one comment at a time from sender 0 (node 0).
  const sameNode: number[] = []
  const otherNodes: number[] = []
  for (let round = 0; round < LATENCY_ROUNDS + 20; round++) {
    const text = `lat-${round}`
    let left = receivers.length
    const sentAt = performance.now()
    await within(new Promise<void>((resolve) => {
      receivers.forEach((r, i) => {
        r.onChange = (frame, at) => {
          if (!frame.comments?.some((c: { text: string }) => c.text === text)) return
          r.onChange = undefined
          // The first 20 rounds warm up (connections, prepared statements, JIT).
          if (round >= 20) (homeOf(i) === 0 ? sameNode : otherNodes).push(at - sentAt)
          if (--left === 0) resolve()
        }
      })
      sendComments(senders[0]!, roomId, [text])
    }), 10_000, `latency round ${round} (${left} receivers missing)`)
  }
  log(`latency rounds done on ${nodes.length} node(s)`)

  // 2. throughput: every sender posts PER_SENDER comments, PER_FRAME per frame, all at once.
  const total = SENDERS * PER_SENDER
  let delivered = 0
  const start = performance.now()
  await within(new Promise<void>((resolve) => {
    for (const r of receivers) {
      r.onChange = (frame) => {
        delivered += (frame.comments ?? []).filter((c: { text: string }) => c.text.startsWith('tp-')).length
        if (delivered === total * receivers.length) resolve()
      }
    }
    senders.forEach((s, si) => {
      for (let f = 0; f < PER_SENDER / PER_FRAME; f++) {
        sendComments(s, roomId, Array.from({ length: PER_FRAME }, (_, k) => `tp-${si}-${f * PER_FRAME + k}`))
      }
    })
  }), 120_000, `throughput (delivered ${delivered} of ${total * receivers.length})`)
  log(`throughput done on ${nodes.length} node(s)`)
  const seconds = (performance.now() - start) / 1000
  for (const c of [...senders, ...receivers]) c.ws.terminate()
  let recovered = 0
  for (const n of nodes) recovered += await metric(n.url, 'parlor_fanout_recovered_total')
  return { sameNode, otherNodes, commitsPerSec: total / seconds, deliveriesPerSec: (total * receivers.length) / seconds, recovered }
}

async function rss(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  return Number(/^process_resident_memory_bytes (\d+)$/m.exec(text)?.[1])
}

async function connectionsBench(node: Node, databaseUrl: string) {
  const tag = randomBytes(3).toString('hex')
  const ids = Array.from({ length: MAX_CONNECTIONS }, (_, i) => `c${i}-${tag}`)
  await insertUsers(databaseUrl, [...ids, `owner-${tag}`])
  const ownerToken = mintToken({ secret: SECRET, userId: `owner-${tag}` })
  for (let i = 0; i < ids.length; i += 50) await createRoom(node.url, ownerToken, ids.slice(i, i + 50))
  log(`${ids.length} users in ${Math.ceil(ids.length / 50)} rooms`)
  const settle = () => new Promise((r) => setTimeout(r, 1500))
  await settle()
  const points: Array<[number, number]> = [[0, await rss(node.url)]]
  const clients: Client[] = []
  const steps = [0.125, 0.25, 0.5, 0.75, 1].map((f) => Math.round(f * MAX_CONNECTIONS))
  for (const target of steps) {
    while (clients.length < target) {
      const batch = ids.slice(clients.length, Math.min(target, clients.length + 200))
      clients.push(...(await Promise.all(batch.map((id) => connect(node.url, mintToken({ secret: SECRET, userId: id }))))))
    }
    await settle()
    points.push([clients.length, await rss(node.url)])
    log(`${clients.length} connections: RSS ${(points.at(-1)![1] / 2 ** 20).toFixed(1)} MiB`)
  }
  for (const c of clients) c.ws.terminate()
  // Least squares over the points.
  const n = points.length
  const mx = points.reduce((s, [x]) => s + x, 0) / n
  const my = points.reduce((s, [, y]) => s + y, 0) / n
  const slope = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / points.reduce((s, [x]) => s + (x - mx) ** 2, 0)
  const base = my - slope * mx
  return { points, slope, base, atGiB: Math.floor((2 ** 30 - base) / slope) }
}

// ---- main -----------------------------------------------------------------------------------------

const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`

async function main(): Promise<void> {
  console.log('starting PostgreSQL and Redis…')
  const services = await startDataServices()
  const adminUrl = services.env.PARLOR_TEST_DATABASE_URL
  const redisUrl = services.env.PARLOR_TEST_REDIS_URL
  try {
    if (ONLY === 'all' || ONLY === 'fanout') {
      const db1 = await freshDatabase(adminUrl)
      const one = [await startNode(['--database-url', db1])]
      const single = await fanoutBench(one, db1)
      await stopNodes(one)

      const db3 = await freshDatabase(adminUrl)
      const cluster = [await startNode(['--database-url', db3, '--redis-url', redisUrl])]
      cluster.push(...(await Promise.all([0, 1].map(() => startNode(['--database-url', db3, '--redis-url', redisUrl])))))
      const three = await fanoutBench(cluster, db3)
      await stopNodes(cluster)

      const oneLat = [...single.sameNode, ...single.otherNodes]
      console.log(`\nFan-out latency (comment sent → change frame at each of ${RECEIVERS} receivers, ${LATENCY_ROUNDS} rounds)`)
      console.log(`  1 node (PostgreSQL, in-process fan-out):       ${summary(oneLat)}`)
      console.log(`  3 nodes, receivers on the sender's node:       ${summary(three.sameNode)}`)
      console.log(`  3 nodes, receivers on other nodes (Redis hop): ${summary(three.otherNodes)}`)
      const ratio = (a: number[], b: number[], q: number) => (pct(a, q) / pct(b, q)).toFixed(2)
      console.log(`  Redis hop, 3 nodes (other-node / same-node receivers): p50 ${ratio(three.otherNodes, three.sameNode, 0.5)}×, p95 ${ratio(three.otherNodes, three.sameNode, 0.95)}×`)
      console.log(`  3 nodes other-node / 1 node:                          p50 ${ratio(three.otherNodes, oneLat, 0.5)}×, p95 ${ratio(three.otherNodes, oneLat, 0.95)}×`)
      console.log(`\nFan-out throughput (${SENDERS} senders × ${PER_SENDER} comments, ${PER_FRAME} per frame, ${RECEIVERS} receivers)`)
      console.log(`  1 node:  ${single.commitsPerSec.toFixed(0)} commits/s, ${single.deliveriesPerSec.toFixed(0)} deliveries/s`)
      console.log(`  3 nodes: ${three.commitsPerSec.toFixed(0)} commits/s, ${three.deliveriesPerSec.toFixed(0)} deliveries/s` +
        `  (ratio 3/1: ${(three.commitsPerSec / single.commitsPerSec).toFixed(2)}; seqs rebuilt from the database: ${three.recovered})`)
    }
    if (ONLY === 'all' || ONLY === 'connections') {
      const dbc = await freshDatabase(adminUrl)
      const conn = [await startNode(['--database-url', dbc, '--redis-url', redisUrl])]
      const mem = await connectionsBench(conn[0]!, dbc)
      await stopNodes(conn)
      console.log(`\nConnections per node at 1 GiB RSS (one relay process, PostgreSQL + Redis, idle connections in rooms of 50)`)
      for (const [c, r] of mem.points) console.log(`  ${String(c).padStart(6)} connections: RSS ${mb(r)}`)
      console.log(`  least-squares fit: RSS ≈ ${mb(mem.base)} + ${(mem.slope / 1024).toFixed(1)} KiB × connections`)
      console.log(`  extrapolated to 1 GiB: ≈ ${mem.atGiB.toLocaleString('en')} connections per node`)
    }
  } finally {
    await services.stop()
  }
}

await main()
process.exit(0)
