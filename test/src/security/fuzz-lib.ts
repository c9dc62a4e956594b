/**
 * Fuzzing a running relay with fast-check: random and mutated socket frames, HTTP bodies, methods,
 * paths and query strings. Each case must be answered with a known error code (or a legitimate
 * success), never crash the relay nor answer `internal`, and leave the relay's state as it was.
 * Shared by the CI-sized test (`fuzz.test.ts`) and the long run (`test/bench/fuzz-long.ts`), so it
 * imports no vitest: a broken property throws an Error naming the case.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import WebSocket from 'ws'
import * as Y from 'yjs'
import {
  CLOSE_CODES,
  checkOptions,
  ERROR_CODES,
  LIMITS,
  PROTOCOL_VERSION,
  MUTATION_ARGS,
  channelRoomId,
  groupRoomId,
  singleRoomId,
} from '@parlor/protocol'
import { createRelay, type Relay } from '@parlor/relay'

// ---- the target -------------------------------------------------------------------------------------

export interface FuzzTarget {
  relay: Relay
  url: string
  wsUrl: string
  /** Signed in, in no room: the fuzzer. */
  fuzzer: { id: string; token: string }
  owner: { id: string; token: string }
  member: { id: string; token: string }
  /** A group of owner and member, and a channel of owner and member, both with comments. */
  groupId: string
  channelId: string
  /**
   * The fuzzer's own group, whose options document it may change: Yjs updates (valid or not) go
   * there. Left out of the unchanged-state check; its options must stay valid instead.
   */
  ownRoomId: string
  close(): Promise<void>
}

let seq = 0
const id = (p: string) => `${p}-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`

async function post(url: string, path: string, body: unknown, token?: string): Promise<any> {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  })
  const json = await res.json()
  if (!res.ok) throw new Error(`${path} answered ${res.status}: ${JSON.stringify(json)}`)
  return json
}

/** Starts a relay in `dataDir` with a frame rate no fuzzer reaches, and the fixture users and rooms. */
export async function startFuzzTarget(dataDir: string): Promise<FuzzTarget> {
  const relay = await createRelay({ port: 0, host: '127.0.0.1', dataDir, maxFramesPerSecond: 1_000_000, maxFrameBurst: 1_000_000 })
  const url = relay.url
  const signIn = async (p: string) => {
    const userId = id(p)
    return { id: userId, token: (await post(url, '/v1/session', { userId, userKey: `key-${userId}` })).token as string }
  }
  const [fuzzer, owner, member] = await Promise.all([signIn('fuzzer'), signIn('owner'), signIn('member')])
  const groupId = groupRoomId(id('g'))
  const unique = id('chan')
  const channelId = channelRoomId(unique)
  const m = (name: string, args: unknown) => ({ id: id('m'), name, args, createdAt: Date.now() })
  const made = await post(url, '/v1/mutations', {
    mutations: [
      m('createGroupRoom', { roomId: groupId, name: 'G', userIds: [member.id], options: { color: 'red' } }),
      m('sendComment', { roomId: groupId, uniqueId: id('c'), text: 'hello', type: 'text' }),
      m('getOrCreateChannel', { roomId: channelId, uniqueId: unique }),
      m('sendComment', { roomId: channelId, uniqueId: id('c'), text: 'in the channel', type: 'text' }),
    ],
  }, owner.token)
  await post(url, '/v1/mutations', { mutations: [m('getOrCreateChannel', { roomId: channelId, uniqueId: unique })] }, member.token)
  const ownRoomId = groupRoomId(id('own'))
  await post(url, '/v1/mutations', { mutations: [m('createGroupRoom', { roomId: ownRoomId, name: 'F', userIds: [], options: { a: '1' } })] }, fuzzer.token)
  if (!made.results.every((r: { ok: boolean }) => r.ok)) throw new Error(`fixture failed: ${JSON.stringify(made)}`)
  return {
    relay,
    url,
    wsUrl: url.replace(/^http/, 'ws') + '/v1/socket',
    fuzzer,
    owner,
    member,
    groupId,
    channelId,
    ownRoomId,
    close: () => relay.close(),
  }
}

