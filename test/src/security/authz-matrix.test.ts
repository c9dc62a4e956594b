/**
 * The authorization matrix: every HTTP route, every socket frame type (and every mutation and query
 * inside them) × every kind of caller, answered as SPEC §5 says, with the state unchanged on every
 * refusal. One table drives it; a route, frame type, mutation or query that the relay serves and the
 * table does not list fails the test, so adding one means deciding who may call it.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import {
  CLOSE_CODES,
  ERROR_CODES,
  MUTATION_ARGS,
  PROTOCOL_VERSION,
  UP_FRAME_TYPES,
  channelRoomId,
  groupRoomId,
  querySchema,
  singleRoomId,
  type MutationName,
} from '@parlor/protocol'
import { mintToken, relayRoutes } from '@parlor/relay'
import { api, mutate, mutation, rawSocket, session, sharedRelay, uid, type TestRelay } from '../harness.js'

const relay = sharedRelay()

// ---- callers ----------------------------------------------------------------------------------------

const CALLERS = [
  'participant', // active participant of the group G
  'nonParticipant', // signed in, never in G
  'removed', // was in G, removed
  'channelOutsider', // signed in, not in the channel C: may read and join it, not write until joined
  'noToken',
  'expiredToken',
  'forgedToken', // signed with another secret
  'unknownUser', // well signed, for a user the relay does not know
] as const
type Caller = (typeof CALLERS)[number]

// ---- expected answers -------------------------------------------------------------------------------

/** `ok`, an error code, or the close code of a socket refused at hello. */
type Answer = 'ok' | keyof typeof ERROR_CODES | `close ${number}`
const ok = 'ok'
const F = 'forbidden'
const U = 'unauthorized'
const X = 'token_expired'
const BAD = 'bad_frame'
const C401 = `close ${CLOSE_CODES.unauthorized}` as const
const C402 = `close ${CLOSE_CODES.tokenExpired}` as const

type Row = readonly [Answer, Answer, Answer, Answer, Answer, Answer, Answer, Answer]
const Y401 = `close ${CLOSE_CODES.refusedToken}` as const
const Y403 = `close ${CLOSE_CODES.forbidden}` as const
/** The y-websocket endpoint: a bad token is refused before anything is read. */
const yjs = (p: Answer, n: Answer, r: Answer, c: Answer): Row => [p, n, r, c, Y401, Y401, Y401, Y401]
/** Bearer routes refuse bad tokens the same way whatever they do. */
const http = (p: Answer, n: Answer, r: Answer, c: Answer): Row => [p, n, r, c, U, X, U, U]
/** Socket frames: a bad token never gets past hello. */
const sock = (p: Answer, n: Answer, r: Answer, c: Answer): Row => [p, n, r, c, C401, C402, C401, C401]
const read = [ok, F, F, ok] as const // members, and anyone for a channel
const write = [ok, F, F, F] as const // active participants only
const anyone = [ok, ok, ok, ok] as const // any signed-in user (own data, joining a channel, new rooms)

/**
 * THE TABLE. Columns: participant, nonParticipant, removed, channelOutsider, noToken, expiredToken,
 * forgedToken, unknownUser. Room-scoped rows act on the group G (the channel C for channelOutsider).
 */
