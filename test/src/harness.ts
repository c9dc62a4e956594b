/**
 * Test harness for cross-package tests: a real relay on a temp data dir and port 0, engines that
 * each simulate a separate device (own fake-indexeddb factory), raw HTTP and raw socket clients.
 *
 * Everything started here is torn down automatically: inside a test through `onTestFinished`,
 * outside one (a `beforeAll`) at the end of the file. Nothing waits on a fixed sleep: helpers
 * await events or poll with a bounded timeout that fails with a message naming what was awaited.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, onTestFinished } from 'vitest'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import WebSocket from 'ws'
import { createRelay, type RelayOptions } from '@parlor/relay'
import { createEngine } from '@parlor/engine'
import { PROTOCOL_VERSION, groupRoomId, type Mutation } from '@parlor/protocol'

export type Engine = ReturnType<typeof createEngine>
type RawRelay = Awaited<ReturnType<typeof createRelay>>

// ---- cleanup --------------------------------------------------------------------------------------

const fileCleanups: Array<() => Promise<void> | void> = []
afterAll(async () => {
  const errors: unknown[] = []
  for (const fn of fileCleanups.splice(0).reverse()) {
    try {
      await fn()
    } catch (e) {
      errors.push(e)
    }
  }
  if (errors.length > 0) throw errors[0]
})

/** Runs `fn` when the current test ends, or at the end of the file when called outside a test. */
export function defer(fn: () => Promise<void> | void): void {
  try {
    onTestFinished(async () => {
      await fn()
    })
  } catch {
    fileCleanups.push(fn)
  }
}

// ---- ids ------------------------------------------------------------------------------------------

let counter = 0
/** A user id (or any id) unique across the whole run: `prefix-<counter><random>`. */
export function uid(prefix = 'u'): string {
  counter += 1
  return `${prefix}-${counter.toString(36)}${randomBytes(4).toString('hex')}`
}

/** The key `signedIn` uses for a user, so tests can sign the same user in on another device. */
export function keyOf(userId: string): string {
  return `key-of-${userId}`
}

// ---- relay ----------------------------------------------------------------------------------------

export interface TestRelay {
  readonly url: string
  readonly port: number
  readonly wsUrl: string
  readonly dataDir: string
  readonly relay: RawRelay
  /** A token signed with the relay's secret; a negative `ttlMs` gives an expired one. */
  mintToken(userId: string, ttlMs?: number): string
  /** Stops the relay (idempotent); the data dir stays until cleanup. */
  stop(): Promise<void>
  /** Stops this relay and starts a new one on the same data dir (and the same port by default). */
  restart(opts?: { samePort?: boolean }): Promise<TestRelay>
}

/** `createRelay` options a test may set (short heartbeats, small limits…); address and data dir are the harness's. */
export type TestRelayOptions = Omit<RelayOptions, 'port' | 'host' | 'dataDir'>

async function launch(dataDir: string, port: number, options: TestRelayOptions = {}): Promise<TestRelay> {
  const relay = await createRelay({ ...options, port, host: '127.0.0.1', dataDir })
  let stopped: Promise<void> | undefined
  const handle: TestRelay = {
    url: relay.url,
    port: relay.port,
    wsUrl: `${relay.url.replace(/^http/, 'ws')}/v1/socket`,
    dataDir,
    relay,
    mintToken: (userId, ttlMs) => (ttlMs === undefined ? relay.mintToken(userId) : relay.mintToken(userId, ttlMs)),
    stop: () => (stopped ??= Promise.resolve(relay.close())),
    restart: async ({ samePort = true } = {}) => {
      await handle.stop()
      const next = await launch(dataDir, samePort ? relay.port : 0, options)
      defer(() => next.stop())
      return next
    },
  }
  return handle
}

/**
 * Starts a real relay on 127.0.0.1, port 0, in a fresh temp data dir; stopped and the dir removed
 * when the test (or, from a `beforeAll`, the file) finishes.
 */
export async function startRelay(opts: { dataDir?: string; port?: number; options?: TestRelayOptions } = {}): Promise<TestRelay> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'parlor-test-')))
  if (opts.dataDir === undefined) defer(() => rm(dataDir, { recursive: true, force: true }))
  const relay = await launch(dataDir, opts.port ?? 0, opts.options)
  defer(() => relay.stop())
  return relay
}