/** Everything the relay holds that the fixture users can see (cursors dropped), as one string. */
export async function snapshot(t: FuzzTarget): Promise<string> {
  const view = async (token: string) => {
    const res = await fetch(`${t.url}/v1/sync?cursor=0`, { headers: { authorization: `Bearer ${token}` } })
    const { cursor: _c, rooms, participants, comments, ...rest } = (await res.json()) as Record<string, Array<{ id?: string; roomId?: string }>>
    const notOwn = (x: { id?: string; roomId?: string }) => (x.roomId ?? x.id) !== t.ownRoomId
    return { ...rest, rooms: rooms!.filter(notOwn), participants: participants!.filter(notOwn), comments: comments!.filter(notOwn) }
  }
  const channel = await post(t.url, '/v1/query', { name: 'getParticipants', args: { roomUniqueId: t.channelId.slice(2), page: 1, limit: 100 } }, t.owner.token)
  return JSON.stringify({ owner: await view(t.owner.token), member: await view(t.member.token), fuzzer: await view(t.fuzzer.token), channel })
}

// ---- templates and mutators -------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

/** The fuzzer's own room's options, which every accepted update must leave within SPEC §3's limits. */
export async function ownOptionsValid(t: FuzzTarget): Promise<void> {
  const res = await post(t.url, '/v1/query', { name: 'getRoomById', args: { roomId: t.ownRoomId } }, t.fuzzer.token)
  checkOptions(res.room.options)
}

/** Valid frames the fuzzer may send that must not change anything (it is in none of the rooms). */
function frameTemplates(t: FuzzTarget): Json[] {
  const env = (name: string, args: Json): Json => ({ id: 'm-template', name, args, createdAt: 1 })
  const mutate = (name: string, args: Json): Json => ({ type: 'mutate', mutations: [env(name, args)] })
  const G = t.groupId
  const C = t.channelId
  return [
    { type: 'hello', protocolVersion: PROTOCOL_VERSION, token: t.fuzzer.token, cursor: 0 },
    { type: 'ping' },
    { type: 'auth', token: 'not.a.token' },
    { type: 'query', id: 1, query: { name: 'getRoomById', args: { roomId: G } } },
    { type: 'query', id: 2, query: { name: 'loadComments', args: { roomId: G, limit: 5, before: 10 } } },
    { type: 'query', id: 3, query: { name: 'getParticipants', args: { roomUniqueId: G, page: 1, limit: 10 } } },
    mutate('sendComment', { roomId: G, uniqueId: 'u1', text: 'x', type: 'text', extras: { a: 1 } }),
    mutate('sendComment', { roomId: C, uniqueId: 'u2', text: 'x', type: 'custom', payload: { k: 'v' } }),
    mutate('markAsRead', { roomId: G, commentId: 1 }),
    mutate('updateRoom', { roomId: G, name: 'n', avatarUrl: 'u', options: { color: 'blue', gone: null } }),
    mutate('updateRoom', { roomId: C, name: 'n' }),
    mutate('addParticipants', { roomId: G, userIds: [t.fuzzer.id] }),
    mutate('removeParticipants', { roomId: C, userIds: [t.member.id] }),
    mutate('chatTarget', { roomId: singleRoomId(t.fuzzer.id, t.fuzzer.id), userId: t.fuzzer.id }),
    mutate('createGroupRoom', { roomId: G, name: 'taken', userIds: [] }),
    mutate('updateOptions', { roomId: t.ownRoomId, update: Buffer.from(sampleUpdate()).toString('base64') }),
    mutate('updateOptions', { roomId: G, update: Buffer.from(sampleUpdate()).toString('base64') }),
  ]
}

/** A valid options-document update from a fresh client (entries `{ key, val }` in Y.Array `options`). */
function sampleUpdate(entries: Array<[string, string]> = [['color', 'red']]): Uint8Array {
  const doc = new Y.Doc()
  doc.getArray('options').push(entries.map(([key, val]) => ({ key, val })))
  return Y.encodeStateAsUpdate(doc)
}

const varUint = (n: number): number[] => {
  const out: number[] = []
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return out
}
/** A y-websocket message: type, (sync) subtype, then a length-prefixed payload. */
const yMessage = (head: number[], payload: Uint8Array) => Uint8Array.from([...head, ...varUint(payload.length), ...payload])

