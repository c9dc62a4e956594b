import { beforeAll, describe, expect, it } from 'vitest'
import { CLOSE_CODES, LIMITS, PROTOCOL_VERSION, groupRoomId } from '@parlor/protocol'
import { api, mutate, mutation, rawSocket, relayView, session, sharedRelay, signedIn, uid, seededRoom } from './harness.js'

const relay = sharedRelay()

const tooLarge = () => JSON.stringify({ type: 'ping', padding: 'x'.repeat(LIMITS.maxFrameBytes + 1024) })
const MESSAGE_TOO_BIG = 1009

describe('bad input on the socket', () => {
  let token: string
  let userId: string
  let roomId: string
  let before: unknown

  beforeAll(async () => {
    ;({ userId, token, roomId, before } = await seededRoom(relay()))
  })

  const validComment = () => mutation('sendComment', { roomId, uniqueId: uid('c'), text: 'must not land', type: 'text' })
  const hello = (over: Record<string, unknown> = {}) => ({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token, cursor: 0, ...over })

  describe('before or in hello', () => {
    const handshakeCases: Array<[string, () => unknown, number[]]> = [
      ['a mutate frame before hello', () => ({ type: 'mutate', mutations: [validComment()] }), [CLOSE_CODES.handshakeFailed]],
      ['a query frame before hello', () => ({ type: 'query', id: 1, query: { name: 'getRoomById', args: { roomId } } }), [CLOSE_CODES.handshakeFailed]],
      ['malformed JSON instead of hello', () => '{"type":"hello",', [CLOSE_CODES.handshakeFailed]],
      ['hello with an unknown field', () => hello({ admin: true }), [CLOSE_CODES.handshakeFailed]],
      ['hello with a wrong type', () => hello({ cursor: 'zero' }), [CLOSE_CODES.handshakeFailed]],
      ['hello without a token', () => ({ type: 'hello', protocolVersion: PROTOCOL_VERSION, cursor: 0 }), [CLOSE_CODES.handshakeFailed, CLOSE_CODES.unauthorized]],
      ['hello with a forged token', () => hello({ token: 'forged.token.value' }), [CLOSE_CODES.unauthorized]],
      ['hello with an expired token', () => hello({ token: relay().mintToken(userId, -60_000) }), [CLOSE_CODES.tokenExpired]],
      ['hello with another protocol version', () => hello({ protocolVersion: PROTOCOL_VERSION + 1 }), [CLOSE_CODES.protocolVersion]],
      ['a too large first frame', tooLarge, [CLOSE_CODES.handshakeFailed, MESSAGE_TOO_BIG]],
    ]
    for (const [what, frame, codes] of handshakeCases) {
      it(`closes with a named code on ${what}, changing nothing`, async () => {
        const sock = await rawSocket(relay())
        sock.send(frame())
        const { code } = await sock.closed
        expect(codes, `close code ${code}`).toContain(code)
        expect(sock.frames.filter((f) => f.type === 'sync' || f.type === 'ack' || f.type === 'result')).toEqual([])
        expect(await relayView(relay(), token)).toEqual(before)
      })
    }
  })

  describe('after hello', () => {
    const errorCases: Array<[string, () => unknown, string[]]> = [
      ['malformed JSON', () => '{"type": "mutate", "mutations": [', ['bad_frame']],
      ['a JSON value that is not a frame', () => '[1, 2, 3]', ['validation']],
      ['an unknown frame type', () => ({ type: 'shutdown' }), ['validation']],
      ['a second hello with an unknown field', () => hello({ extra: 1 }), ['validation']],
      ['a ping with an unknown field', () => ({ type: 'ping', extra: 1 }), ['validation']],
      ['a mutate frame with a wrong type', () => ({ type: 'mutate', mutations: 'all' }), ['validation']],
      ['an empty mutate frame', () => ({ type: 'mutate', mutations: [] }), ['validation']],
      ['a mutate frame with an unknown field', () => ({ type: 'mutate', mutations: [validComment()], force: true }), ['validation']],
      ['a mutation with an unknown field in its args', () => ({ type: 'mutate', mutations: [{ ...validComment(), args: { ...validComment().args, x: 1 } }] }), ['validation']],
      ['a mutation with an unknown name', () => ({ type: 'mutate', mutations: [{ ...validComment(), name: 'dropRoom' }] }), ['validation']],
      ['a valid mutation followed by an invalid one', () => ({ type: 'mutate', mutations: [validComment(), { ...validComment(), args: { roomId } }] }), ['validation']],
      ['too many user ids', () => ({ type: 'mutate', mutations: [mutation('addParticipants', { roomId, userIds: Array.from({ length: 101 }, (_, i) => `x${i}`) })] }), ['validation']],
      ['too many mutations', () => ({ type: 'mutate', mutations: Array.from({ length: LIMITS.maxMutationsPerFrame + 1 }, validComment) }), ['validation']],
      ['a query frame with a wrong type', () => ({ type: 'query', id: 'one', query: { name: 'getRoomById', args: { roomId } } }), ['validation']],
      ['a query frame with an unknown query', () => ({ type: 'query', id: 7, query: { name: 'dumpUsers', args: {} } }), ['validation']],
      ['a query frame with an unknown field', () => ({ type: 'query', id: 8, query: { name: 'getRoomById', args: { roomId } }, x: 1 }), ['validation']],
    ]
    for (const [what, frame, codes] of errorCases) {
      it(`answers ${what} with an error frame, keeps the socket open, changes nothing`, async () => {
        const sock = await rawSocket(relay(), token)
        sock.send(frame())
        const err = await sock.next((f) => f.type === 'error')
        expect(codes, JSON.stringify(err)).toContain(err.error?.code)
        expect(typeof err.error?.message).toBe('string')
        // Still open and serving on the same socket.
        sock.send({ type: 'ping' })
        await sock.next((f) => f.type === 'pong')
        expect(sock.frames.filter((f) => f.type === 'ack')).toEqual([])
        expect(await relayView(relay(), token)).toEqual(before)
        sock.close()
      })
    }

    it('answers a too large frame with payload_too_large (or closes with 1009), and the relay keeps serving', async () => {
      const sock = await rawSocket(relay(), token)
      sock.send(tooLarge())
      const outcome = await Promise.race([
        sock.next((f) => f.type === 'error').then((f) => ({ frame: f.error.code as string })),
        sock.closed.then((c) => ({ close: c.code })),
      ])
      if ('frame' in outcome) {
        expect(outcome.frame).toBe('payload_too_large')
        sock.send({ type: 'ping' })
        await sock.next((f) => f.type === 'pong')
      } else {
        expect(outcome.close).toBe(MESSAGE_TOO_BIG)
      }
      expect(await relayView(relay(), token)).toEqual(before)
    })

    it('bounds the frame rate of one socket (rate_limited or close 4029) without disturbing other sockets', async () => {
      const flooder = await rawSocket(relay(), token)
      const bystander = await rawSocket(relay(), token)
      for (let i = 0; i < 2_000 && flooder.ws.readyState === flooder.ws.OPEN; i++) flooder.send({ type: 'ping' })
      const outcome = await Promise.race([
        flooder.next((f) => f.type === 'error').then((f) => ({ frame: f.error as { code: string; retryAfterMs?: number } })),
        flooder.closed.then((c) => ({ close: c.code })),
      ])
      if ('frame' in outcome) {
        expect(outcome.frame.code).toBe('rate_limited')
        expect(outcome.frame.retryAfterMs).toBeGreaterThan(0)
      } else {
        expect(outcome.close).toBe(CLOSE_CODES.rateLimited)
      }
      bystander.send({ type: 'ping' })
      await bystander.next((f) => f.type === 'pong')
      expect(await relayView(relay(), token)).toEqual(before)
    })

    it('answers a query for a room the user is not in with a forbidden result, tagged with its id', async () => {
      const strangerToken = await session(relay(), uid('stranger'))
      const sock = await rawSocket(relay(), strangerToken)
      sock.send({ type: 'query', id: 41, query: { name: 'getRoomById', args: { roomId } } })
      const res = await sock.next((f) => f.type === 'result' && f.id === 41)
      expect(res).toMatchObject({ ok: false, error: { code: 'forbidden' } })
      sock.send({ type: 'mutate', mutations: [validComment()] })
      const ack = await sock.next((f) => f.type === 'ack')
      expect(ack.results[0]).toMatchObject({ ok: false, error: { code: 'forbidden' } })
      expect(await relayView(relay(), token)).toEqual(before)
    })

    it('does not deliver live changes of a room to a socket of a user outside it', async () => {
      const strangerToken = await session(relay(), uid('stranger'))
      const spy = await rawSocket(relay(), strangerToken)
      const member = await rawSocket(relay(), token)
      const m = mutation('sendComment', { roomId, uniqueId: uid('c'), text: 'members only', type: 'text' })
      member.send({ type: 'mutate', mutations: [m] })
      await member.next((f) => f.type === 'ack')
      await member.next((f) => f.type === 'change' && f.roomId === roomId)
      // A round trip on the spy's socket after the change was published: anything for it would be queued before the pong.
      spy.send({ type: 'ping' })
      await spy.next((f) => f.type === 'pong')
      expect(JSON.stringify(spy.frames)).not.toContain('members only')
      before = await relayView(relay(), token)
    })
  })

  it('keeps serving afterwards: a fresh socket syncs and an engine works', async () => {
    const sock = await rawSocket(relay(), token)
    const sync = sock.frames.find((f) => f.type === 'sync')
    expect(sync.rooms.map((r: { id: string }) => r.id)).toContain(roomId)
    expect((await api(relay(), '/healthz')).status).toBe(200)
    const engine = await signedIn(relay(), uid('after'))
    const room = await engine.createGroupRoom('Alive', [])
    await engine.sync()
    const [r] = await engine.getRoomsInfo({ room_ids: [room.id] })
    expect(r?.syncState).toBe('synced')
  })
})
