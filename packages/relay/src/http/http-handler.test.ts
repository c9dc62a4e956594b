import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { LIMITS } from '@parlor/protocol'
import { mintToken } from '../auth.js'
import { startRelay, tempDir, uid, type TestRelay } from '../testing/relay-fixture.js'

let relay: TestRelay
const SECRET = 'http-test-secret'
beforeAll(async () => {
  relay = await startRelay({ secret: SECRET })
})

const mutation = (args: unknown = { roomId: 's:a:b', userId: 'b' }): Record<string, unknown> => ({ id: uid('m'), name: 'chatTarget', args, createdAt: 1 })

describe('GET /healthz', () => {
  it('answers ok without a token', async () => {
    const res = await relay.http('GET', '/healthz')
    expect(res).toMatchObject({ status: 200, body: { ok: true } })
  })
})

describe('POST /v1/session', () => {
  it('registers on first use with the user id as default username, then signs in with the same key', async () => {
    const id = uid()
    const first = await relay.http('POST', '/v1/session', { userId: id, userKey: 'k1' })
    expect(first.status).toBe(200)
    expect(first.body.user).toEqual({ userId: id, username: id, avatarUrl: '' })
    expect(first.body.expiresAt).toBeGreaterThan(Date.now() + 6 * 24 * 3600_000)
    const again = await relay.http('POST', '/v1/session', { userId: id, userKey: 'k1' })
    expect(again.status).toBe(200)
    expect(typeof again.body.token).toBe('string')
  })

  it('refuses a wrong key as unauthorized and changes nothing', async () => {
    const id = uid()
    await relay.signIn(id, { username: 'Before' })
    const res = await relay.http('POST', '/v1/session', { userId: id, userKey: 'wrong', username: 'Hacked' })
    expect(res).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } })
    expect((await relay.signIn(id)).user.username).toBe('Before')
  })

  it('updates username and avatar when given', async () => {
    const id = uid()
    await relay.signIn(id, { username: 'Ann' })
    const s = await relay.signIn(id, { username: 'Annie', avatarUrl: 'https://x/a.png' })
    expect(s.user).toEqual({ userId: id, username: 'Annie', avatarUrl: 'https://x/a.png' })
    expect((await relay.signIn(id)).user.username).toBe('Annie')
  })

  it('registers a user once when two first sessions race', async () => {
    const id = uid()
    const [a, b] = await Promise.all([
      relay.http('POST', '/v1/session', { userId: id, userKey: 'same' }),
      relay.http('POST', '/v1/session', { userId: id, userKey: 'same' }),
    ])
    expect([a.status, b.status]).toEqual([200, 200])
  })

  it.each([
    ['malformed JSON', '{"userId": ', 'bad_frame'],
    ['an empty body', '', 'bad_frame'],
    ['a JSON array', '[]', 'validation'],
    ['a wrong type', { userId: 42, userKey: 'k' }, 'validation'],
    ['an invalid user id', { userId: 'a:b', userKey: 'k' }, 'validation'],
    ['an unknown field', { userId: 'ok', userKey: 'k', admin: true }, 'validation'],
    ['a missing key', { userId: 'ok' }, 'validation'],
  ])('answers %s with %s', async (_, body, code) => {
    const res = await relay.http('POST', '/v1/session', body)
    expect(res.status).toBe(400)
    expect(res.body.error.code).toBe(code)
  })
})

describe('authentication of API routes', () => {
  const routes: Array<[string, string, unknown]> = [
    ['POST', '/v1/mutations', { mutations: [mutation()] }],
    ['POST', '/v1/query', { name: 'getRoomById', args: { roomId: 's:a:b' } }],
    ['GET', '/v1/sync?cursor=0', undefined],
  ]

  it.each(routes)('%s %s needs a valid token', async (method, path, body) => {
    const alice = await relay.signIn(uid())
    const expired = mintToken({ secret: SECRET, userId: alice.user.userId, ttlMs: -1 })
    const forged = mintToken({ secret: 'not-the-secret', userId: alice.user.userId })
    const ghost = mintToken({ secret: SECRET, userId: uid('ghost') })
    expect((await relay.http(method, path, body)).body.error.code).toBe('unauthorized')
    expect((await relay.http(method, path, body, forged)).body.error.code).toBe('unauthorized')
    expect((await relay.http(method, path, body, ghost)).body.error.code).toBe('unauthorized')
    const exp = await relay.http(method, path, body, expired)
    expect(exp).toMatchObject({ status: 401, body: { error: { code: 'token_expired' } } })
    const bad = await relay.http(method, path, body, 'x', { authorization: 'Basic abc' })
    expect(bad.status).toBe(401)
    expect((await relay.http(method, path, body, alice.token)).status).not.toBe(401)
  })
})