/** Random and mutated y-websocket messages: updates (valid, corrupted, odd entries), state vectors, awareness. */
function yjsMessages(): fc.Arbitrary<Uint8Array> {
  const entry = fc.tuple(
    fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', '', 'k'.repeat(LIMITS.maxOptionKeyBytes + 1))),
    fc.oneof(fc.string({ maxLength: 16 }), fc.constant('v'.repeat(LIMITS.maxOptionValueBytes + 1))),
  )
  const odd = fc.constantFrom<() => Uint8Array>(
    () => { const d = new Y.Doc(); d.getMap('options').set('k', 'v'); return Y.encodeStateAsUpdate(d) },
    () => { const d = new Y.Doc(); d.getArray('options').push([42, { key: 1 }, 'x']); return Y.encodeStateAsUpdate(d) },
    () => { const d = new Y.Doc(); d.getText('other').insert(0, 'hi'); return Y.encodeStateAsUpdate(d) },
    () => { const d = new Y.Doc(); d.getArray('options').push(Array.from({ length: LIMITS.maxOptionKeys + 1 }, (_, i) => ({ key: `k${i}`, val: 'v' }))); return Y.encodeStateAsUpdate(d) },
  ).map((make) => make())
  const update = fc.oneof(fc.array(entry, { minLength: 1, maxLength: 4 }).map((es) => sampleUpdate(es)), odd)
  const corrupt = fc.tuple(update, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'cut', 'insert')), { minLength: 1, maxLength: 4 }))
    .map(([u, edits]) => {
      let bytes = [...u]
      for (const [at, value, how] of edits) {
        const i = bytes.length === 0 ? 0 : at % bytes.length
        if (how === 'flip') bytes[i] = value
        else if (how === 'cut') bytes = bytes.slice(0, i)
        else bytes.splice(i, 0, value)
      }
      return Uint8Array.from(bytes)
    })
  return fc.oneof(
    { arbitrary: update.map((u) => yMessage([0, 2], u)), weight: 3 },
    { arbitrary: corrupt.map((u) => yMessage([0, 2], u)), weight: 4 },
    { arbitrary: fc.uint8Array({ maxLength: 32 }).map((sv) => yMessage([0, 0], sv)), weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 64 }).map((p) => yMessage([1], p)), weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 48 }), weight: 2 },
  )
}

/** One small, typed change to a JSON value at a random path. */
const mutation = fc.oneof(
  { arbitrary: fc.constant({ kind: 'delete' as const }), weight: 3 },
  { arbitrary: fc.jsonValue({ maxDepth: 2 }).map((value) => ({ kind: 'set' as const, value })), weight: 4 },
  { arbitrary: fc.constantFrom<Json>(-1, 0, 1.5, 2 ** 53 + 2, 1e308, -1e308, '', ' ', '\u0000', 'é💥', 'g:', 's:a:a', 'c:', '__proto__', [], {}, null, true).map((value) => ({ kind: 'set' as const, value })), weight: 4 },
  { arbitrary: fc.tuple(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 1 })).map(([key, value]) => ({ kind: 'add' as const, key, value })), weight: 2 },
  { arbitrary: fc.constant({ kind: 'proto' as const }), weight: 1 },
  { arbitrary: fc.integer({ min: 1, max: 40 }).map((depth) => ({ kind: 'nest' as const, depth })), weight: 1 },
  { arbitrary: fc.constantFrom(LIMITS.maxCommentTextBytes + 1, LIMITS.maxFrameBytes - 100, LIMITS.maxFrameBytes + 10).map((size) => ({ kind: 'big' as const, size })), weight: 1 },
)
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never

function paths(v: Json, at: (string | number)[] = []): (string | number)[][] {
  const out = [at]
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])))
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]))
  return out
}

