import { beforeAll, describe, expect, it } from 'vitest'
import { ERROR_CODES, LIMITS, groupRoomId } from '@parlor/protocol'
import { api, type HttpAnswer, mutate, mutation, query, relayView, session, sharedRelay, signedIn, uid, seededRoom } from './harness.js'

const relay = sharedRelay()

function expectError(res: HttpAnswer, code: keyof typeof ERROR_CODES, what: string): void {
  expect({ status: res.status, code: res.body?.error?.code }, `${what}: ${res.text.slice(0, 300)}`).toEqual({
    status: ERROR_CODES[code].status,
    code,
  })
  expect(typeof res.body.error.message, what).toBe('string')
  expect(res.body.error.message.length, what).toBeGreaterThan(0)
}

const tooLarge = () => JSON.stringify({ padding: 'x'.repeat(LIMITS.maxFrameBytes + 1024) })

describe('bad input over HTTP', () => {
  let token: string
  let userId: string
  let roomId: string
  let before: unknown

  beforeAll(async () => {
    ;({ userId, token, roomId, before } = await seededRoom(relay()))
  })

  const validComment = () => mutation('sendComment', { roomId, uniqueId: uid('c'), text: 'must not land', type: 'text' })

  it('POST /v1/session: malformed JSON, wrong types, unknown fields, bad ids, too large → error codes, no user made', async () => {
    const who = uid('newcomer')
    const cases: Array<[string, unknown, keyof typeof ERROR_CODES]> = [
      ['malformed JSON', '{"userId": "x", ', 'bad_frame'],
      ['not an object', '[1,2,3]', 'validation'],
      ['wrong types', { userId: 42, userKey: 'k' }, 'validation'],
      ['missing key', { userId: who }, 'validation'],
      ['unknown field', { userId: who, userKey: 'first-key', isAdmin: true }, 'validation'],
      ['user id with a colon', { userId: 'a:b', userKey: 'k' }, 'validation'],
      ['user id too long', { userId: 'u'.repeat(129), userKey: 'k' }, 'validation'],
      ['username too long', { userId: who, userKey: 'first-key', username: 'n'.repeat(LIMITS.maxUsernameLength + 1) }, 'validation'],
      ['too large', tooLarge(), 'payload_too_large'],
    ]
    for (const [what, body, code] of cases) expectError(await api(relay(), '/v1/session', body), code, what)
    // None of them registered the user: a new key is accepted as a first registration.
    const res = await api(relay(), '/v1/session', { userId: who, userKey: 'second-key' })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ token: expect.any(String), expiresAt: expect.any(Number), user: { userId: who } })
  })

  it('POST /v1/session: a wrong key for an existing user is unauthorized', async () => {
    expectError(await api(relay(), '/v1/session', { userId, userKey: 'wrong' }), 'unauthorized', 'wrong key')
  })

  it('POST /v1/mutations: missing or forged token → unauthorized', async () => {
    const body = { mutations: [validComment()] }
    expectError(await api(relay(), '/v1/mutations', body), 'unauthorized', 'no token')
    expectError(await api(relay(), '/v1/mutations', body, 'forged.token.value'), 'unauthorized', 'forged token')
    expectError(await api(relay(), '/v1/mutations', body, tamper(token)), 'unauthorized', 'tampered token')
    expectError(
      await api(relay(), '/v1/mutations', body, undefined, { headers: { authorization: `Basic ${token}` } }),
      'unauthorized',
      'wrong scheme',
    )
    expect(await relayView(relay(), token)).toEqual(before)
  })

  it('POST /v1/mutations: malformed JSON, wrong types, unknown fields, too many, too large → error codes, nothing applied', async () => {
    const cases: Array<[string, unknown, keyof typeof ERROR_CODES]> = [
      ['malformed JSON', '{"mutations": [', 'bad_frame'],
      ['not an object', '"mutations"', 'validation'],
      ['wrong type', { mutations: 'all of them' }, 'validation'],
      ['empty batch', { mutations: [] }, 'validation'],
      ['unknown top-level field', { mutations: [validComment()], dryRun: true }, 'validation'],
      ['unknown mutation name', { mutations: [{ ...validComment(), name: 'dropDatabase' }] }, 'validation'],
      ['unknown field in args', { mutations: [{ ...validComment(), args: { ...validComment().args, evil: 1 } }] }, 'validation'],
      ['unknown field in envelope', { mutations: [{ ...validComment(), priority: 1 }] }, 'validation'],
      ['wrong type in args', { mutations: [{ ...validComment(), args: { ...validComment().args, text: 7 } }] }, 'validation'],
      ['bad mutation id', { mutations: [{ ...validComment(), id: 'has space' }] }, 'validation'],
      ['valid then invalid', { mutations: [validComment(), { ...validComment(), args: { roomId } }] }, 'validation'],
      ['too many user ids', { mutations: [mutation('addParticipants', { roomId, userIds: Array.from({ length: 101 }, (_, i) => `x${i}`) })] }, 'validation'],
      ['too many mutations', { mutations: Array.from({ length: LIMITS.maxMutationsPerFrame + 1 }, validComment) }, 'validation'],
      ['too large', tooLarge(), 'payload_too_large'],
    ]
    for (const [what, body, code] of cases) expectError(await api(relay(), '/v1/mutations', body, token), code, what)
    expect(await relayView(relay(), token)).toEqual(before)
  })

  it('POST /v1/mutations: option keys or values past their limits are refused, nothing applied', async () => {
    const bad = [
      mutation('updateRoom', { roomId, options: { ['k'.repeat(LIMITS.maxOptionKeyBytes + 1)]: 'v' } }),
      mutation('updateRoom', { roomId, options: { big: 'v'.repeat(LIMITS.maxOptionValueBytes + 1) } }),
      mutation('updateRoom', { roomId, options: JSON.parse('{"__proto__":"x"}') }),
    ]
    for (const m of bad) {
      const res = await api(relay(), '/v1/mutations', { mutations: [m] }, token)
      // Refused either as a whole body or as that mutation's result.
      const code = res.status === 200 ? res.body.results[0]?.error?.code : res.body?.error?.code
      expect(['validation', 'limit_exceeded'], res.text.slice(0, 300)).toContain(code)
      if (res.status === 200) expect(res.body.results[0].ok).toBe(false)
    }
    expect(await relayView(relay(), token)).toEqual(before)
  })

  it('POST /v1/query: missing or forged token, malformed JSON, wrong types, unknown fields, too large → error codes', async () => {
    const q = { name: 'getRoomById', args: { roomId } }
    expectError(await api(relay(), '/v1/query', q), 'unauthorized', 'no token')
    expectError(await api(relay(), '/v1/query', q, tamper(token)), 'unauthorized', 'tampered token')
    const cases: Array<[string, unknown, keyof typeof ERROR_CODES]> = [
      ['malformed JSON', '{"name":', 'bad_frame'],
      ['unknown query', { name: 'listAllUsers', args: {} }, 'validation'],
      ['wrong type', { name: 'getRoomById', args: { roomId: 5 } }, 'validation'],
      ['not a room id', { name: 'getRoomById', args: { roomId: 'x' } }, 'validation'],
      ['unknown field', { ...q, extra: true }, 'validation'],
      ['unknown arg', { name: 'getRoomById', args: { roomId, deep: true } }, 'validation'],
      ['limit past the bound', { name: 'loadComments', args: { roomId, limit: LIMITS.maxCommentsLimit + 1 } }, 'validation'],
      ['page 0', { name: 'getParticipants', args: { roomUniqueId: roomId, page: 0, limit: 10 } }, 'validation'],
      ['too large', tooLarge(), 'payload_too_large'],
    ]
    for (const [what, body, code] of cases) expectError(await api(relay(), '/v1/query', body, token), code, what)
    const ok = await query(relay(), token, q)
    expect(ok.status).toBe(200)
    expect(ok.body.room.id).toBe(roomId)
  })

  it('POST /v1/query: a room the user is not in is forbidden, a room that does not exist is not_found or forbidden', async () => {
    const stranger = await session(relay(), uid('stranger'))
    expectError(await query(relay(), stranger, { name: 'getRoomById', args: { roomId } }), 'forbidden', 'not a member')
    expectError(await query(relay(), stranger, { name: 'loadComments', args: { roomId, limit: 5 } }), 'forbidden', 'comments')
    expectError(
      await query(relay(), stranger, { name: 'getParticipants', args: { roomUniqueId: roomId, page: 1, limit: 5 } }),
      'forbidden',
      'participants',
    )
    const missing = await query(relay(), stranger, { name: 'getRoomById', args: { roomId: groupRoomId(uid('nope')) } })
    expect(['not_found', 'forbidden']).toContain(missing.body?.error?.code)
  })

  it('refuses an expired token with token_expired on every authenticated route', async () => {
    const expired = relay().mintToken(userId, -60_000)
    expectError(await api(relay(), '/v1/mutations', { mutations: [validComment()] }, expired), 'token_expired', 'mutations')
    expectError(await api(relay(), '/v1/query', { name: 'getRoomById', args: { roomId } }, expired), 'token_expired', 'query')
    expectError(await api(relay(), '/v1/sync?cursor=0', undefined, expired), 'token_expired', 'sync')
    expect(await relayView(relay(), token)).toEqual(before)
  })

  it('GET /v1/sync: missing or forged token, bad cursors → error codes', async () => {
    expectError(await api(relay(), '/v1/sync?cursor=0'), 'unauthorized', 'no token')
    expectError(await api(relay(), '/v1/sync?cursor=0', undefined, 'nonsense'), 'unauthorized', 'forged token')
    for (const cursor of ['abc', '-1', '1.5', '']) {
      expectError(await api(relay(), `/v1/sync?cursor=${cursor}`, undefined, token), 'validation', `cursor "${cursor}"`)
    }
  })

  it('answers unknown routes with not_found and wrong methods with an error code', async () => {
    expectError(await api(relay(), '/v1/nothing-here', { a: 1 }, token), 'not_found', 'unknown route')
    const wrongMethod = await api(relay(), '/v1/mutations', undefined, token)
    expect(wrongMethod.status).toBeGreaterThanOrEqual(400)
    expect(wrongMethod.status).toBeLessThan(500)
    expect(Object.keys(ERROR_CODES)).toContain(wrongMethod.body?.error?.code)
  })

  it('keeps serving afterwards: health, sessions, mutations and engines all work, state unchanged', async () => {
    expect(await relayView(relay(), token)).toEqual(before)
    const health = await api(relay(), '/healthz')
    expect(health.status).toBe(200)
    expect(health.body).toMatchObject({ ok: true })
    const engine = await signedIn(relay(), uid('after'))
    const room = await engine.createGroupRoom('Still alive', [])
    await engine.sendComment(room.id, 'yes')
    await engine.sync()
    const [r] = await engine.getRoomsInfo({ room_ids: [room.id] })
    expect(r?.syncState).toBe('synced')
  })
})

/** A real token with one significant character of its signature (after the last dot) changed. */
function tamper(token: string): string {
  const at = token.lastIndexOf('.') + 2
  const c = token[at]
  return token.slice(0, at) + (c === 'A' ? 'g' : 'A') + token.slice(at + 1)
}
