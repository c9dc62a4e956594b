import { describe, expect, it } from 'vitest'
import { CLOSE_CODES, LIMITS, UP_FRAME_TYPES, decodeDownFrame, decodeUpFrame, isParlorError, retryAfterFromReason } from './index.js'

describe('auth frames, close codes and limits', () => {
  it('lists every up frame type', () => {
    expect([...UP_FRAME_TYPES].sort()).toEqual(['auth', 'hello', 'mutate', 'ping', 'query'])
  })

  it('accepts auth { token } strictly and its authed answers', () => {
    expect(decodeUpFrame(JSON.stringify({ type: 'auth', token: 't.s' }))).toEqual({ type: 'auth', token: 't.s' })
    for (const bad of [{ type: 'auth' }, { type: 'auth', token: '' }, { type: 'auth', token: 't', userId: 'x' }, { type: 'auth', token: 'x'.repeat(4097) }]) {
      let err: unknown
      try {
        decodeUpFrame(JSON.stringify(bad))
      } catch (e) {
        err = e
      }
      expect(isParlorError(err, 'validation'), JSON.stringify(bad).slice(0, 80)).toBe(true)
    }
    expect(decodeDownFrame('{"type":"authed","ok":true,"userId":"a","expiresAt":5}')).toMatchObject({ ok: true, expiresAt: 5 })
    expect(decodeDownFrame('{"type":"authed","ok":false,"error":{"code":"forbidden","message":"m"}}')).toMatchObject({ ok: false })
  })

  it('reads retryAfterMs from a rateLimited close reason', () => {
    expect(retryAfterFromReason('too many frames; retryAfterMs=1000')).toBe(1000)
    expect(retryAfterFromReason('no number here')).toBeUndefined()
    expect(CLOSE_CODES.rateLimited).toBe(4029)
    expect(new Set(Object.values(CLOSE_CODES)).size).toBe(Object.values(CLOSE_CODES).length)
  })

  it('keeps every limit a positive integer', () => {
    for (const [name, value] of Object.entries(LIMITS)) expect(Number.isInteger(value) && value > 0, name).toBe(true)
  })
})
