/**
 * Test helpers (not exported): a real relay on 127.0.0.1 port 0 in a temp data dir, closed in
 * `onTestFinished` (or at the end of the file when started in `beforeAll`), plus small HTTP and
 * `ws` clients. No fixed sleeps: waiting is on frames and close events, with bounded timeouts.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, onTestFinished } from 'vitest'
import WebSocket from 'ws'
import {
  PROTOCOL_VERSION,
  type DownFrame,
  type MutationArgs,
  type MutationName,
  type MutationResult,
  type SessionResponse,
  type SyncFrame,
} from '@parlor/protocol'
import { createRelay, type Relay, type RelayOptions } from '../create-relay.js'

const fileCleanups: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const fn of fileCleanups.splice(0).reverse()) await fn()
})

/** Runs `fn` when the current test ends, or after the file when called outside a test. */
export function defer(fn: () => Promise<void>): void {
  try {
    onTestFinished(fn)
  } catch {
    fileCleanups.push(fn)
  }
}

let counter = 0
/** A unique id, safe as a user id or client id. */
export const uid = (prefix = 'u') => `${prefix}${++counter}-${randomBytes(3).toString('hex')}`

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'parlor-relay-test-'))
  defer(() => rm(dir, { recursive: true, force: true }))
  return dir
}

export interface HttpAnswer {
  status: number
  headers: Headers
  body: any
}

export class TestRelay {
  constructor(
    readonly relay: Relay,
    readonly dataDir: string,
  ) {}

  get url(): string {
    return this.relay.url
  }

  async http(method: string, path: string, body?: unknown, token?: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const init: RequestInit = { method, headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } }
    if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body)
    const res = await fetch(this.url + path, init)
    const text = await res.text()
    let parsed: unknown = text
    try {
      parsed = JSON.parse(text)
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body: parsed }
  }

  /** Registers (or signs in) `userId` with key `key-<userId>`. */
  async signIn(userId: string, extra: { username?: string; avatarUrl?: string; userKey?: string } = {}): Promise<SessionResponse> {
    const res = await this.http('POST', '/v1/session', { userId, ...extra, userKey: extra.userKey ?? `key-${userId}` })
    if (res.status !== 200) throw new Error(`signIn ${userId}: ${res.status} ${JSON.stringify(res.body)}`)
    return res.body as SessionResponse
  }

  /** Signs in fresh users; returns their ids and tokens. */
  async users(n: number): Promise<Array<{ id: string; token: string }>> {
    return Promise.all(Array.from({ length: n }, async () => {
      const id = uid()
      return { id, token: (await this.signIn(id)).token }
    }))
  }

  /** Applies one mutation over HTTP and returns its result. */
  async mutate<N extends MutationName>(token: string, name: N, args: MutationArgs<N>, id = uid('m')): Promise<MutationResult> {
    const res = await this.http('POST', '/v1/mutations', { mutations: [{ id, name, args, createdAt: Date.now() }] }, token)
    if (res.status !== 200) throw new Error(`mutate ${name}: ${res.status} ${JSON.stringify(res.body)}`)
    return res.body.results[0] as MutationResult
  }

  /** Sends one schema-invalid mutation; returns the code that refused the whole body. */
  async refusedBody(token: string, name: string, args: unknown): Promise<string> {
    const res = await this.http('POST', '/v1/mutations', { mutations: [{ id: uid('m'), name, args, createdAt: Date.now() }] }, token)
    if (res.status === 200) throw new Error(`expected the body to be refused, got ${JSON.stringify(res.body).slice(0, 300)}`)
    return res.body.error.code
  }

  /** Like `mutate` but expects success and returns the value. */
  async ok<N extends MutationName>(token: string, name: N, args: MutationArgs<N>) {
    const r = await this.mutate(token, name, args)
    if (!r.ok) throw new Error(`${name} failed: ${r.error.code} ${r.error.message}`)
    return r.value
  }

  async query(token: string, name: string, args: unknown): Promise<HttpAnswer> {
    return this.http('POST', '/v1/query', { name, args }, token)
  }

  /** Opens a socket, says hello and waits for the catch-up `sync`. */
  async connect(token: string, cursor = 0): Promise<{ socket: TestSocket; sync: SyncFrame }> {
    const socket = await TestSocket.open(this.url)
    socket.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token, cursor })
    const sync = (await socket.next((f) => f.type === 'sync')) as SyncFrame
    return { socket, sync }
  }
}

/** Starts a relay for the current test (or file), closed automatically. */
export async function startRelay(options: RelayOptions = {}): Promise<TestRelay> {
  const dataDir = options.dataDir ?? (await tempDir())
  const relay = await createRelay({ port: 0, host: '127.0.0.1', ...options, dataDir })
  defer(() => relay.close())
  return new TestRelay(relay, dataDir)
}

/** A `ws` client that records every frame and lets tests await the next matching one. */
export class TestSocket {
  readonly frames: DownFrame[] = []
  private cursor = 0
  private waiters: Array<() => void> = []
  readonly closed: Promise<{ code: number; reason: string }>

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as DownFrame)
      this.wake()
    })
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => {
      this.wake()
      resolve({ code, reason: reason.toString() })
    }))
    ws.on('error', () => {})
  }

  static async open(url: string, path = '/v1/socket'): Promise<TestSocket> {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + path)
    const socket = new TestSocket(ws)
    defer(async () => {
      if (ws.readyState !== ws.CLOSED) {
        ws.terminate()
        await socket.closed
      }
    })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    return socket
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w()
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** Resolves once `ready()` holds, re-checking on every frame (bounded by `timeoutMs`). */
  private async until(ready: () => boolean, what: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!ready()) {
      if (this.ws.readyState === this.ws.CLOSED) throw new Error(`socket closed while waiting for ${what}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms; last frames ${JSON.stringify(this.frames.slice(-5)).slice(0, 800)}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  /** The next not-yet-consumed frame matching `pred` (frames before it are consumed too). */
  async next(pred: (f: DownFrame) => boolean = () => true, timeoutMs = 3000): Promise<DownFrame> {
    let found: DownFrame | undefined
    await this.until(() => {
      while (found === undefined && this.cursor < this.frames.length) {
        const f = this.frames[this.cursor++]!
        if (pred(f)) found = f
      }
      return found !== undefined
    }, 'matching frame', timeoutMs)
    return found!
  }

  /** Sends a `mutate` frame of one mutation and returns the ack's result. */
  async mutate<N extends MutationName>(name: N, args: MutationArgs<N>, id = uid('m')): Promise<MutationResult> {
    this.send({ type: 'mutate', mutations: [{ id, name, args, createdAt: Date.now() }] })
    const ack = await this.next((f) => f.type === 'ack' && f.results.some((r) => r.mutationId === id))
    return (ack as Extract<DownFrame, { type: 'ack' }>).results.find((r) => r.mutationId === id)!
  }

  /** A round trip proving every frame the relay sent before the pong has arrived; consumes nothing. */
  async ping(): Promise<void> {
    const pongs = () => this.frames.filter((f) => f.type === 'pong').length
    const before = pongs()
    this.send({ type: 'ping' })
    await this.until(() => pongs() > before, 'pong', 3000)
  }

  /** Frames received since the last `next`/`drain`, then marks them consumed. */
  drain(): DownFrame[] {
    const rest = this.frames.slice(this.cursor)
    this.cursor = this.frames.length
    return rest
  }
}