const MATRIX: Record<string, Row> = {
  'GET /healthz': [ok, ok, ok, ok, ok, ok, ok, ok],
  'GET /readyz': [ok, ok, ok, ok, ok, ok, ok, ok],
  'GET /metrics': [ok, ok, ok, ok, ok, ok, ok, ok],
  // Signs in with the body's key; a bearer token, good or bad, plays no part.
  'POST /v1/session': [ok, ok, ok, ok, ok, ok, ok, ok],
  'POST /v1/logout': http(...anyone),
  'GET /v1/sync': http(...anyone),
  'POST /v1/query getRoomById': http(...read),
  'POST /v1/query loadComments': http(...read),
  'POST /v1/query getParticipants': http(...read),
  'POST /v1/mutations sendComment': http(...write),
  'POST /v1/mutations markAsRead': http(...write),
  'POST /v1/mutations updateRoom': http(...write),
  'POST /v1/mutations addParticipants': http(...write),
  'POST /v1/mutations removeParticipants': http(...write),
  'POST /v1/mutations getOrCreateChannel': http(...anyone),
  'POST /v1/mutations chatTarget': http(...anyone),
  'POST /v1/mutations createGroupRoom': http(...anyone),
  'GET /v1/socket': sock(...anyone),
  'frame hello': sock(BAD, BAD, BAD, BAD), // a second hello on a live socket
  'frame ping': sock(...anyone),
  // The engine's outbox depth, for /metrics: any signed-in socket may tell its own (not answered).
  'frame report': sock(...anyone),
  // The frame carries the caller's token on a socket of the same user; a bad token there is refused
  // in the answer and the socket stays on its old one.
  'frame auth': [ok, ok, ok, ok, 'validation', X, U, U],
  'frame query getRoomById': sock(...read),
  'frame query loadComments': sock(...read),
  'frame query getParticipants': sock(...read),
  'frame mutate sendComment': sock(...write),
  'frame mutate markAsRead': sock(...write),
  'frame mutate updateRoom': sock(...write),
  'frame mutate addParticipants': sock(...write),
  'frame mutate removeParticipants': sock(...write),
  'frame mutate getOrCreateChannel': sock(...anyone),
  'frame mutate chatTarget': sock(...anyone),
  'frame mutate createGroupRoom': sock(...anyone),
  // Options documents (Yjs updates): active participants only, like every other write.
  ...('updateOptions' in MUTATION_ARGS && {
    'POST /v1/mutations updateOptions': http(...write),
    'frame mutate updateOptions': sock(...write),
  }),
  // The y-websocket endpoint (token in the query string): a refused socket is closed with a code
  // y-websocket clients take as final (4400–4499).
  'GET /yjs/:roomId read': yjs(ok, Y403, Y403, ok),
  'GET /yjs/:roomId write': yjs(ok, Y403, Y403, Y403),
}

// ---- users and per-case fixture ---------------------------------------------------------------------

interface User {
  id: string
  token: string
}
let O: User // owner of G and C
let P: User // participant of G and C
let R: User // removed from G and from C
let N: User // never in G nor C
let V: User // active in G and C: the one removeParticipants removes
let S: User // a spare registered user: the one addParticipants adds
let Z: User // in no room ever: reads the relay's current seq cheaply

beforeAll(async () => {
  const make = async (p: string) => {
    const id = uid(p)
    return { id, token: await session(relay(), id) }
  }
  const users = await Promise.all(['owner', 'part', 'removed', 'outsider', 'victim', 'spare', 'clock'].map(make))
  ;[O, P, R, N, V, S, Z] = users as [User, User, User, User, User, User, User]
})

interface Fixture {
  G: string
  C: string
  comment: Record<string, number>
  /** The relay's seq before the fixture was made: views read only what changed after it. */
  since: number
}

/** A fresh group G (O, P, V; R removed) and channel C (O, P, V; R removed), each with a comment. */
async function fixture(r: TestRelay): Promise<Fixture> {
  const since = (await api(r, '/v1/sync?cursor=0', undefined, Z.token)).body.cursor as number
  const G = groupRoomId(uid('g'))
  const cId = uid('chan')
  const C = channelRoomId(cId)
  const made = await mutate(r, O.token,
    mutation('createGroupRoom', { roomId: G, name: 'G', userIds: [P.id, R.id, V.id] }),
    mutation('sendComment', { roomId: G, uniqueId: uid('c'), text: 'in G', type: 'text' }),
    mutation('removeParticipants', { roomId: G, userIds: [R.id] }),
    mutation('getOrCreateChannel', { roomId: C, uniqueId: cId }),
    mutation('sendComment', { roomId: C, uniqueId: uid('c'), text: 'in C', type: 'text' }),
  )
  await Promise.all([P, R, V].map((u) => mutate(r, u.token, mutation('getOrCreateChannel', { roomId: C, uniqueId: cId }))))
  const removed = await mutate(r, O.token, mutation('removeParticipants', { roomId: C, userIds: [R.id] }))
  for (const res of [...made, ...removed]) expect(res.ok, JSON.stringify(res)).toBe(true)
  return { G, C, since, comment: { [G]: made[1].value.comment.id, [C]: made[4].value.comment.id } }
}

