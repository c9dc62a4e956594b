/**
 * A client process of the options fan-out benchmark (subscribers, writers, or one client opening
 * many rooms), driven by the parent over IPC. Groups of sockets are named so one process can hold
 * several at once. Every wait is bounded.
 *
 * Commands: `open`, `generate`, `write`, `reset`, `report`, `close` (protocol-level sockets, see
 * wire.ts) and `openReal` (real clients: y-websocket providers, Hocuspocus providers with or without
 * a shared socket, a Parlor engine), `closeReal`.
 */
import WebSocket from 'ws'
import * as Y from 'yjs'
import { ProtoSocket, WriterDoc, type SocketSpec } from './wire.js'

interface Group {
  sockets: ProtoSocket[]
  writers: WriterDoc[]
  /** Subscribers: per document name, per socket, stamp → arrival. */
  seen: Map<string, Map<bigint, bigint>[]>
}
const groups = new Map<string, Group>()
// A thousand Hocuspocus providers each listen to the process's events.
process.setMaxListeners(0)
let real: { close(): Promise<void> } | undefined

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)))])
  } finally {
    clearTimeout(timer)
  }
}

function group(name: string): Group {
  const g = groups.get(name)
  if (!g) throw new Error(`no group ${name}`)
  return g
}

/** Opens sockets (`batch` at a time; 0 = all at once), waits until every one is synced; writers seed empty documents. */
async function open(a: { group: string; role: 'sub' | 'writer'; specs: SocketSpec[]; batch?: number; seed?: boolean; timeoutMs?: number }) {
  const g: Group = groups.get(a.group) ?? { sockets: [], writers: [], seen: new Map() }
  groups.set(a.group, g)
  const t0 = performance.now()
  const batch = a.batch || a.specs.length
  for (let i = 0; i < a.specs.length; i += batch) {
    const opened = a.specs.slice(i, i + batch).map((spec) => {
      if (a.role === 'sub') {
        const maps = spec.docs.map((name) => {
          const m = new Map<bigint, bigint>()
          const list = g.seen.get(name) ?? []
          list.push(m)
          g.seen.set(name, list)
          return m
        })
        return new ProtoSocket(spec, (doc, stamp, at) => void (maps[doc]!.has(stamp) || maps[doc]!.set(stamp, at)), undefined)
      }
      const docs: WriterDoc[] = []
      const s = new ProtoSocket(spec, undefined, (doc, update) => Y.applyUpdate(docs[doc]!.doc, update))
      spec.docs.forEach((_, i) => docs.push(new WriterDoc(s, i)))
      g.writers.push(...docs)
      return s
    })
    g.sockets.push(...opened)
    await bounded(Promise.all(opened.map((s) => s.synced)), a.timeoutMs ?? 60_000, `${a.specs.length} ${a.specs[0]?.wire} sockets to sync`)
  }
  const ms = performance.now() - t0
  if (a.role === 'writer' && a.seed) {
    for (const w of g.writers) if (!w.hasOptions()) w.seed()
  }
  return { ms, sockets: g.sockets.length, states: g.sockets.reduce((n, s) => n + s.statesSeen, 0) }
}

/** Open loop: `rate` updates/s in total over the group's writer documents in turn, for `durationMs`. */
async function write(a: { group: string; rate: number; durationMs: number }) {
  const { writers } = group(a.group)
  const total = Math.floor((a.rate * a.durationMs) / 1000)
  const sent: Record<string, string[]> = {}
  for (const w of writers) sent[w.name] = []
  const lags: number[] = []
  const t0 = performance.now()
  let k = 0
  while (k < total) {
    const now = performance.now()
    if (now - t0 > a.durationMs * 3 + 5_000) break
    const due = Math.min(total, Math.floor(((now - t0) * a.rate) / 1000) + 1)
    if (due > k) lags.push(now - (t0 + (k * 1000) / a.rate))
    while (k < due) {
      const w = writers[k % writers.length]!
      sent[w.name]!.push(w.sendNext().toString())
      k++
    }
    const nextAt = t0 + (k * 1000) / a.rate
    await sleep(Math.max(1, Math.floor(nextAt - performance.now())))
  }
  const elapsed = performance.now() - t0
  lags.sort((x, y) => x - y)
  return { sent, count: k, achieved: (k * 1000) / Math.max(elapsed, 1), lagP99Ms: lags[Math.floor(lags.length * 0.99)] ?? 0 }
}

const pct = (s: Float64Array, q: number) => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))]!)

/** Waits (at most `timeoutMs`) until every subscriber saw every stamp sent to its document; then latencies and losses. */
async function report(a: { group: string; sent: Record<string, string[]>; timeoutMs: number }) {
  const { seen } = group(a.group)
  const sent = Object.entries(a.sent).map(([name, stamps]) => [name, stamps.map((s) => BigInt(s))] as const)
  const missing = () => {
    let n = 0
    for (const [name, stamps] of sent) for (const m of seen.get(name) ?? []) for (const s of stamps) if (!m.has(s)) n++
    return n
  }
  const until = performance.now() + a.timeoutMs
  while (missing() > 0 && performance.now() < until) await sleep(20)
  let expected = 0
  const lat: number[] = []
  for (const [name, stamps] of sent) {
    for (const m of seen.get(name) ?? []) {
      for (const s of stamps) {
        expected++
        const at = m.get(s)
        if (at !== undefined) lat.push(Number(at - s) / 1e6)
      }
    }
  }
  const sorted = Float64Array.from(lat).sort()
  return { expected, observed: lat.length, lost: expected - lat.length, p50: pct(sorted, 0.5), p99: pct(sorted, 0.99), max: sorted.length ? sorted[sorted.length - 1]! : NaN }
}