function applyMutation(base: Json, m: Mutation, pick: number): string {
  const copy = JSON.parse(JSON.stringify(base)) as Json
  const all = paths(copy)
  const path = all[pick % all.length]!
  const parentPath = path.slice(0, -1)
  let parent: any = copy
  for (const k of parentPath) parent = parent[k]
  const key = path.at(-1)
  const replace = (value: unknown) => {
    if (key === undefined) return value
    parent[key] = value
    return copy
  }
  let out: unknown = copy
  switch (m.kind) {
    case 'delete':
      if (key === undefined) out = null
      else if (Array.isArray(parent)) parent.splice(Number(key), 1)
      else delete parent[key]
      break
    case 'set':
      out = replace(m.value)
      break
    case 'add': {
      const target = key === undefined ? copy : parent[key]
      if (target && typeof target === 'object' && !Array.isArray(target)) (target as Record<string, unknown>)[m.key] = m.value
      else out = replace({ [m.key]: m.value })
      break
    }
    case 'proto': {
      // JSON.parse makes "__proto__" an own key; written by hand so JSON.stringify keeps it.
      const text = JSON.stringify(copy)
      return text.startsWith('{') && text.length > 2 ? `{"__proto__":{"polluted":true},${text.slice(1)}` : text
    }
    case 'nest': {
      let v: unknown = key === undefined ? copy : parent[key]
      for (let i = 0; i < m.depth; i++) v = i % 2 ? [v] : { x: v }
      out = replace(v)
      break
    }
    case 'big':
      out = replace('x'.repeat(m.size))
      break
  }
  return JSON.stringify(out)
}

export type FuzzCase =
  | { kind: 'frame'; text: string; isBinary: boolean }
  | { kind: 'yjs'; bytes: Uint8Array }
  | { kind: 'http'; method: string; path: string; body: string | undefined; auth: 'valid' | 'none' | 'garbage' | 'expired'; contentType: string }