/** What the relay holds about the fixture's rooms, as each user involved sees it (cursors dropped). */
async function view(r: TestRelay, fx: Fixture): Promise<unknown> {
  const mine = (id: string) => id === fx.G || id === fx.C
  const syncOf = async (u: User) => {
    // Everything of G and C happened after fx.since, so a catch-up from there holds all of it (and
    // stays small however many fixtures the shared users are in).
    const res = await api(r, `/v1/sync?cursor=${fx.since}`, undefined, u.token)
    expect(res.status).toBe(200)
    if (fx.since > 0) expect(res.body.isFull).toBe(false)
    return {
      rooms: res.body.rooms.filter((x: { id: string }) => mine(x.id)),
      participants: res.body.participants.filter((x: { roomId: string }) => mine(x.roomId)),
      comments: res.body.comments.filter((x: { roomId: string }) => mine(x.roomId)),
    }
  }
  const channelMembers = await api(r, '/v1/query', { name: 'getParticipants', args: { roomUniqueId: fx.C.slice(2), page: 1, limit: 100 } }, O.token)
  return { O: await syncOf(O), P: await syncOf(P), R: await syncOf(R), N: await syncOf(N), V: await syncOf(V), C: channelMembers.body }
}

// ---- performing one cell ----------------------------------------------------------------------------

interface Cell {
  r: TestRelay
  fx: Fixture
  caller: Caller
  /** The token the caller presents (undefined: none). */
  token: string | undefined
  /** The user behind it (for the bad-token callers: the one the token pretends to be). */
  user: User
  /** The room the row acts on. */
  room: string
}

function callerToken(r: TestRelay, caller: Caller): { token: string | undefined; user: User } {
  switch (caller) {
    case 'participant':
      return { token: r.mintToken(P.id), user: P }
    case 'nonParticipant':
    case 'channelOutsider':
      return { token: r.mintToken(N.id), user: N }
    case 'removed':
      return { token: r.mintToken(R.id), user: R }
    case 'noToken':
      return { token: undefined, user: P }
    case 'expiredToken':
      return { token: r.mintToken(P.id, -60_000), user: P }
    case 'forgedToken':
      return { token: mintToken({ secret: 'not-the-relay-secret', userId: P.id }), user: P }
    case 'unknownUser': {
      const ghost = uid('ghost')
      return { token: r.mintToken(ghost), user: { id: ghost, token: '' } }
    }
  }
}

const MUTATION_BUILDERS: Record<Exclude<MutationName, 'updateOptions'>, (c: Cell) => Record<string, unknown>> = {
  sendComment: (c) => ({ roomId: c.room, uniqueId: uid('c'), text: 'hello', type: 'text' }),
  markAsRead: (c) => ({ roomId: c.room, commentId: c.fx.comment[c.room] }),
  updateRoom: (c) => ({ roomId: c.room, name: 'renamed' }),
  addParticipants: (c) => ({ roomId: c.room, userIds: [S.id] }),
  removeParticipants: (c) => ({ roomId: c.room, userIds: [V.id] }),
  getOrCreateChannel: (c) => ({ roomId: c.fx.C, uniqueId: c.fx.C.slice(2) }),
  chatTarget: (c) => ({ roomId: singleRoomId(c.user.id, O.id), userId: O.id }),
  createGroupRoom: () => ({ roomId: groupRoomId(uid('new')), name: 'new', userIds: [] }),
}

/** A valid options-document update from a fresh client: one entry `{ key, val }` in the Y.Array. */
function optionsUpdate(): string {
  const doc = new Y.Doc()
  doc.getArray('options').push([{ key: 'color', val: 'red' }])
  return Buffer.from(Y.encodeStateAsUpdate(doc)).toString('base64')
}
const EXTRA_MUTATION_BUILDERS: Record<string, (c: Cell) => Record<string, unknown>> = {
  updateOptions: (c) => ({ roomId: c.room, update: optionsUpdate() }),
}

