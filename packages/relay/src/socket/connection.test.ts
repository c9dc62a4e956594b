import { beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { CLOSE_CODES, LIMITS, PROTOCOL_VERSION } from '@parlor/protocol'
import { mintToken } from '../auth.js'
import { TestSocket, startRelay, uid, type TestRelay } from '../testing/relay-fixture.js'

const SECRET = 'socket-test-secret'
let relay: TestRelay
let token: string
let userId: string
beforeAll(async () => {
  relay = await startRelay({ secret: SECRET, helloTimeoutMs: 300 })
  userId = uid()
  token = (await relay.signIn(userId)).token
})

const hello = (t: string, extra: object = {}) => ({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token: t, cursor: 0, ...extra })

describe('socket handshake', () => {
  it('closes a socket that sends no hello in time', async () => {
    const s = await TestSocket.open(relay.url)
    expect((await s.closed).code).toBe(CLOSE_CODES.handshakeFailed)
  })

  it.each([
    ['a ping', { type: 'ping' }],
    ['malformed JSON', '{"type":'],
    ['a hello with an unknown field', { ...hello('t'), extra: 1 }],
  ])('closes a socket whose first frame is %s with handshakeFailed', async (_, frame) => {
    const s = await TestSocket.open(relay.url)
    s.send(frame)
    const { code, reason } = await s.closed
    expect(code).toBe(CLOSE_CODES.handshakeFailed)
    expect(reason).not.toBe('')
  })

  it('closes on a protocol version mismatch', async () => {
    const s = await TestSocket.open(relay.url)
    s.send(hello(token, { protocolVersion: PROTOCOL_VERSION + 1 }))
    expect((await s.closed).code).toBe(CLOSE_CODES.protocolVersion)
  })

  it('closes on forged, unknown-user and expired tokens with the matching code and a reason', async () => {
    const cases: Array<[string, number]> = [
      ['garbage.token', CLOSE_CODES.unauthorized],
      [mintToken({ secret: 'wrong', userId }), CLOSE_CODES.unauthorized],
      [mintToken({ secret: SECRET, userId: uid('ghost') }), CLOSE_CODES.unauthorized],
      [mintToken({ secret: SECRET, userId, ttlMs: -1000 }), CLOSE_CODES.tokenExpired],
    ]
    for (const [t, expected] of cases) {
      const s = await TestSocket.open(relay.url)
      s.send(hello(t))
      const { code, reason } = await s.closed
      expect(code).toBe(expected)
      expect(reason.length).toBeGreaterThan(0)
    }
  })

  it('refuses upgrades on other paths', async () => {
    const ws = new WebSocket(relay.url.replace('http', 'ws') + '/v1/other')
    const err = await new Promise<Error>((resolve) => ws.on('error', resolve))
    expect(err.message).toContain('404')
  })

  it('answers a valid hello with a sync for the user', async () => {
    const { sync } = await relay.connect(token)
    expect(sync).toMatchObject({ type: 'sync', userId, isFull: true })
  })
})

describe('frames after hello', () => {
  const errorCode = async (s: TestSocket) => {
    const f = await s.next((x) => x.type === 'error')
    return f.type === 'error' ? f.error.code : undefined
  }

  it.each([
    ['malformed JSON', '{nope', 'bad_frame'],
    ['a non-object', '42', 'validation'],
    ['an unknown frame type', { type: 'shout' }, 'validation'],
    ['an unknown field', { type: 'ping', x: 1 }, 'validation'],
    ['a second hello', hello('whatever'), 'bad_frame'],
    ['a mutate frame without mutations', { type: 'mutate', mutations: [] }, 'validation'],
    ['a mutate frame with an unknown field', { type: 'mutate', mutations: [{ id: 'x' }], extra: true }, 'validation'],
    ['a mutation without a valid id', { type: 'mutate', mutations: [{ id: 'bad id!', name: 'chatTarget' }] }, 'validation'],
  ])('answers %s with an error frame and keeps the socket open', async (_, frame, code) => {
    const { socket } = await relay.connect(token)
    socket.send(frame)
    expect(await errorCode(socket)).toBe(code)
    await socket.ping()
  })

  it('answers a binary frame with bad_frame', async () => {
    const { socket } = await relay.connect(token)
    socket.ws.send(Buffer.from([1, 2, 3]), { binary: true })
    expect(await errorCode(socket)).toBe('bad_frame')
    await socket.ping()
  })

  it('answers an invalid query with an error frame that references its id', async () => {
    const { socket } = await relay.connect(token)
    socket.send({ type: 'query', id: 7, query: { name: 'getRoomById', args: { roomId: 5 } } })
    const f = await socket.next((x) => x.type === 'error')
    expect(f).toMatchObject({ type: 'error', ref: 7, error: { code: 'validation' } })
  })

  it('answers a frame over the limit with payload_too_large, and cuts off a far larger one', async () => {
    const { socket } = await relay.connect(token)
    socket.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(LIMITS.maxFrameBytes) }))
    expect(await errorCode(socket)).toBe('payload_too_large')
    await socket.ping()
    socket.send('x'.repeat(LIMITS.maxFrameBytes * 2 + 10))
    expect((await socket.closed).code).toBe(1009)
  })

  it.each([
    ['invalid arguments', { roomId: 's:x:y', userId: 'y', more: 1 }],
    ['a reserved option key', JSON.parse('{"roomId":"s:x:y","userId":"y","options":{"__proto__":"v"}}')],
  ])('refuses a mutate frame with %s as a whole, applying nothing', async (_, args) => {
    const { socket } = await relay.connect(token)
    const valid = { id: uid('m'), name: 'getOrCreateChannel', args: { roomId: 'c:fine', uniqueId: 'fine' }, createdAt: 0 }
    socket.send({ type: 'mutate', mutations: [valid, { id: uid('m'), name: 'chatTarget', args, createdAt: 0 }] })
    expect(await errorCode(socket)).toBe('validation')
    await socket.ping()
    expect(socket.frames.filter((f) => f.type === 'ack')).toEqual([])
    const sync = await relay.http('GET', '/v1/sync', undefined, token)
    expect(sync.body.rooms).toEqual([])
  })

  it('answers ping with pong and queries with results', async () => {
    const { socket } = await relay.connect(token)
    await socket.ping()
    socket.send({ type: 'query', id: 1, query: { name: 'getRoomById', args: { roomId: 'g:missing' } } })
    expect(await socket.next((f) => f.type === 'result')).toMatchObject({ id: 1, ok: false, error: { code: 'not_found' } })
  })

  it('rate-limits a socket that floods frames, answering rate_limited', async () => {
    const { socket } = await relay.connect(token)
    for (let i = 0; i < 600; i++) socket.send({ type: 'ping' })
    const f = await socket.next((x) => x.type === 'error')
    expect(f).toMatchObject({ error: { code: 'rate_limited', retryAfterMs: expect.any(Number) } })
  })
})