/** One relay shared by every test of the file (tests keep to their own users via `uid`). */
export function sharedRelay(): () => TestRelay {
  let relay: TestRelay | undefined
  beforeAll(async () => {
    relay = await startRelay()
  })
  return () => {
    if (relay === undefined) throw new Error('sharedRelay() is only available inside tests')
    return relay
  }
}

// ---- engines --------------------------------------------------------------------------------------

export interface MakeEngineOptions {
  /** Reuse a device's IndexedDB (simulates reopening the app); default: a fresh one. */
  indexedDB?: IDBFactory
  dbName?: string
}

const factories = new WeakMap<Engine, IDBFactory>()

/** An engine on its own simulated device (fresh fake-indexeddb), closed when the test ends. */
export function makeEngine(relay: TestRelay | string, name = uid('device'), opts: MakeEngineOptions = {}): Engine {
  const indexedDB = opts.indexedDB ?? new IDBFactory()
  const engine = createEngine({
    relayUrl: typeof relay === 'string' ? relay : relay.url,
    dbName: opts.dbName ?? `parlor-${name}`,
    indexedDB,
    IDBKeyRange,
    WebSocket,
  } as Parameters<typeof createEngine>[0])
  factories.set(engine, indexedDB)
  let closed = false
  defer(async () => {
    if (closed) return
    closed = true
    await engine.close()
  })
  return engine
}

/** The IndexedDB factory an engine was made with (to reopen the same device). */
export function deviceOf(engine: Engine): IDBFactory {
  const f = factories.get(engine)
  if (f === undefined) throw new Error('engine was not made by makeEngine')
  return f
}

/** A fresh engine signed in as `userId` (registered on first use with `keyOf(userId)`). */
export async function signedIn(
  relay: TestRelay,
  userId: string = uid(),
  opts: MakeEngineOptions & { username?: string; avatarUrl?: string } = {},
): Promise<SignedEngine> {
  const engine = makeEngine(relay, userId, opts)
  await engine.setUser(userId, keyOf(userId), opts.username ?? `User ${userId}`, opts.avatarUrl)
  return Object.assign(engine, { userId })
}

export type SignedEngine = Engine & { userId: string }

/** Signs in several fresh users at once (ids made from the prefixes with `uid`). */
export function signedInMany<const P extends readonly string[]>(
  relay: TestRelay,
  prefixes: P,
): Promise<{ -readonly [K in keyof P]: SignedEngine }> {
  return Promise.all(prefixes.map((p) => signedIn(relay, uid(p)))) as Promise<any>
}

/** Every engine's outbox flushed and cache caught up with the relay. */
export async function syncAll(...engines: Engine[]): Promise<void> {
  await Promise.all(engines.map((e) => e.sync()))
}

// ---- events ---------------------------------------------------------------------------------------

export const EVENT_TIMEOUT_MS = 5_000

type EventName = Parameters<Engine['on']>[0]

/**
 * A promise for the next `name` event of `engine` matching `predicate`. Subscribe BEFORE causing
 * the event. Rejects after `timeoutMs` with a message naming the event.
 */
export function nextEvent<T = any>(
  engine: Engine,
  name: EventName,
  predicate: (payload: T) => boolean = () => true,
  timeoutMs = EVENT_TIMEOUT_MS,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const seen: unknown[] = []
    const timer = setTimeout(() => {
      off()
      reject(
        new Error(
          `timed out after ${timeoutMs} ms waiting for engine event "${String(name)}"` +
            (seen.length > 0 ? `; saw non-matching: ${safeJson(seen.slice(-5))}` : '; none fired'),
        ),
      )
    }, timeoutMs)
    const off = (engine.on as (n: EventName, fn: (p: T) => void) => () => void)(name, (payload: T) => {
      let ok = false
      try {
        ok = predicate(payload)
      } catch {
        ok = false
      }
      if (!ok) {
        seen.push(payload)
        return
      }
      clearTimeout(timer)
      off()
      resolve(payload)
    })
  })
}

/** Whether an event payload concerns `roomId` (a room, a `{ roomId }` record, or the id itself). */
export function isAboutRoom(payload: unknown, roomId: string): boolean {
  if (payload === roomId) return true
  if (payload === null || typeof payload !== 'object') return false
  const p = payload as Record<string, unknown>
  if (p.id === roomId || p.roomId === roomId) return true
  const room = p.room as Record<string, unknown> | undefined
  return room !== undefined && room !== null && room.id === roomId
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v).slice(0, 500)
  } catch {
    return String(v)
  }
}