const QUERY_BUILDERS: Record<string, (c: Cell) => Record<string, unknown>> = {
  getRoomById: (c) => ({ roomId: c.room }),
  loadComments: (c) => ({ roomId: c.room, limit: 5 }),
  getParticipants: (c) => ({ roomUniqueId: c.room.startsWith('c:') ? c.room.slice(2) : c.room, page: 1, limit: 10 }),
}

const envelope = (name: string, args: Record<string, unknown>) => ({ id: uid('m'), name, args, createdAt: Date.now() })

/** The answer of an HTTP call: ok for 2xx, else the error code (checked against its status). */
function httpAnswer(res: { status: number; body: any; text: string }): Answer {
  if (res.status >= 200 && res.status < 300) return ok
  const code = res.body?.error?.code
  expect(ERROR_CODES[code as keyof typeof ERROR_CODES]?.status, `status ${res.status} for ${res.text.slice(0, 200)}`).toBe(res.status)
  return code
}

function mutationAnswer(result: any): Answer {
  return result.ok ? ok : result.error.code
}

/**
 * Opens a socket as the cell's caller and sends `frame` right after hello (and `then` after it, for
 * a frame that is not answered); the answer to it.
 */
async function overSocket(c: Cell, frame: Record<string, unknown>, answers: (f: any) => boolean, then?: Record<string, unknown>): Promise<{ answer: Answer; frame?: any }> {
  const sock = await rawSocket(c.r)
  sock.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, ...(c.token === undefined ? {} : { token: c.token }), cursor: 0 })
  sock.send(frame)
  if (then) sock.send(then)
  const outcome = await Promise.race([
    sock.next(answers).then((f) => ({ frame: f })),
    sock.closed.then((closed) => ({ closed })),
  ])
  if ('closed' in outcome) {
    // Refused at hello: nothing the frame asked for may have been answered.
    expect(sock.frames.filter((f) => f.type !== 'error')).toEqual([])
    return { answer: `close ${outcome.closed.code}` }
  }
  sock.close()
  const f = outcome.frame
  if (f.type === 'error') return { answer: f.error.code, frame: f }
  if (f.type === 'ack') return { answer: mutationAnswer(f.results[0]), frame: f }
  if (f.type === 'result' || f.type === 'authed') return { answer: f.ok ? ok : f.error.code, frame: f }
  return { answer: ok, frame: f }
}

/**
 * Opens `/yjs/<room>` as the cell's caller; `write` sends an options update once the relay's sync
 * step 1 arrived, then a step 1 of its own. ok: the relay's step 1 (read), or the relay's document
 * holding the update (write): the relay answers messages in order, so its step 2 comes after the
 * update was applied (the sender of an update is not sent it back).
 */
async function overYjs(c: Cell, write: boolean): Promise<Answer> {
  const url = `${c.r.url.replace(/^http/, 'ws')}/yjs/${c.room}${c.token === undefined ? '' : `?token=${encodeURIComponent(c.token)}`}`
  const ws = new WebSocket(url)
  ws.on('error', () => {})
  const update = optionsUpdateBytes()
  const answer = await new Promise<Answer>((resolve) => {
    ws.on('close', (code) => resolve(`close ${code}`))
    ws.on('message', (data: Buffer) => {
      const [type, syncType] = [data[0], data[1]]
      if (type !== 0) return
      if (syncType === 0 && !write) return resolve(ok)
      if (syncType === 0) {
        ws.send(Buffer.concat([Buffer.from([0, 2]), varUint(update.length), Buffer.from(update)]))
        const nothing = Y.encodeStateVector(new Y.Doc())
        return ws.send(Buffer.concat([Buffer.from([0, 0]), varUint(nothing.length), Buffer.from(nothing)]))
      }
      if (syncType === 1 && Buffer.from(data).includes(Buffer.from('hello-from-yjs'))) resolve(ok)
    })
  })
  ws.terminate()
  return answer
}
function optionsUpdateBytes(): Uint8Array {
  const doc = new Y.Doc()
  doc.getArray('options').push([{ key: 'color', val: 'hello-from-yjs' }])
  return Y.encodeStateAsUpdate(doc)
}
function varUint(n: number): Buffer {
  const out: number[] = []
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  out.push(n)
  return Buffer.from(out)
}

