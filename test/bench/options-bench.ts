/**
 * Options benchmark (issue 4), printed, not CI-timed: bytes on the wire for room options, Parlor
 * beside `@y/websocket-server` 0.1.1 (the standard y-websocket backend, started as its README says:
 * `HOST=… PORT=… npx y-websocket`, in its own process) measured in the same run, with the ratio.
 * Options as in ANCHORS.md: 10 keys of 10 characters with 20-character values; awareness off.
 *
 *  1. one key update: bytes another client receives when one key changes;
 *  2. initial sync of 10 options: bytes a fresh client exchanges until synced;
 *  3. the same after 1,000 overwrites (the live content is unchanged in size);
 *  4. reconnect of a client in 1,000 rooms of which 1% changed while it was away.
 *
 * Parlor is measured twice where it can be: an engine on its one socket (JSON frames), and a
 * standard y-websocket provider on Parlor's `/yjs/<roomId>` endpoint (the same protocol as the
 * anchor, so the document encodings compare directly).
 *
 * Run: `npx -y pnpm@12.4.2 --filter @parlor/test exec tsx bench/options-bench.ts [rooms=1000]`
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import { createEngine } from '@parlor/engine'
import { createRelay } from '@parlor/relay'
import { groupRoomId, readOptions, setOption, type Mutation } from '@parlor/protocol'

const ROOMS = Number(process.argv[2] ?? 1_000)
const KEYS = Array.from({ length: 10 }, (_, k) => `option-k${k}`.padEnd(10, 'x').slice(0, 10))
const value = (n: number | string) => `value ${n}`.padEnd(20, '.').slice(0, 20)
const OPTIONS = Object.fromEntries(KEYS.map((k, i) => [k, value(i)]))
const JSON_BYTES = Buffer.byteLength(JSON.stringify(OPTIONS))
const KEY_JSON_BYTES = Buffer.byteLength(JSON.stringify({ [KEYS[0]!]: value('x') }))

// ---- counting sockets -----------------------------------------------------------------------------

interface Meter {
  in: number
  out: number
}
const total = (m: Meter) => m.in + m.out
const byteLength = (data: unknown) => (data as ArrayBuffer).byteLength ?? (data as Buffer).length

/** A `ws` class that adds every byte it sends and receives to `meter`. */
function countingSocket(meter: Meter): typeof WebSocket {
  return class Counting extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols)
      this.on('message', (data) => (meter.in += byteLength(data)))
    }
    override send(data: any, ...rest: any[]): void {
      meter.out += typeof data === 'string' ? Buffer.byteLength(data) : byteLength(data)
      ;(super.send as (...a: unknown[]) => void)(data, ...rest)
    }
  } as unknown as typeof WebSocket
}

// ---- servers --------------------------------------------------------------------------------------

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

/** `@y/websocket-server` as its README starts it, in its own process. */
async function startAnchor(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort()
  const bin = createRequire(import.meta.url).resolve('@y/websocket-server/package.json').replace(/package\.json$/, 'src/server.js')
  const child = spawn(process.execPath, [bin], { env: { ...process.env, HOST: '127.0.0.1', PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('running') && resolve())
    child.once('exit', (code) => reject(new Error(`y-websocket server exited (${code})`)))
  })
  return { url: `ws://127.0.0.1:${port}`, child }
}

// ---- y-websocket clients ----------------------------------------------------------------------------

/** A provider with awareness off, counting into `meter`; resolves once synced. */
async function openProvider(serverUrl: string, room: string, meter: Meter, params: Record<string, string> = {}): Promise<{ doc: Y.Doc; provider: WebsocketProvider }> {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(serverUrl, room, doc, {
    WebSocketPolyfill: countingSocket(meter) as never,
    disableBc: true,
    connect: false,
    params,
  })
  provider.awareness.setLocalState(null)
  const synced = new Promise<void>((resolve) => provider.once('sync', () => resolve()))
  provider.connect()
  await synced
  return { doc, provider }
}