/** The arbitrary of fuzz cases for target `t`. */
export function fuzzCases(t: FuzzTarget): fc.Arbitrary<FuzzCase> {
  const templates = frameTemplates(t).filter((tpl) => {
    // Only mutations this protocol version has (updateOptions came with the options documents).
    const name = (tpl as { mutations?: Array<{ name: string }> }).mutations?.[0]?.name
    return name === undefined || name in MUTATION_ARGS
  })
  const mutated = fc
    .tuple(fc.constantFrom(...templates), fc.array(fc.tuple(mutation, fc.nat()), { minLength: 1, maxLength: 3 }))
    .map(([tpl, ms]) => ms.reduce<string>((text, [m, pick]) => {
      try {
        return applyMutation(JSON.parse(text) as Json, m, pick)
      } catch {
        return text
      }
    }, JSON.stringify(tpl)))
  const frameText = fc.oneof(
    { arbitrary: mutated, weight: 6 },
    { arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'), weight: 2 },
    { arbitrary: fc.string({ maxLength: 64 }), weight: 1 },
    { arbitrary: fc.constantFrom(...templates).map((tpl) => JSON.stringify(tpl)).chain((s) => fc.nat({ max: s.length }).map((n) => s.slice(0, n))), weight: 1 },
  )
  const frame = fc.oneof(
    { arbitrary: frameText.map((text) => ({ kind: 'frame' as const, text, isBinary: false })), weight: 9 },
    { arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => ({ kind: 'frame' as const, text: Buffer.from(b).toString('latin1'), isBinary: true })), weight: 1 },
  )

  const httpTemplates: Record<string, Json> = {
    '/v1/session': { userId: t.fuzzer.id, userKey: 'wrong-key', username: 'x' },
    '/v1/mutations': { mutations: [(templates[6] as { mutations: Json[] }).mutations[0]!] },
    '/v1/query': (templates[3] as { query: Json }).query,
  }
  const routes = ['/healthz', '/readyz', '/metrics', '/v1/session', '/v1/logout', '/v1/mutations', '/v1/query', '/v1/sync', '/v1/socket']
  const path = fc.oneof(
    { arbitrary: fc.constantFrom(...routes), weight: 8 },
    { arbitrary: fc.constantFrom('/', '/v1', '/v1/', '/v1/nope', '/../etc/passwd', '/%2e%2e/%2e%2e', '/v1/sync/../session', '/healthz?x', '//v1//query', '/%zz', '/yjs/g:x'), weight: 1 },
    { arbitrary: fc.webPath(), weight: 1 },
  )
  const query = fc.oneof(
    fc.constant(''),
    fc.constantFrom('?cursor=0', '?cursor=-1', '?cursor=1.5', '?cursor=99999999999999999999', '?cursor=', '?cursor=abc', '?cursor=0&cursor=1', '?cursor=%00'),
    fc.webQueryParameters().map((q) => `?${q}`),
  )
  const http = fc
    .record({
      method: fc.constantFrom('GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
      path,
      query,
      bodyKind: fc.constantFrom('template', 'template', 'json', 'text', 'none'),
      mutations: fc.array(fc.tuple(mutation, fc.nat()), { minLength: 1, maxLength: 3 }),
      json: fc.jsonValue({ maxDepth: 3 }),
      text: fc.string({ maxLength: 64 }),
      auth: fc.constantFrom<'valid' | 'none' | 'garbage' | 'expired'>('valid', 'valid', 'none', 'garbage', 'expired'),
      contentType: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', ''),
    })
    .map((r): FuzzCase => {
      const tpl = httpTemplates[r.path] ?? { any: 'thing' }
      let body: string | undefined
      if (r.method === 'GET' || r.method === 'HEAD' || r.bodyKind === 'none') body = undefined
      else if (r.bodyKind === 'template') body = r.mutations.reduce((text, [m, pick]) => applyMutation(JSON.parse(text) as Json, m, pick), JSON.stringify(tpl))
      else if (r.bodyKind === 'json') body = JSON.stringify(r.json) ?? 'null'
      else body = r.text
      // Never log the fuzzer itself out: its valid token goes to every route but that one.
      const auth = r.path.startsWith('/v1/logout') && r.auth === 'valid' ? 'garbage' : r.auth
      return { kind: 'http', method: r.method, path: r.path + r.query, body, auth, contentType: r.contentType }
    })
  const yjs = yjsMessages().map((bytes): FuzzCase => ({ kind: 'yjs', bytes }))
  return fc.oneof({ arbitrary: frame, weight: 3 }, { arbitrary: http, weight: 2 }, { arbitrary: yjs, weight: 1 })
}

// ---- running one case -------------------------------------------------------------------------------

const KNOWN_CLOSE = new Set<number>([...Object.values(CLOSE_CODES), 1009])
const isKnownCode = (code: unknown) => typeof code === 'string' && Object.hasOwn(ERROR_CODES, code) && code !== 'internal'

/** A live socket of the fuzzer, reopened when a case closes it. */
export class FuzzSocket {
  private ws: WebSocket | undefined
  private frames: any[] = []
  private waiter: (() => void) | undefined
  private closeCode: number | undefined
  private synced = false

  constructor(private readonly t: FuzzTarget) {}

  async ready(): Promise<void> {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.closeCode === undefined) return
    const ws = new WebSocket(this.t.wsUrl)
    this.ws = ws
    this.frames = []
    this.closeCode = undefined
    this.synced = false
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString())
      // Live changes of the fuzzer's own room (its accepted options updates) answer no frame.
      if (frame.type === 'change' || (frame.type === 'sync' && this.synced)) return
      this.frames.push(frame)
      this.waiter?.()
    })
    ws.on('close', (code) => {
      if (this.ws === ws) this.closeCode = code
      this.waiter?.()
    })
    ws.on('error', () => {})
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    ws.send(JSON.stringify({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token: this.t.fuzzer.token, cursor: 0 }))
    const sync = await this.next()
    if (sync?.type !== 'sync') throw new Error(`fuzzer socket did not sync: ${JSON.stringify(sync)} (close ${this.closeCode})`)
    this.synced = true
  }

  /** The next frame, or undefined once the socket closed. */
  next(timeoutMs = 10_000): Promise<any> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.frames.length > 0) {
          clearTimeout(timer)
          this.waiter = undefined
          resolve(this.frames.shift())
          return true
        }
        if (this.closeCode !== undefined) {
          clearTimeout(timer)
          this.waiter = undefined
          resolve(undefined)
          return true
        }
        return false
      }
      const timer = setTimeout(() => {
        this.waiter = undefined
        reject(new Error(`no answer within ${timeoutMs} ms`))
      }, timeoutMs)
      if (!check()) this.waiter = () => void check()
    })
  }

  async send(text: string, isBinary: boolean): Promise<{ frame?: any; closed?: number }> {
    await this.ready()
    this.ws!.send(isBinary ? Buffer.from(text, 'latin1') : text, { binary: isBinary })
    const frame = await this.next()
    return frame === undefined ? { closed: this.closeCode! } : { frame }
  }

  close(): void {
    this.ws?.terminate()
  }
}