const PERFORM: Record<string, (c: Cell) => Promise<Answer>> = {
  'GET /yjs/:roomId read': (c) => overYjs(c, false),
  'GET /yjs/:roomId write': (c) => overYjs(c, true),
  'GET /healthz': async (c) => httpAnswer(await api(c.r, '/healthz', undefined, c.token)),
  'GET /readyz': async (c) => httpAnswer(await api(c.r, '/readyz', undefined, c.token)),
  'GET /metrics': async (c) => {
    const res = await fetch(`${c.r.url}/metrics`, { headers: c.token ? { authorization: `Bearer ${c.token}` } : {} })
    const text = await res.text()
    // Counts only: no user or room ids leak through metrics.
    expect(text).not.toContain(c.fx.G)
    expect(text).not.toContain(P.id)
    return res.ok ? ok : 'internal'
  },
  'POST /v1/session': async (c) =>
    httpAnswer(await api(c.r, '/v1/session', { userId: O.id, userKey: `key-of-${O.id}` }, c.token)),
  'POST /v1/logout': async (c) => {
    const answer = httpAnswer(await api(c.r, '/v1/logout', undefined, c.token, { method: 'POST' }))
    // A revoked token opens nothing afterwards.
    if (answer === ok) expect(httpAnswer(await api(c.r, '/v1/sync', undefined, c.token))).toBe(U)
    return answer
  },
  'GET /v1/sync': async (c) => {
    const res = await api(c.r, '/v1/sync?cursor=0', undefined, c.token)
    const answer = httpAnswer(res)
    if (answer === ok) {
      const g = res.body.rooms.find((x: { id: string }) => x.id === c.fx.G)
      const gComments = res.body.comments.filter((x: { roomId: string }) => x.roomId === c.fx.G)
      // Own data only: an outsider sees nothing of G, a removed user sees G as removed and no comments.
      if (c.user === N) expect(g).toBeUndefined()
      if (c.user === R) {
        expect(g?.isRemoved).toBe(true)
        expect(gComments).toEqual([])
      }
      if (c.user === P) expect(gComments.length).toBeGreaterThan(0)
    }
    return answer
  },
  'GET /v1/socket': async (c) => (await overSocket(c, { type: 'ping' }, (f) => f.type === 'pong')).answer,
  'frame hello': async (c) =>
    (await overSocket(c, { type: 'hello', protocolVersion: PROTOCOL_VERSION, token: c.token ?? 'x', cursor: 0 }, (f) => f.type === 'error')).answer,
  'frame ping': async (c) => (await overSocket(c, { type: 'ping' }, (f) => f.type === 'pong')).answer,
  // Not answered: a ping after it shows it was taken (its pong), or the error refusing it comes first.
  'frame report': async (c) =>
    (await overSocket(c, { type: 'report', pending: 3 }, (f) => f.type === 'pong' || f.type === 'error', { type: 'ping' })).answer,
  'frame auth': async (c) => {
    // The socket belongs to the caller (or, for bad tokens, to the user they pretend to be).
    const isBad = ['noToken', 'expiredToken', 'forgedToken', 'unknownUser'].includes(c.caller)
    const owner = isBad ? P : c.user
    const socketCell = { ...c, token: c.r.mintToken(owner.id) }
    const token = isBad ? (c.token ?? '') : c.r.mintToken(owner.id)
    return (await overSocket(socketCell, { type: 'auth', token }, (f) => f.type === 'authed' || f.type === 'error')).answer
  },
}
for (const name of Object.keys(QUERY_BUILDERS)) {
  PERFORM[`POST /v1/query ${name}`] = async (c) => httpAnswer(await api(c.r, '/v1/query', { name, args: QUERY_BUILDERS[name]!(c) }, c.token))
  PERFORM[`frame query ${name}`] = async (c) =>
    (await overSocket(c, { type: 'query', id: 7, query: { name, args: QUERY_BUILDERS[name]!(c) } }, (f) => f.type === 'result' || f.type === 'error')).answer
}
const builders = { ...MUTATION_BUILDERS, ...Object.fromEntries(Object.entries(EXTRA_MUTATION_BUILDERS).filter(([n]) => n in MUTATION_ARGS)) }
for (const [name, build] of Object.entries(builders)) {
  PERFORM[`POST /v1/mutations ${name}`] = async (c) => {
    const res = await api(c.r, '/v1/mutations', { mutations: [envelope(name, build(c))] }, c.token)
    const answer = httpAnswer(res)
    return answer === ok ? mutationAnswer(res.body.results[0]) : answer
  }
  PERFORM[`frame mutate ${name}`] = async (c) =>
    (await overSocket(c, { type: 'mutate', mutations: [envelope(name, build(c))] }, (f) => f.type === 'ack' || f.type === 'error')).answer
}