/** The error a promise rejects with (throws if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<any> {
  let value: unknown
  try {
    value = await p
  } catch (e) {
    return e
  }
  throw new Error(`expected a rejection, got ${safeJson(value)}`)
}

/** Waits until the wall clock has moved on by `ms`, so relay timestamps of later writes differ. */
export async function clockTick(ms = 2): Promise<void> {
  const until = Date.now() + ms
  while (Date.now() < until) await new Promise((r) => setImmediate(r))
}

// ---- raw HTTP -------------------------------------------------------------------------------------

export interface HttpAnswer {
  status: number
  body: any
  text: string
}

/**
 * A raw HTTP call: POST with a JSON body (or a raw string body), GET when `body` is undefined.
 * `token` is sent as `Authorization: Bearer <token>`.
 */
export async function api(
  relay: TestRelay,
  path: string,
  body?: unknown,
  token?: string,
  init: { method?: string; headers?: Record<string, string>; raw?: boolean } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...init.headers }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  let payload: string | undefined
  if (body !== undefined) {
    payload = init.raw === true || typeof body === 'string' ? String(body) : JSON.stringify(body)
    headers['content-type'] ??= 'application/json'
  }
  const res = await fetch(`${relay.url}${path}`, {
    method: init.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    ...(payload === undefined ? {} : { body: payload }),
  })
  const text = await res.text()
  let parsed: unknown
  try {
    parsed = text.length > 0 ? JSON.parse(text) : undefined
  } catch {
    parsed = undefined
  }
  return { status: res.status, body: parsed, text }
}

/** Registers (or logs in) a user over HTTP and returns its session token. */
export async function session(relay: TestRelay, userId: string, userKey = keyOf(userId), username?: string): Promise<string> {
  const res = await api(relay, '/v1/session', { userId, userKey, ...(username === undefined ? {} : { username }) })
  if (res.status !== 200) throw new Error(`POST /v1/session for ${userId} answered ${res.status}: ${res.text}`)
  return res.body.token as string
}

let mutationCounter = 0
/** A mutation envelope with a fresh client id. */
export function mutation<N extends Mutation['name']>(
  name: N,
  args: Extract<Mutation, { name: N }>['args'],
  id = `m-${++mutationCounter}-${randomBytes(4).toString('hex')}`,
): Extract<Mutation, { name: N }> {
  return { id, name, args, createdAt: Date.now() } as Extract<Mutation, { name: N }>
}

/** POST /v1/mutations; fails the test unless the relay answers 200. */
export async function mutate(relay: TestRelay, token: string, ...mutations: Mutation[]): Promise<any[]> {
  const res = await api(relay, '/v1/mutations', { mutations }, token)
  if (res.status !== 200) throw new Error(`POST /v1/mutations answered ${res.status}: ${res.text}`)
  return res.body.results as any[]
}

/** POST /v1/query; answers the raw HTTP answer. */
export function query(relay: TestRelay, token: string, q: unknown): Promise<HttpAnswer> {
  return api(relay, '/v1/query', q, token)
}

/**
 * Everything the relay holds that `token`'s user can see (a full catch-up), normalised for
 * before/after comparisons.
 */
export async function relayView(relay: TestRelay, token: string): Promise<unknown> {
  const res = await api(relay, '/v1/sync?cursor=0', undefined, token)
  if (res.status !== 200) throw new Error(`GET /v1/sync answered ${res.status}: ${res.text}`)
  const { cursor: _cursor, ...rest } = res.body as Record<string, unknown>
  return rest
}

// ---- raw socket -----------------------------------------------------------------------------------

export interface RawSocket {
  ws: WebSocket
  /** Every frame received so far, parsed. */
  frames: any[]
  send(frame: unknown): void
  /** The next frame (from now or already buffered and not yet taken) matching `predicate`. */
  next(predicate?: (frame: any) => boolean, timeoutMs?: number): Promise<any>
  /** Resolves with the close code and reason once the socket is closed. */
  closed: Promise<{ code: number; reason: string }>
  close(): void
}