describe('bad input', () => {
  let token: string
  beforeAll(async () => {
    token = (await relay.signIn(uid())).token
  })

  it.each([
    ['/v1/mutations', '{"mutations": [', 'bad_frame'],
    ['/v1/mutations', { mutations: 'nope' }, 'validation'],
    ['/v1/mutations', { mutations: [] }, 'validation'],
    ['/v1/mutations', { mutations: [mutation()], extra: 1 }, 'validation'],
    ['/v1/mutations', { mutations: [{ name: 'chatTarget' }] }, 'validation'],
    ['/v1/mutations', { mutations: Array.from({ length: LIMITS.maxMutationsPerFrame + 1 }, () => mutation()) }, 'validation'],
    ['/v1/query', '{', 'bad_frame'],
    ['/v1/query', { name: 'dropTables', args: {} }, 'validation'],
    ['/v1/query', { name: 'getRoomById', args: { roomId: 7 } }, 'validation'],
    ['/v1/query', { name: 'getRoomById', args: { roomId: 's:a:b', more: 1 } }, 'validation'],
    ['/v1/query', { name: 'loadComments', args: { roomId: 's:a:b', limit: LIMITS.maxCommentsLimit + 1 } }, 'validation'],
  ])('POST %s %j answers %s', async (path, body, code) => {
    const res = await relay.http('POST', path, body, token)
    expect(res.status).toBe(400)
    expect(res.body.error.code).toBe(code)
  })

  it.each([
    ['invalid arguments', [mutation({ roomId: 42 })]],
    ['an unknown mutation name', [{ ...mutation(), name: 'dropRoom' }]],
    ['a valid mutation followed by an invalid one', [mutation(), mutation({ roomId: 's:a:b' })]],
    ['a reserved option key', [{ ...mutation(), name: 'updateRoom', args: JSON.parse('{"roomId":"g:x","options":{"__proto__":"x"}}') }]],
  ])('refuses a body with %s as a whole, applying nothing', async (_, mutations) => {
    const res = await relay.http('POST', '/v1/mutations', { mutations }, token)
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'validation' } } })
    expect((await relay.http('GET', '/v1/sync?cursor=0', undefined, token)).body.rooms).toEqual([])
  })

  it.each(['/v1/session', '/v1/mutations', '/v1/query'])('answers a body over the limit on %s with 413', async (path) => {
    const big = JSON.stringify({ junk: 'x'.repeat(LIMITS.maxFrameBytes) })
    const res = await relay.http('POST', path, big, token)
    expect(res).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } })
    // The relay is still fine.
    expect((await relay.http('GET', '/healthz')).status).toBe(200)
  })

  it('answers a bad sync cursor with validation', async () => {
    for (const cursor of ['-1', 'abc', '1.5', '', '99999999999999999999']) {
      const res = await relay.http('GET', `/v1/sync?cursor=${cursor}`, undefined, token)
      expect(res.body.error.code).toBe('validation')
    }
  })

  it('answers unknown routes with 404 and wrong methods with 405', async () => {
    expect(await relay.http('GET', '/v1/nope', undefined, token)).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } })
    expect((await relay.http('GET', '/elsewhere')).status).toBe(404)
    const wrong = await relay.http('GET', '/v1/mutations', undefined, token)
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toBe('POST')
    expect((await relay.http('DELETE', '/healthz')).status).toBe(405)
    expect((await relay.http('GET', '/v1/socket')).status).toBe(400)
  })

  it('answers CORS preflight requests', async () => {
    const res = await relay.http('OPTIONS', '/v1/mutations')
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-headers')).toContain('authorization')
  })
})

describe('GET /v1/sync', () => {
  it('answers a sync frame since the cursor', async () => {
    const [a, b, c] = await relay.users(3)
    await relay.ok(b!.token, 'chatTarget', { roomId: singleId(b!.id, c!.id), userId: c!.id })
    const full = await relay.http('GET', '/v1/sync', undefined, a!.token)
    expect(full.body).toMatchObject({ type: 'sync', userId: a!.id, isFull: true, rooms: [] })
    await relay.ok(a!.token, 'chatTarget', { roomId: singleId(a!.id, b!.id), userId: b!.id })
    const after = await relay.http('GET', `/v1/sync?cursor=${full.body.cursor}`, undefined, a!.token)
    expect(after.body.isFull).toBe(false)
    expect(after.body.rooms.map((r: { id: string }) => r.id)).toEqual([singleId(a!.id, b!.id)])
    const none = await relay.http('GET', `/v1/sync?cursor=${after.body.cursor}`, undefined, a!.token)
    expect(none.body.rooms).toEqual([])
  })
})

describe('static files', () => {
  it('serves staticDir for non-API GET requests, with an index.html fallback, never outside the dir', async () => {
    const dir = await tempDir()
    await mkdir(join(dir, 'assets'))
    await writeFile(join(dir, 'index.html'), '<h1>app</h1>')
    await writeFile(join(dir, 'assets', 'app.js'), 'console.log(1)')
    const r = await startRelay({ staticDir: dir })
    const index = await r.http('GET', '/')
    expect(index.status).toBe(200)
    expect(index.headers.get('content-type')).toContain('text/html')
    expect(index.body).toBe('<h1>app</h1>')
    expect((await r.http('GET', '/assets/app.js')).headers.get('content-type')).toContain('javascript')
    expect((await r.http('GET', '/rooms/abc')).body).toBe('<h1>app</h1>')
    expect((await r.http('GET', '/missing.png')).status).toBe(404)
    expect((await r.http('GET', '/..%2f..%2f..%2fetc%2fpasswd')).status).toBe(404)
    expect((await r.http('GET', '/%2e%2e/%2e%2e/etc/passwd')).body).toBe('<h1>app</h1>')
    expect((await r.http('GET', '/v1/unknown')).status).toBe(404)
    expect((await r.http('GET', '/healthz')).body).toEqual({ ok: true })
  })
})

function singleId(a: string, b: string): string {
  return a < b ? `s:${a}:${b}` : `s:${b}:${a}`
}