// ---- the test ---------------------------------------------------------------------------------------

describe('authorization matrix', () => {
  it('lists every route, frame type, mutation and query the relay serves, and nothing it does not', async () => {
    const rows = new Set(Object.keys(MATRIX))
    const missing: string[] = []
    const covers = (key: string) => [...rows].some((row) => row === key || row.startsWith(`${key} `))
    for (const route of relayRoutes()) if (!covers(`${route.method} ${route.path}`)) missing.push(`${route.method} ${route.path}`)
    for (const type of UP_FRAME_TYPES) {
      if (type === 'mutate' || type === 'query') continue
      if (!rows.has(`frame ${type}`)) missing.push(`frame ${type}`)
    }
    for (const name of Object.keys(MUTATION_ARGS)) {
      for (const prefix of ['POST /v1/mutations', 'frame mutate']) if (!rows.has(`${prefix} ${name}`)) missing.push(`${prefix} ${name}`)
    }
    for (const q of querySchema.options) {
      const name = q.shape.name.value
      for (const prefix of ['POST /v1/query', 'frame query']) if (!rows.has(`${prefix} ${name}`)) missing.push(`${prefix} ${name}`)
    }
    expect(missing, 'served but not in the authorization matrix: add a row to MATRIX (and PERFORM) saying who may call it').toEqual([])
    // Every row can be performed, and names something that exists.
    expect(Object.keys(MATRIX).filter((row) => !PERFORM[row])).toEqual([])
    const served = new Set([
      ...relayRoutes().map((r) => `${r.method} ${r.path}`),
      ...UP_FRAME_TYPES.map((t) => `frame ${t}`),
    ])
    const stale = Object.keys(MATRIX).filter((row) => {
      const base = row.split(' ').slice(0, 2).join(' ')
      return !served.has(base)
    })
    expect(stale, 'rows for routes or frames the relay does not serve').toEqual([])
  })

  it('has no websocket endpoint outside the route table (a y-websocket endpoint must be listed)', async () => {
    const listed = relayRoutes().some((r) => r.path.startsWith('/yjs/'))
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${relay().wsUrl.replace(/\/v1\/socket$/, '')}/yjs/g:probe`)
      ws.on('open', () => {
        ws.terminate()
        resolve(101)
      })
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      ws.on('error', () => resolve(0))
    })
    if (!listed) expect(status, 'the relay serves /yjs/… but its route table does not list it').toBe(404)
  })

  for (const [row, expected] of Object.entries(MATRIX)) {
    it.concurrent(`${row}: answers each caller as the table says, changing nothing on refusals`, async () => {
      const r = relay()
      const got: Record<string, Answer> = {}
      const want: Record<string, Answer> = {}
      const changed: string[] = []
      for (const [i, caller] of CALLERS.entries()) {
        const fx = await fixture(r)
        const { token, user } = callerToken(r, caller)
        const room = caller === 'channelOutsider' ? fx.C : fx.G
        const before = await view(r, fx)
        got[caller] = await PERFORM[row]!({ r, fx, caller, token, user, room })
        want[caller] = expected[i]!
        if (got[caller] !== ok && JSON.stringify(await view(r, fx)) !== JSON.stringify(before)) changed.push(caller)
      }
      expect(got).toEqual(want)
      expect(changed, 'state changed by a refused call').toEqual([])
    })
  }
})
