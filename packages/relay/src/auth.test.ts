import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { isParlorError } from '@parlor/protocol'
import { hashUserKey, issueToken, mintToken, verifyToken, verifyUserKey } from './auth.js'

describe('user keys', () => {
  it('hashes with a per-user salt and verifies only the right key', async () => {
    const [a, b] = await Promise.all([hashUserKey('secret'), hashUserKey('secret')])
    expect(a).not.toBe(b)
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$/)
    expect(await verifyUserKey('secret', a)).toBe(true)
    expect(await verifyUserKey('Secret', a)).toBe(false)
    expect(await verifyUserKey('secret', 'garbage')).toBe(false)
  })
})

describe('session tokens', () => {
  const secret = 'test-secret'

  it('round-trips the user id and expiry', () => {
    const { token, expiresAt } = issueToken(secret, 'alice', 60_000, 1_000)
    expect(expiresAt).toBe(61_000)
    expect(verifyToken(secret, token, 2_000)).toEqual({ userId: 'alice', expiresAt: 61_000, sessionId: expect.any(String) })
  })

  it('names a session per token issued, reusable on purpose, and derives one for tokens without', () => {
    const a = verifyToken(secret, issueToken(secret, 'alice', 60_000, 1_000).token, 2_000)
    const b = verifyToken(secret, issueToken(secret, 'alice', 60_000, 1_000).token, 2_000)
    expect(a.sessionId).not.toBe(b.sessionId)
    expect(verifyToken(secret, issueToken(secret, 'alice', 60_000, 1_000, 'sid-1').token, 2_000).sessionId).toBe('sid-1')
    // A token made before sessions existed ({ sub, exp } only) still verifies, with a stable derived id.
    const payload = Buffer.from(JSON.stringify({ sub: 'alice', exp: 61_000 })).toString('base64url')
    const legacy = `${payload}.${createHmac('sha256', secret).update(payload).digest('base64url')}`
    const v = verifyToken(secret, legacy, 2_000)
    expect(v).toMatchObject({ userId: 'alice', expiresAt: 61_000 })
    expect(verifyToken(secret, legacy, 3_000).sessionId).toBe(v.sessionId)
  })

  it('refuses missing, malformed and forged tokens as unauthorized', () => {
    const { token } = issueToken(secret, 'alice', 60_000)
    const [payload] = token.split('.')
    const forgedPayload = Buffer.from(JSON.stringify({ sub: 'mallory', exp: Date.now() + 1e6 })).toString('base64url')
    for (const bad of [undefined, '', 'abc', '.sig', `${payload}.`, `${forgedPayload}.${token.split('.')[1]}`, token + 'x']) {
      expect(() => verifyToken(secret, bad)).toThrow(expect.objectContaining({ code: 'unauthorized' }))
    }
    expect(() => verifyToken('other-secret', token)).toThrow(expect.objectContaining({ code: 'unauthorized' }))
  })

  it('refuses an expired token as token_expired', () => {
    const { token } = issueToken(secret, 'alice', 1_000, 0)
    try {
      verifyToken(secret, token, 5_000)
      expect.unreachable()
    } catch (e) {
      expect(isParlorError(e, 'token_expired')).toBe(true)
    }
  })

  it('mintToken signs tokens the relay verifies, and refuses invalid user ids', () => {
    const token = mintToken({ secret, userId: 'bob' })
    expect(verifyToken(secret, token).userId).toBe('bob')
    expect(() => mintToken({ secret, userId: 'not:valid' })).toThrow(expect.objectContaining({ code: 'validation' }))
  })
})