/**
 * A raw socket client. With `token`, sends `hello` at once (cursor 0) and waits for the relay's
 * first `sync`; without it, sends nothing.
 */
export async function rawSocket(relay: TestRelay, token?: string, opts: { cursor?: number } = {}): Promise<RawSocket> {
  const ws = new WebSocket(relay.wsUrl)
  const frames: any[] = []
  const taken = new Set<number>()
  const untaken = (): unknown[] => frames.filter((_, i) => !taken.has(i))
  const waiters = new Set<() => void>()
  let closeInfo: { code: number; reason: string } | undefined
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      closeInfo = { code, reason: reason.toString() }
      resolve(closeInfo)
      for (const w of waiters) w()
    })
  })
  ws.on('message', (data) => {
    let frame: unknown
    try {
      frame = JSON.parse(data.toString())
    } catch {
      frame = { unparsable: data.toString() }
    }
    frames.push(frame)
    for (const w of waiters) w()
  })
  ws.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  defer(() => {
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate()
  })
  const sock: RawSocket = {
    ws,
    frames,
    closed,
    send: (frame) => ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame)),
    close: () => ws.close(),
    next: (predicate = () => true, timeoutMs = EVENT_TIMEOUT_MS) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          for (let i = 0; i < frames.length; i++) {
            if (taken.has(i) || !predicate(frames[i])) continue
            taken.add(i)
            resolve(frames[i])
            return true
          }
          if (closeInfo !== undefined) {
            reject(new Error(`socket closed (${closeInfo.code} ${closeInfo.reason}) before a matching frame; got ${safeJson(untaken())}`))
            return true
          }
          return false
        }
        if (check()) return
        const timer = setTimeout(() => {
          waiters.delete(w)
          reject(new Error(`timed out after ${timeoutMs} ms waiting for a socket frame; got ${safeJson(untaken())}`))
        }, timeoutMs)
        const w = (): void => {
          if (check()) {
            clearTimeout(timer)
            waiters.delete(w)
          }
        }
        waiters.add(w)
      }),
  }
  if (token !== undefined) {
    sock.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token, cursor: opts.cursor ?? 0 })
    await sock.next((f) => f.type === 'sync')
  }
  return sock
}

// ---- sockets that see what the engine receives ----------------------------------------------------

/**
 * A `ws` class for an engine whose incoming messages pass through `filter` first: it may record
 * them, or drop one (return false) — e.g. to lose an acknowledgement, as a flaky network would.
 */
export function interceptingSocket(filter: (data: string, socket: WebSocket) => boolean): typeof WebSocket {
  return class InterceptingSocket extends WebSocket {
    constructor(url: string) {
      super(url)
      const own = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage')!
      Object.defineProperty(this, 'onmessage', {
        get: () => own.get!.call(this),
        set: (fn: ((ev: WebSocket.MessageEvent) => void) | null) =>
          own.set!.call(this, fn && ((ev: WebSocket.MessageEvent) => void (filter(String(ev.data), this) && fn(ev)))),
      })
    }
  } as unknown as typeof WebSocket
}

/** A subclass of a `ws` class that counts the sockets engines open with it. */
export function countingSockets(Base: typeof WebSocket = WebSocket): { Socket: typeof WebSocket; opened(): number } {
  let opened = 0
  class CountingSocket extends Base {
    constructor(url: string) {
      super(url)
      opened++
    }
  }
  return { Socket: CountingSocket as unknown as typeof WebSocket, opened: () => opened }
}

/**
 * A user with one group room holding one comment, and the relay's view of it taken afterwards, so a
 * bad-input test can check that a refusal changed nothing.
 */
export async function seededRoom(relay: TestRelay): Promise<{ userId: string; token: string; roomId: string; before: unknown }> {
  const userId = uid('alice')
  const token = await session(relay, userId)
  const roomId = groupRoomId(uid('room'))
  const [r] = await mutate(relay, token, mutation('createGroupRoom', { roomId, name: 'Stable', userIds: [] }))
  if (!r.ok) throw new Error(`seeding a room failed: ${JSON.stringify(r)}`)
  await mutate(relay, token, mutation('sendComment', { roomId, uniqueId: uid('c'), text: 'baseline', type: 'text' }))
  return { userId, token, roomId, before: await relayView(relay, token) }
}
