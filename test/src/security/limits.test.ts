/**
 * Every limit of `LIMITS` at its edge: at the limit the call goes through, one past it is refused
 * with its code and changes nothing. Timing limits (handshake, heartbeat, HTTP timeouts) use short
 * values through `createRelay` options; their defaults are checked to be the LIMITS constants.
 */
import { connect, type Socket } from 'node:net'
import { beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { CLOSE_CODES, LIMITS, PROTOCOL_VERSION, groupRoomId, retryAfterFromReason, utf8Length } from '@parlor/protocol'
import { defaultRelayOptions } from '@parlor/relay'
import {
  api,
  defer,
  interceptingSocket,
  mutate,
  mutation,
  query,
  rawSocket,
  rejection,
  relayView,
  session,
  sharedRelay,
  signedIn,
  uid,
} from '../harness.js'
import { drainThroughOneFramePerSecond, startRelayWith } from './relay-options.js'

const relay = sharedRelay()

let owner: { id: string; token: string }
let roomId: string

beforeAll(async () => {
  const id = uid('owner')
  owner = { id, token: await session(relay(), id) }
  roomId = groupRoomId(uid('room'))
  await mutate(relay(), owner.token, mutation('createGroupRoom', { roomId, name: 'Limits', userIds: [] }))
})

const comment = (text: string, extras?: Record<string, unknown>) =>
  mutation('sendComment', { roomId, uniqueId: uid('c'), text, type: 'text', ...(extras && { extras }) })

/** A `mutate` frame (or body, without `type`) of exactly `bytes` bytes: comments padded to size. */
function sizedMutations(bytes: number, withType: boolean): string {
  const per = LIMITS.maxCommentTextBytes - 512
  const mutations: ReturnType<typeof comment>[] = []
  const encode = () => JSON.stringify(withType ? { type: 'mutate', mutations } : { mutations })
  while (utf8Length(encode()) + per < bytes) mutations.push(comment('x'.repeat(per)))
  mutations.push(comment(''))
  const last = mutations.at(-1)! as { args: { text: string } }
  last.args.text = 'y'.repeat(bytes - utf8Length(encode()))
  const text = encode()
  expect(utf8Length(text)).toBe(bytes)
  return text
}

/** One mutation's result over HTTP (refusals of the whole body answered as their code). */
async function resultOf(token: string, m: unknown): Promise<string> {
  const res = await api(relay(), '/v1/mutations', { mutations: [m] }, token)
  if (res.status !== 200) return res.body.error.code
  const r = res.body.results[0]
  return r.ok ? 'ok' : r.error.code
}

describe('limits at their edges', () => {
  it('frame size: a frame of maxFrameBytes is applied, one byte more is payload_too_large and changes nothing', async () => {
    const sock = await rawSocket(relay(), owner.token)
    const atLimit = sizedMutations(LIMITS.maxFrameBytes, true)
    sock.send(atLimit)
    const ack = await sock.next((f) => f.type === 'ack', 20_000)
    expect(ack.results.every((r: any) => r.ok)).toBe(true)
    const before = await relayView(relay(), owner.token)
    sock.send(sizedMutations(LIMITS.maxFrameBytes + 1, true))
    expect((await sock.next((f) => f.type === 'error')).error.code).toBe('payload_too_large')
    expect(await relayView(relay(), owner.token)).toEqual(before)
  })

  it('body size: a body of maxBodyBytes is applied, one byte more is 413 payload_too_large', async () => {
    const ok = await api(relay(), '/v1/mutations', sizedMutations(LIMITS.maxBodyBytes, false), owner.token)
    expect(ok.status).toBe(200)
    expect(ok.body.results.every((r: any) => r.ok)).toBe(true)
    const before = await relayView(relay(), owner.token)
    const big = await api(relay(), '/v1/mutations', sizedMutations(LIMITS.maxBodyBytes + 1, false), owner.token)
    expect(big).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } })
    expect(await relayView(relay(), owner.token)).toEqual(before)
  })

  it('mutations per frame: maxMutationsPerFrame pass, one more is validation', async () => {
    const many = (n: number) => Array.from({ length: n }, () => mutation('markAsRead', { roomId, commentId: 1 }))
    expect((await api(relay(), '/v1/mutations', { mutations: many(LIMITS.maxMutationsPerFrame) }, owner.token)).status).toBe(200)
    const res = await api(relay(), '/v1/mutations', { mutations: many(LIMITS.maxMutationsPerFrame + 1) }, owner.token)
    expect(res.body.error.code).toBe('validation')
  })

  it('user ids per call: a group of maxUserIdsPerCall others is made, one more is validation (relay and engine)', async () => {
    const ids = await Promise.all(Array.from({ length: LIMITS.maxUserIdsPerCall }, async () => {
      const id = uid('member')
      await session(relay(), id)
      return id
    }))
    const full = groupRoomId(uid('full'))
    expect(await resultOf(owner.token, mutation('createGroupRoom', { roomId: full, name: 'full', userIds: ids }))).toBe('ok')
    const over = mutation('createGroupRoom', { roomId: groupRoomId(uid('over')), name: 'over', userIds: [...ids, uid('one-more')] })
    expect(await resultOf(owner.token, over)).toBe('validation')
    const engine = await signedIn(relay(), uid('engine'))
    expect((await engine.createGroupRoom('ok', ids)).participantCount).toBe(LIMITS.maxUserIdsPerCall + 1)
    expect((await rejection(engine.createGroupRoom('over', [...ids, 'one-more']))).code).toBe('validation')
    await engine.sync()
  })

  it('options: keys, key bytes, value bytes and the whole map at their limits pass, one past is refused', async () => {
    const make = (options: Record<string, string>) => mutation('createGroupRoom', { roomId: groupRoomId(uid('o')), name: 'o', userIds: [], options })
    const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']))
    expect(await resultOf(owner.token, make(keys(LIMITS.maxOptionKeys)))).toBe('ok')
    expect(await resultOf(owner.token, make(keys(LIMITS.maxOptionKeys + 1)))).toBe('limit_exceeded')
    expect(await resultOf(owner.token, make({ ['k'.repeat(LIMITS.maxOptionKeyBytes)]: 'v' }))).toBe('ok')
    expect(await resultOf(owner.token, make({ ['k'.repeat(LIMITS.maxOptionKeyBytes + 1)]: 'v' }))).toBe('validation')
    // Bytes, not characters: 'é' is two.
    expect(await resultOf(owner.token, make({ v: 'é'.repeat(LIMITS.maxOptionValueBytes / 2) }))).toBe('ok')
    expect(await resultOf(owner.token, make({ v: 'é'.repeat(LIMITS.maxOptionValueBytes / 2) + 'x' }))).toBe('validation')
    const mapOf = (bytes: number) => {
      // Entries of at most maxOptionValueBytes, padded so the JSON of the map is exactly `bytes`.
      const map: Record<string, string> = {}
      let i = 0
      while (utf8Length(JSON.stringify(map)) + LIMITS.maxOptionValueBytes + 16 < bytes) map[`key${i++}`] = 'v'.repeat(LIMITS.maxOptionValueBytes)
      map.last = ''
      map.last = 'w'.repeat(bytes - utf8Length(JSON.stringify(map)))
      expect(utf8Length(JSON.stringify(map))).toBe(bytes)
      return map
    }
    expect(await resultOf(owner.token, make(mapOf(LIMITS.maxOptionsBytes)))).toBe('ok')
    expect(await resultOf(owner.token, make(mapOf(LIMITS.maxOptionsBytes + 1)))).toBe('limit_exceeded')
  })

  it('comment text and extras: at their byte limits pass, one byte more is validation', async () => {
    expect(await resultOf(owner.token, comment('a'.repeat(LIMITS.maxCommentTextBytes)))).toBe('ok')
    expect(await resultOf(owner.token, comment('a'.repeat(LIMITS.maxCommentTextBytes + 1)))).toBe('validation')
    // Bytes, not characters: '€' is three.
    const euros = Math.floor(LIMITS.maxCommentTextBytes / 3)
    expect(await resultOf(owner.token, comment('€'.repeat(euros) + 'a'.repeat(LIMITS.maxCommentTextBytes - 3 * euros)))).toBe('ok')
    expect(await resultOf(owner.token, comment('€'.repeat(euros + 1)))).toBe('validation')
    const extras = (bytes: number) => {
      const e = { p: '' }
      e.p = 'z'.repeat(bytes - utf8Length(JSON.stringify(e)))
      return e
    }
    expect(await resultOf(owner.token, comment('x', extras(LIMITS.maxCommentExtrasBytes)))).toBe('ok')
    expect(await resultOf(owner.token, comment('x', extras(LIMITS.maxCommentExtrasBytes + 1)))).toBe('validation')
  })

  it('page sizes: loadComments, getParticipants and loadRoomList at their maximum limit pass, one more is validation', async () => {
    const q = (name: string, args: Record<string, unknown>) => query(relay(), owner.token, { name, args })
    expect((await q('loadComments', { roomId, limit: LIMITS.maxCommentsLimit })).status).toBe(200)
    expect((await q('loadComments', { roomId, limit: LIMITS.maxCommentsLimit + 1 })).body.error.code).toBe('validation')
    expect((await q('getParticipants', { roomUniqueId: roomId, page: 1, limit: LIMITS.maxParticipantsLimit })).status).toBe(200)
    expect((await q('getParticipants', { roomUniqueId: roomId, page: 1, limit: LIMITS.maxParticipantsLimit + 1 })).body.error.code).toBe('validation')
    const engine = await signedIn(relay(), uid('pager'))
    expect(await engine.loadRoomList({ limit: LIMITS.maxRoomListLimit })).toEqual([])
    expect((await rejection(engine.loadRoomList({ limit: LIMITS.maxRoomListLimit + 1 }))).code).toBe('validation')
    expect(await engine.loadComments(roomId, { limit: LIMITS.maxCommentsLimit }).catch((e) => e.code)).not.toBe('validation')
    expect((await rejection(engine.loadComments(roomId, { limit: LIMITS.maxCommentsLimit + 1 }))).code).toBe('validation')
  })

  it('rooms per request: getRoomsInfo takes maxRoomsPerRequest ids, one more is validation', async () => {
    const engine = await signedIn(relay(), uid('info'))
    const ids = Array.from({ length: LIMITS.maxRoomsPerRequest }, (_, i) => groupRoomId(`r${i}`))
    expect(await engine.getRoomsInfo({ room_ids: ids })).toEqual([])
    expect((await rejection(engine.getRoomsInfo({ room_ids: [...ids, 'g:one-more'] }))).code).toBe('validation')
    const half = LIMITS.maxRoomsPerRequest / 2
    expect((await rejection(engine.getRoomsInfo({ room_ids: ids.slice(0, half), room_unique_ids: ids.slice(0, half + 1) }))).code).toBe('validation')
  })

  it('sockets per user: maxSocketsPerUser sockets open, one more closes with tooManySockets', async () => {
    const id = uid('many')
    const token = await session(relay(), id)
    const open = await Promise.all(Array.from({ length: LIMITS.maxSocketsPerUser }, () => rawSocket(relay(), token)))
    const extra = await rawSocket(relay())
    extra.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token, cursor: 0 })
    const closed = await extra.closed
    expect(closed.code).toBe(CLOSE_CODES.tooManySockets)
    expect(closed.reason).toContain('limit_exceeded')
    // The others still serve, and closing one makes room for another.
    open[0]!.send({ type: 'ping' })
    await open[0]!.next((f) => f.type === 'pong')
    open[1]!.close()
    await open[1]!.closed
    await expect.poll(async () => {
      const again = await rawSocket(relay())
      again.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token, cursor: 0 })
      const first = await Promise.race([again.next((f) => f.type === 'sync').then(() => 'sync'), again.closed.then((c) => `close ${c.code}`)])
      again.close()
      return first
    }).toBe('sync')
  })

  it('token length: a token of maxTokenLength characters is checked (and refused as forged), one more is validation', async () => {
    const sock = await rawSocket(relay(), owner.token)
    sock.send({ type: 'auth', token: 'a.'.padEnd(LIMITS.maxTokenLength, 'b') })
    expect(await sock.next((f) => f.type === 'authed')).toMatchObject({ ok: false, error: { code: 'unauthorized' } })
    sock.send({ type: 'auth', token: 'a.'.padEnd(LIMITS.maxTokenLength + 1, 'b') })
    expect((await sock.next((f) => f.type === 'error')).error.code).toBe('validation')
    const long = await api(relay(), '/v1/sync', undefined, 'a.'.padEnd(LIMITS.maxTokenLength + 1, 'b'))
    expect(long.body.error.code).toBe('unauthorized')
  })

  it('messages per second: the burst passes, one more is rate_limited with retryAfterMs; flooding closes with 4029 and retryAfterMs', async () => {
    expect(defaultRelayOptions).toMatchObject({ maxFramesPerSecond: LIMITS.maxFramesPerSecond, maxFrameBurst: LIMITS.maxFrameBurst })
    // One token a second: nothing refills while the test sends (bounded by the 1 s refill).
    const small = await startRelayWith({ maxFramesPerSecond: 1, maxFrameBurst: 10 })
    const token = await session(small, uid('flood'))
    const sock = await rawSocket(small, token) // hello took one token
    for (let i = 0; i < 9; i++) sock.send({ type: 'ping' })
    for (let i = 0; i < 9; i++) await sock.next((f) => f.type === 'pong')
    sock.send({ type: 'ping' })
    const refused = await sock.next((f) => f.type === 'error')
    expect(refused.error).toMatchObject({ code: 'rate_limited', retryAfterMs: expect.any(Number) })
    expect(refused.error.retryAfterMs).toBeGreaterThan(0)
    expect(sock.frames.filter((f) => f.type === 'pong')).toHaveLength(9)
    // Keeping on flooding after being told: closed, with the wait in the reason.
    for (let i = 0; i < 20 && sock.ws.readyState === WebSocket.OPEN; i++) sock.send({ type: 'ping' })
    const closed = await sock.closed
    expect(closed.code).toBe(CLOSE_CODES.rateLimited)
    expect(retryAfterFromReason(closed.reason)).toBe(LIMITS.rateLimitRetryAfterMs)
  })

  it('an engine waits out rate_limited answers instead of flooding, and gets everything through', async () => {
    // One frame a second, no burst: hello takes the only token, so the first mutate frame is refused.
    const refusals: number[] = []
    const Watching = interceptingSocket((data) => {
      const f = JSON.parse(data)
      if (f.type === 'error' && f.error.code === 'rate_limited') refusals.push(f.error.retryAfterMs)
      return true
    })
    const { relay: small, room, userId, count, socketsOpened } = await drainThroughOneFramePerSecond(Watching)
    expect(refusals.length).toBeGreaterThan(0)
    expect(refusals.every((ms) => ms > 0)).toBe(true)
    expect(socketsOpened).toBe(2) // the first, and the one after disconnect(): never closed for flooding
    const token = await session(small, userId)
    const res = await query(small, token, { name: 'loadComments', args: { roomId: room.id, limit: 100 } })
    expect(res.body.comments.at(-1).text).toBe(`m${count - 1}`)
  })

  it('handshake timeout: hello before it is accepted, no hello closes with handshakeFailed', async () => {
    expect(defaultRelayOptions.helloTimeoutMs).toBe(LIMITS.helloTimeoutMs)
    const r = await startRelayWith({ helloTimeoutMs: 300 })
    const token = await session(r, uid('slow'))
    const silent = await rawSocket(r)
    const opened = Date.now()
    const timely = await rawSocket(r)
    timely.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token, cursor: 0 })
    await timely.next((f) => f.type === 'sync')
    const closed = await silent.closed
    expect(closed.code).toBe(CLOSE_CODES.handshakeFailed)
    expect(Date.now() - opened).toBeGreaterThanOrEqual(250)
    timely.send({ type: 'ping' })
    await timely.next((f) => f.type === 'pong')
  })

  it('heartbeat: a socket that stops answering pings is dropped; one that answers stays', async () => {
    expect(defaultRelayOptions.heartbeatIntervalMs).toBe(LIMITS.heartbeatIntervalMs)
    const r = await startRelayWith({ heartbeatIntervalMs: 100 })
    const token = await session(r, uid('beat'))
    const alive = await rawSocket(r, token)
    let pings = 0
    alive.ws.on('ping', () => pings++)
    // A peer that went away without closing: its socket is open but answers no ping.
    const dead = new WebSocket(r.wsUrl, { autoPong: false })
    const deadClosed = new Promise<{ code: number; at: number }>((resolve) => dead.on('close', (code) => resolve({ code, at: Date.now() })))
    await new Promise((resolve) => dead.once('open', resolve))
    dead.send(JSON.stringify({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token, cursor: 0 }))
    const since = Date.now()
    const { code, at } = await deadClosed
    expect(code).toBe(1006) // terminated: no close frame for a peer that is gone
    expect(at - since).toBeLessThan(1_000)
    await expect.poll(() => pings, { timeout: 5_000 }).toBeGreaterThanOrEqual(5)
    alive.send({ type: 'ping' })
    await alive.next((f) => f.type === 'pong')
  })

  it('HTTP timeouts: headers that never finish get 408 and the connection closed; idle keep-alive connections close', async () => {
    expect(defaultRelayOptions).toMatchObject({
      httpHeadersTimeoutMs: LIMITS.httpHeadersTimeoutMs,
      httpRequestTimeoutMs: LIMITS.httpRequestTimeoutMs,
      httpIdleTimeoutMs: LIMITS.httpIdleTimeoutMs,
    })
    const r = await startRelayWith({ httpHeadersTimeoutMs: 300, httpRequestTimeoutMs: 600, httpIdleTimeoutMs: 200 })
    const { port } = new URL(r.url)
    const slow = await tcp(Number(port))
    const started = Date.now()
    slow.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n') // and never the blank line
    await slow.closed
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408/)
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)

    const idle = await tcp(Number(port))
    idle.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n')
    await expect.poll(() => idle.received()).toContain('"ok":true')
    const answeredAt = Date.now()
    await idle.closed
    expect(Date.now() - answeredAt).toBeGreaterThanOrEqual(150)
    expect((await api(r, '/healthz')).status).toBe(200)
  })
})

/** A raw TCP connection that records what it receives. */
async function tcp(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1')
  let data = ''
  socket.on('data', (chunk) => (data += chunk.toString()))
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  return { socket, received: () => data, closed }
}
