import { describe, expect, it } from 'vitest'
import {
  CLOSE_CODES,
  LIMITS,
  UP_FRAME_TYPES,
  decodeDownFrame,
  decodeUpFrame,
  isParlorError,
  parseWith,
  retryAfterFromReason,
  sessionRequestSchema,
} from './index.js'

describe('auth frames, close codes and limits', () => {
  it('lists every up frame type', () => {
    expect([...UP_FRAME_TYPES].sort()).toEqual(['auth', 'hello', 'mutate', 'ping', 'query', 'report'])
  })

  it('accepts an outbox depth in hello and in report { pending }, strictly', () => {
    const hello = { type: 'hello', protocolVersion: 1, token: 't', cursor: 0 }
    expect(decodeUpFrame(JSON.stringify({ ...hello, pending: 3 }))).toEqual({ ...hello, pending: 3 })
    expect(decodeUpFrame(JSON.stringify(hello))).toEqual(hello)
    expect(decodeUpFrame('{"type":"report","pending":0}')).toEqual({ type: 'report', pending: 0 })
    const bad = [
      { ...hello, pending: -1 },
      { ...hello, pending: 1.5 },
      { type: 'report' },
      { type: 'report', pending: -1 },
      { type: 'report', pending: 2.5 },
      { type: 'report', pending: '3' },
      { type: 'report', pending: 1e300 },
      { type: 'report', pending: 1, oldest: 5 },
    ]
    for (const frame of bad) {
      let err: unknown
      try {
        decodeUpFrame(JSON.stringify(frame))
      } catch (e) {
        err = e
      }
      expect(isParlorError(err, 'validation'), JSON.stringify(frame)).toBe(true)
    }
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

  it('refuses the NUL character in text the relay stores as it is (names, URLs, comments, profiles)', () => {
    const mutate = (name: string, args: Record<string, unknown>) =>
      JSON.stringify({ type: 'mutate', mutations: [{ id: 'm1', name, args, createdAt: 0 }] })
    const code = (f: () => unknown) => {
      try {
        f()
        return 'ok'
      } catch (e) {
        return isParlorError(e) ? e.code : String(e)
      }
    }
    const comment = (text: string) => mutate('sendComment', { roomId: 'g:r', uniqueId: 'u1', text, type: 'text' })
    expect(code(() => decodeUpFrame(comment('tabs\tand\nlines are fine')))).toBe('ok')
    expect(code(() => decodeUpFrame(comment('a\u0000b')))).toBe('validation')
    expect(code(() => decodeUpFrame(mutate('createGroupRoom', { roomId: 'g:r', name: 'x\u0000', userIds: [] })))).toBe('validation')
    expect(code(() => decodeUpFrame(mutate('updateRoom', { roomId: 'g:r', avatarUrl: 'https://a/\u0000' })))).toBe('validation')
    expect(code(() => parseWith(sessionRequestSchema, { userId: 'ann', userKey: 'k', username: 'A\u0000nn' }, 'session'))).toBe('validation')
    expect(code(() => parseWith(sessionRequestSchema, { userId: 'ann', userKey: 'k', username: 'Ann' }, 'session'))).toBe('ok')
  })

  it('takes room ids made of what user, client and channel ids are made of, and nothing else', () => {
    const read = (roomId: string) => {
      try {
        decodeUpFrame(JSON.stringify({ type: 'query', id: 1, query: { name: 'getRoomById', args: { roomId } } }))
        return 'ok'
      } catch (e) {
        return isParlorError(e) ? e.code : String(e)
      }
    }
    for (const ok of ['s:ann@x.io:bob+1', 'g:V1StGXR8_Z5jdHi6B-myT', 'c:news.daily:eu', 'g:a~b']) expect(read(ok), ok).toBe('ok')
    for (const bad of ['g:', 'x:abc', 'g:a b', 'g:a/b', 'g:a\u0000', 'g:é', 'c:a\nb']) expect(read(bad), bad).toBe('validation')
  })

  it('keeps every limit a positive integer', () => {
    for (const [name, value] of Object.entries(LIMITS)) expect(Number.isInteger(value) && value > 0, name).toBe(true)
  })
})