/** A `ws` subclass that counts the sockets opened (and notes when a Parlor catch-up's last frame arrived). */
let socketsOpened = 0
let lastSyncFrameAt = 0
class CountingSocket extends WebSocket {
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols)
    socketsOpened++
    this.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary || data[2] !== 0x74 /* t */) return
      const head = data.subarray(0, 15).toString()
      if (head === '{"type":"sync",' && !data.includes('"more":true')) lastSyncFrameAt = performance.now()
    })
  }
}

/**
 * One client opening `names.length` rooms with the real client library, all at once as an app
 * would: time until every one is synced, and the sockets it opened.
 */
async function openReal(a: { client: 'y-websocket' | 'hocuspocus' | 'hocuspocus-mux' | 'parlor-engine'; base: string; names: string[]; relayUrl?: string; userId?: string; userKey?: string; timeoutMs?: number }) {
  // The client's code is loaded before the clock starts (an app has it loaded already): the
  // workspace's engine is TypeScript that tsx compiles on first import, the anchors' clients are built.
  const lib = {
    yws: a.client === 'y-websocket' ? await import('y-websocket') : undefined,
    hocus: a.client.startsWith('hocuspocus') ? await import('@hocuspocus/provider') : undefined,
    idb: a.client === 'parlor-engine' ? await import('fake-indexeddb') : undefined,
    engine: a.client === 'parlor-engine' ? await import('@parlor/engine') : undefined,
  }
  socketsOpened = 0
  const t0 = performance.now()
  if (a.client === 'y-websocket') {
    const { WebsocketProvider } = lib.yws!
    const providers = a.names.map((name) => {
      const p = new WebsocketProvider(a.base, name, new Y.Doc(), { WebSocketPolyfill: CountingSocket as never, disableBc: true, connect: false })
      p.awareness.setLocalState(null)
      p.connect()
      return p
    })
    await bounded(Promise.all(providers.map((p) => (p.synced ? undefined : new Promise<void>((r) => p.once('sync', () => r()))))), a.timeoutMs ?? 60_000, 'y-websocket providers')
    const ms = performance.now() - t0
    if (providers.some((p) => p.doc.getMap('options').size !== 10)) throw new Error('a y-websocket document lacks its options')
    real = { close: async () => providers.forEach((p) => p.destroy()) }
    return { ms, sockets: socketsOpened }
  }
  if (a.client === 'hocuspocus' || a.client === 'hocuspocus-mux') {
    const { HocuspocusProvider, HocuspocusProviderWebsocket } = lib.hocus!
    const shared = a.client === 'hocuspocus-mux' ? new HocuspocusProviderWebsocket({ url: a.base, WebSocketPolyfill: CountingSocket as never }) : undefined
    const providers = a.names.map((name) => {
      const p = shared
        ? new HocuspocusProvider({ websocketProvider: shared, name, document: new Y.Doc(), awareness: null })
        : new HocuspocusProvider({ url: a.base, name, document: new Y.Doc(), awareness: null, WebSocketPolyfill: CountingSocket as never } as never)
      if (shared) p.attach()
      return p
    })
    await bounded(Promise.all(providers.map((p) => (p.isSynced ? undefined : new Promise<void>((r) => p.on('synced', () => r()))))), a.timeoutMs ?? 60_000, 'hocuspocus providers')
    const ms = performance.now() - t0
    if (providers.some((p) => p.document.getMap('options').size !== 10)) throw new Error('a hocuspocus document lacks its options')
    real = {
      close: async () => {
        providers.forEach((p) => p.destroy())
        shared?.destroy()
      },
    }
    return { ms, sockets: socketsOpened }
  }
  const { IDBFactory, IDBKeyRange } = lib.idb!
  const { createEngine } = lib.engine!
  const engine = createEngine({ relayUrl: a.relayUrl!, dbName: `bench-${a.userId}-${Date.now()}`, indexedDB: new IDBFactory(), IDBKeyRange, WebSocket: CountingSocket as never })
  await bounded(engine.setUser(a.userId!, a.userKey!), a.timeoutMs ?? 60_000, 'engine sign-in')
  const signedIn = performance.now() - t0
  await bounded(engine.sync(), a.timeoutMs ?? 60_000, 'engine sync')
  const ms = performance.now() - t0
  const syncFramesMs = lastSyncFrameAt - t0
  const last = await engine.options(a.names[a.names.length - 1]!).ready
  if (Object.keys(last.toJSON()).length !== 10) throw new Error('the engine lacks a room\'s options')
  real = { close: () => engine.close() }
  return { ms, sockets: socketsOpened, signedInMs: signedIn, syncFramesMs }
}

const handlers: Record<string, (a: any) => unknown> = {
  open,
  write,
  report,
  openReal,
  generate: (a: { group: string; perDoc: number }) => {
    for (const w of group(a.group).writers) w.generate(a.perDoc - w.available)
    return true
  },
  reset: (a: { group: string }) => {
    for (const list of group(a.group).seen.values()) for (const m of list) m.clear()
    return true
  },
  close: (a: { group: string }) => {
    const g = groups.get(a.group)
    g?.sockets.forEach((s) => s.close())
    groups.delete(a.group)
    return true
  },
  closeReal: async () => {
    await real?.close()
    real = undefined
    return true
  },
}

process.on('message', async (m: { id: number; cmd: string }) => {
  try {
    const h = handlers[m.cmd]
    if (!h) throw new Error(`unknown command ${m.cmd}`)
    process.send!({ id: m.id, ok: true, value: await h(m) })
  } catch (e) {
    process.send!({ id: m.id, ok: false, error: String((e as Error)?.stack ?? e) })
  }
})
process.send!({ ready: true })