/**
 * The fuzzer's y-websocket socket on its own room, reopened after a case closes it. Each message is
 * followed by a sync step 1 (empty state vector): its step 2 answer proves the message was handled.
 */
export class FuzzYjsSocket {
  private ws: WebSocket | undefined
  private closeCode: number | undefined
  private waiter: ((m: Uint8Array | undefined) => void) | undefined

  constructor(private readonly t: FuzzTarget) {}

  private async ready(): Promise<void> {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.closeCode === undefined) return
    const ws = new WebSocket(`${this.t.url.replace(/^http/, 'ws')}/yjs/${this.t.ownRoomId}?token=${encodeURIComponent(this.t.fuzzer.token)}`)
    this.ws = ws
    this.closeCode = undefined
    ws.on('message', (data: Buffer) => {
      // Sync step 2 (the answer to our barrier), or the relay's own step 1 on opening.
      if (data[0] === 0 && (data[1] === 1 || data[1] === 0)) this.waiter?.(new Uint8Array(data))
    })
    ws.on('close', (code) => {
      if (this.ws === ws) this.closeCode = code
      this.waiter?.(undefined)
    })
    ws.on('error', () => {})
    const first = await this.nextSync()
    if (first === undefined) throw new Error(`the fuzzer's y-websocket socket closed at once (${this.closeCode})`)
  }

  private nextSync(timeoutMs = 10_000): Promise<Uint8Array | undefined> {
    if (this.closeCode !== undefined) return Promise.resolve(undefined)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no y-websocket answer within ${timeoutMs} ms`)), timeoutMs)
      this.waiter = (m) => {
        clearTimeout(timer)
        this.waiter = undefined
        resolve(m)
      }
    })
  }

  /** Sends `bytes`; undefined when handled with the socket open, else the close code. */
  async send(bytes: Uint8Array): Promise<number | undefined> {
    await this.ready()
    this.ws!.send(bytes, { binary: true })
    this.ws!.send(Uint8Array.from([0, 0, 1, 0]), { binary: true })
    for (;;) {
      const m = await this.nextSync()
      if (m === undefined) return this.closeCode
      if (m[1] === 1) return undefined
    }
  }

  close(): void {
    this.ws?.terminate()
  }
}

/** Checks one answer frame: an error with a known code, or a legitimate answer whose errors are known. */
function checkFrameAnswer(frame: any, sent: string): void {
  const fail = (why: string) => {
    throw new Error(`${why}: sent ${sent.slice(0, 300)} → got ${JSON.stringify(frame).slice(0, 300)}`)
  }
  switch (frame.type) {
    case 'error':
      if (!isKnownCode(frame.error?.code) || typeof frame.error.message !== 'string') fail('error frame without a known code')
      return
    case 'ack':
      for (const r of frame.results) if (!r.ok && !isKnownCode(r.error?.code)) fail('mutation result without a known code')
      return
    case 'result':
    case 'authed':
      if (!frame.ok && !isKnownCode(frame.error?.code)) fail('answer without a known code')
      return
    case 'pong':
      return
    default:
      fail('unexpected frame')
  }
}

export async function runCase(t: FuzzTarget, sock: FuzzSocket, c: FuzzCase, ysock?: FuzzYjsSocket): Promise<void> {
  if (c.kind === 'yjs') {
    if (!ysock) return
    const closed = await ysock.send(c.bytes)
    // Refusals close with a named code (4422 for an update the relay refused); 1011 would be a crash.
    if (closed !== undefined && !KNOWN_CLOSE.has(closed)) throw new Error(`y-websocket socket closed with ${closed} after ${Buffer.from(c.bytes).toString('hex').slice(0, 200)}`)
    return
  }
  if (c.kind === 'frame') {
    const { frame, closed } = await sock.send(c.text, c.isBinary)
    if (closed !== undefined) {
      if (!KNOWN_CLOSE.has(closed)) throw new Error(`socket closed with unnamed code ${closed} after ${c.text.slice(0, 200)}`)
      return
    }
    checkFrameAnswer(frame, c.text)
    return
  }
  const headers: Record<string, string> = {}
  if (c.contentType) headers['content-type'] = c.contentType
  if (c.auth === 'valid') headers.authorization = `Bearer ${t.fuzzer.token}`
  if (c.auth === 'garbage') headers.authorization = 'Bearer garbage.token'
  if (c.auth === 'expired') headers.authorization = `Bearer ${t.relay.mintToken(t.fuzzer.id, -1000)}`
  let res: Response
  try {
    res = await fetch(t.url + c.path, { method: c.method, headers, ...(c.body === undefined ? {} : { body: c.body }) })
  } catch (e) {
    // fetch refuses some URLs and methods itself; that is the client, not the relay.
    if (e instanceof TypeError && !String((e as { cause?: unknown }).cause ?? '').includes('ECONN')) return
    throw e
  }
  const text = await res.text()
  const what = `${c.method} ${c.path} ${c.body?.slice(0, 200) ?? ''} → ${res.status} ${text.slice(0, 300)}`
  if (res.status >= 500) throw new Error(`server error: ${what}`)
  if (res.status >= 400 && c.method !== 'HEAD') {
    let code: unknown
    try {
      code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code
    } catch {
      throw new Error(`error answer is not JSON: ${what}`)
    }
    if (!isKnownCode(code)) throw new Error(`error answer without a known code: ${what}`)
    const expected = ERROR_CODES[code as keyof typeof ERROR_CODES].status
    if (res.status !== expected && res.status !== 405) throw new Error(`status ${res.status} does not match code ${String(code)}: ${what}`)
    return
  }
  if (c.path.startsWith('/v1/mutations') && res.status === 200) {
    for (const r of (JSON.parse(text) as { results: any[] }).results) if (!r.ok && !isKnownCode(r.error?.code)) throw new Error(`mutation result without a known code: ${what}`)
  }
}

// ---- memory -----------------------------------------------------------------------------------------

let gcFn: (() => void) | undefined
/** Heap in use after a full garbage collection, in MiB. */
export function heapAfterGc(): number {
  if (!gcFn) {
    setFlagsFromString('--expose-gc')
    gcFn = runInNewContext('gc') as () => void
  }
  gcFn()
  gcFn()
  return process.memoryUsage().heapUsed / 2 ** 20
}

// ---- a whole run ------------------------------------------------------------------------------------

export interface FuzzReport {
  seed: number
  cases: number
  ms: number
  /** Heap after GC at each checkpoint (MiB), the first one after a warm-up. */
  heap: Array<{ cases: number; mib: number }>
}

/**
 * Runs `numRuns` cases with `seed` against `t`, checking the state is unchanged every `checkEvery`
 * cases and at the end. Throws (with the seed and the case) when a property breaks.
 */
export async function fuzzRelay(t: FuzzTarget, o: { seed: number; numRuns: number; checkpoints?: number; onCheckpoint?: (r: FuzzReport) => void }): Promise<FuzzReport> {
  const before = await snapshot(t)
  const sock = new FuzzSocket(t)
  const ysock = new FuzzYjsSocket(t)
  const checkpoints = o.checkpoints ?? 5
  const every = Math.max(1, Math.floor(o.numRuns / checkpoints))
  const report: FuzzReport = { seed: o.seed, cases: 0, ms: 0, heap: [] }
  const started = Date.now()
  let pending: Promise<void> = Promise.resolve()
  try {
    await fc.assert(
      fc.asyncProperty(fuzzCases(t), async (c) => {
        await runCase(t, sock, c, ysock)
        report.cases++
        if (report.cases % every === 0) {
          const now = await snapshot(t)
          if (now !== before) throw new Error(`state changed within the first ${report.cases} cases`)
          await ownOptionsValid(t)
          report.heap.push({ cases: report.cases, mib: heapAfterGc() })
          report.ms = Date.now() - started
          o.onCheckpoint?.(report)
        }
      }),
      { seed: o.seed, numRuns: o.numRuns, endOnFailure: true },
    )
    await pending
  } finally {
    sock.close()
    ysock.close()
    pending = Promise.resolve()
  }
  report.ms = Date.now() - started
  const after = await snapshot(t)
  if (after !== before) throw new Error('the relay state changed during the fuzz run')
  await ownOptionsValid(t)
  return report
}