const waitFor = async (check: () => boolean, what: string, ms = 20_000) => {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out: ${what}`)
    await new Promise((r) => setTimeout(r, 2))
  }
}

/** A little quiet after the last byte, so late frames are counted. */
async function settle(meter: Meter): Promise<void> {
  let last = -1
  while (total(meter) !== last) {
    last = total(meter)
    await new Promise((r) => setTimeout(r, 50))
  }
}

// ---- measurements ---------------------------------------------------------------------------------

interface Row {
  what: string
  parlor: number
  parlorNote: string
  anchor: number
  target?: string
}
const rows: Row[] = []

async function main(): Promise<void> {
  const anchor = await startAnchor()
  const dataDir = await mkdtemp(join(tmpdir(), 'parlor-options-bench-'))
  const relay = await createRelay({ port: 0, host: '127.0.0.1', dataDir })
  const yjsUrl = `${relay.url.replace(/^http/, 'ws')}/yjs`
  const post = async (path: string, body: unknown, token?: string) => {
    const res = await fetch(relay.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body),
    })
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
    return res.json() as Promise<any>
  }
  const session = async (userId: string) => (await post('/v1/session', { userId, userKey: `key-${userId}` })).token as string
  let n = 0
  const mutation = (name: Mutation['name'], args: Record<string, unknown>) => ({ id: `bench-${++n}`, name, args, createdAt: Date.now() })
  const engines: { close(): Promise<void> }[] = []
  const newEngine = async (userId: string, meter: Meter) => {
    const e = createEngine({ relayUrl: relay.url, dbName: `bench-${userId}`, indexedDB: new IDBFactory(), IDBKeyRange, WebSocket: countingSocket(meter) as never })
    engines.push(e)
    await e.setUser(userId, `key-${userId}`)
    await e.sync()
    return e
  }

  try {
    const aliceToken = await session('alice')
    await session('bob')
    const room = groupRoomId('bench-room')
    await post('/v1/mutations', { mutations: [mutation('createGroupRoom', { roomId: room, name: 'Bench', userIds: ['bob'], options: OPTIONS })] }, aliceToken)

    // 1. One key update, as received by another client.
    {
      const aMeter = { in: 0, out: 0 }
      const bMeter = { in: 0, out: 0 }
      const a = await openProvider(anchor.url, 'one-key', aMeter)
      a.doc.getMap('options').set(KEYS[0]!, value(0))
      const b = await openProvider(anchor.url, 'one-key', bMeter)
      await settle(bMeter)
      bMeter.in = 0
      a.doc.getMap('options').set(KEYS[0]!, value('x'))
      await waitFor(() => bMeter.in > 0, 'the anchor update')
      await settle(bMeter)
      const anchorBytes = bMeter.in
      a.provider.destroy()
      b.provider.destroy()

      const alice = await newEngine('alice', { in: 0, out: 0 })
      const bobMeter = { in: 0, out: 0 }
      const bob = await newEngine('bob', bobMeter)
      await settle(bobMeter)
      bobMeter.in = 0
      await alice.options(room).set(KEYS[0]!, value('x'))
      await waitFor(() => bobMeter.in > 0, 'the engine change')
      await settle(bobMeter)
      const engineBytes = bobMeter.in
      const pMeter = { in: 0, out: 0 }
      const p = await openProvider(yjsUrl, room, pMeter, { token: relay.mintToken('bob') })
      await settle(pMeter)
      pMeter.in = 0
      await alice.options(room).set(KEYS[0]!, value('y'))
      await waitFor(() => pMeter.in > 0, 'the /yjs update')
      await settle(pMeter)
      rows.push({ what: 'one key update, bytes received', parlor: engineBytes, parlorNote: `engine change frame; /yjs provider ${pMeter.in}`, anchor: anchorBytes, target: `≤ ${KEY_JSON_BYTES} (plain JSON)` })
      p.provider.destroy()
      await bob.sync()
    }

    // 2. Initial sync of 10 options.
    const initialSync = async (anchorRoom: string, parlorRoom: string): Promise<[number, number, number]> => {
      const m = { in: 0, out: 0 }
      const fresh = await openProvider(anchor.url, anchorRoom, m)
      await settle(m)
      const anchorBytes = total(m)
      fresh.provider.destroy()
      const pm = { in: 0, out: 0 }
      const p = await openProvider(yjsUrl, parlorRoom, pm, { token: relay.mintToken('bob') })
      await settle(pm)
      if (JSON.stringify(readOptions(p.doc)) === '{}') throw new Error('the /yjs provider saw no options')
      p.provider.destroy()
      // What an engine's catch-up carries for the room's options: the document as base64.
      const byId = await post('/v1/query', { name: 'getRoomById', args: { roomId: parlorRoom } }, aliceToken)
      const stateField = Buffer.byteLength(`,"optionsState":"${byId.room.optionsState}"`)
      return [total(pm), anchorBytes, stateField]
    }
    {
      const writer = await openProvider(anchor.url, 'ten-options', { in: 0, out: 0 })
      for (const [k, v] of Object.entries(OPTIONS)) writer.doc.getMap('options').set(k, v)
      const fresh = groupRoomId('bench-fresh')
      await post('/v1/mutations', { mutations: [mutation('createGroupRoom', { roomId: fresh, name: 'Fresh', userIds: ['bob'], options: OPTIONS })] }, aliceToken)
      const [parlor, anchorBytes, field] = await initialSync('ten-options', fresh)
      rows.push({ what: 'initial sync of 10 options, bytes', parlor, parlorNote: `/yjs provider; engine catch-up field ${field}`, anchor: anchorBytes, target: `≤ ${Math.round(1.2 * JSON_BYTES)} (1.2× JSON ${JSON_BYTES})` })
      writer.provider.destroy()
    }

    // 3. Initial sync after 1,000 overwrites (one writer each side; Parlor also with 3 writers).
    {
      const writer = await openProvider(anchor.url, 'churned', { in: 0, out: 0 })
      const map = writer.doc.getMap('options')
      for (const [k, v] of Object.entries(OPTIONS)) map.set(k, v)
      for (let i = 0; i < 1000; i++) map.set(KEYS[i % 10]!, value(i))
      for (const [k, v] of Object.entries(OPTIONS)) map.set(k, v)
      await settle({ in: 0, out: 0 })
      const churned = groupRoomId('bench-churned')
      await post('/v1/mutations', { mutations: [mutation('createGroupRoom', { roomId: churned, name: 'Churned', userIds: ['bob'], options: OPTIONS })] }, aliceToken)
      const writers = await Promise.all([0, 1, 2].map(() => openProvider(yjsUrl, churned, { in: 0, out: 0 }, { token: relay.mintToken('alice') })))
      for (let i = 0; i < 1000; i++) setOption(writers[i % 3]!.doc, KEYS[i % 10]!, value(i))
      for (const [k, v] of Object.entries(OPTIONS)) setOption(writers[0]!.doc, k, v)
      await waitFor(() => writers.every((w) => JSON.stringify(readOptions(w.doc)) === JSON.stringify(readOptions(writers[0]!.doc))), 'the writers to agree')
      await new Promise((r) => setTimeout(r, 200))
      const [parlor, anchorBytes, field] = await initialSync('churned', churned)
      // The same with one writer, as the anchor's.
      const single = groupRoomId('bench-churned-1')
      await post('/v1/mutations', { mutations: [mutation('createGroupRoom', { roomId: single, name: 'Churned 1', userIds: ['bob'], options: OPTIONS })] }, aliceToken)
      const one = await openProvider(yjsUrl, single, { in: 0, out: 0 }, { token: relay.mintToken('alice') })
      for (let i = 0; i < 1000; i++) setOption(one.doc, KEYS[i % 10]!, value(i))
      for (const [k, v] of Object.entries(OPTIONS)) setOption(one.doc, k, v)
      await new Promise((r) => setTimeout(r, 300))
      const [parlorOne, , fieldOne] = await initialSync('churned', single)
      rows.push({ what: 'initial sync after 1,000 overwrites, bytes', parlor: parlorOne, parlorNote: `/yjs provider, 1 writer (engine field ${fieldOne}); 3 writers: ${parlor} (engine field ${field})`, anchor: anchorBytes, target: `≤ ${2 * JSON_BYTES} (2× JSON ${JSON_BYTES})` })
      writer.provider.destroy()
      one.provider.destroy()
      for (const w of writers) w.provider.destroy()
    }

    // 4. Reconnect with 1% of ROOMS rooms changed.
    {
      const names = Array.from({ length: ROOMS }, (_, i) => `bulk-${i}`)
      const changed = names.filter((_, i) => i % 100 === 7)
      // Anchor: one provider (and socket) per room.
      const writerMeter = { in: 0, out: 0 }
      const writers = new Map<string, Awaited<ReturnType<typeof openProvider>>>()
      for (const name of changed) {
        const w = await openProvider(anchor.url, name, writerMeter)
        writers.set(name, w)
      }
      const m = { in: 0, out: 0 }
      const clients: Awaited<ReturnType<typeof openProvider>>[] = []
      for (let i = 0; i < names.length; i += 50) {
        clients.push(...(await Promise.all(names.slice(i, i + 50).map((name) => openProvider(anchor.url, name, m)))))
      }
      for (const name of names) {
        const w = writers.get(name)
        if (w) for (const [k, v] of Object.entries(OPTIONS)) w.doc.getMap('options').set(k, v)
      }
      // (Unchanged rooms hold the options too, set by the client itself.)
      clients.forEach((c, i) => !writers.has(names[i]!) && Object.entries(OPTIONS).forEach(([k, v]) => c.doc.getMap('options').set(k, v)))
      await settle(m)
      for (const c of clients) c.provider.disconnect()
      for (const w of writers.values()) w.doc.getMap('options').set(KEYS[0]!, value('changed'))
      await settle(writerMeter)
      m.in = 0
      m.out = 0
      for (const c of clients) c.provider.connect()
      await waitFor(() => clients.every((c) => c.provider.synced), 'the anchor clients to resync', 60_000)
      await settle(m)
      const anchorBytes = total(m)
      for (const c of clients) c.provider.destroy()
      for (const w of writers.values()) w.provider.destroy()

      // Parlor: one engine, one socket.
      const roomIds = names.map((name) => groupRoomId(name))
      await session('carol')
      for (let i = 0; i < roomIds.length; i += 100) {
        await post('/v1/mutations', { mutations: roomIds.slice(i, i + 100).map((roomId) => mutation('createGroupRoom', { roomId, name: roomId, userIds: ['carol'], options: OPTIONS })) }, aliceToken)
      }
      const cm = { in: 0, out: 0 }
      const carol = await newEngine('carol', cm)
      await settle(cm)
      const full = total(cm)
      await carol.disconnect()
      for (const name of changed) await post('/v1/mutations', { mutations: [mutation('updateRoom', { roomId: groupRoomId(name), options: { [KEYS[0]!]: value('changed') } })] }, aliceToken)
      cm.in = 0
      cm.out = 0
      carol.connect()
      await carol.sync()
      await settle(cm)
      rows.push({ what: `reconnect, ${changed.length} of ${ROOMS} rooms changed, bytes`, parlor: total(cm), parlorNote: `engine, 1 socket; its full sync ${full}`, anchor: anchorBytes, target: `anchor: ${ROOMS} sockets` })
    }
  } finally {
    for (const e of engines) await e.close().catch(() => {})
    await relay.close()
    anchor.child.kill()
    await rm(dataDir, { recursive: true, force: true })
  }

  console.log(`\nOptions benchmark — Parlor vs @y/websocket-server 0.1.1 (same run). Options: 10 keys × 10 chars, 20-char values (JSON ${JSON_BYTES} B).\n`)
  const pad = (s: string, n: number) => s.padEnd(n)
  console.log(`${pad('measurement', 46)}${pad('Parlor', 10)}${pad('y-websocket', 13)}${pad('ratio', 8)}${pad('target', 28)}notes`)
  for (const r of rows) {
    console.log(`${pad(r.what, 46)}${pad(String(r.parlor), 10)}${pad(String(r.anchor), 13)}${pad((r.parlor / r.anchor).toFixed(2), 8)}${pad(r.target ?? '', 28)}${r.parlorNote}`)
  }
}

await main()
process.exit(0)
