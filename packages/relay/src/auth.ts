/**
 * User keys and session tokens.
 *
 * - User keys are stored as scrypt hashes with a per-user random salt (`scrypt$N$r$p$salt$hash`), so
 *   the cost can be raised later without invalidating stored hashes. Hashing runs on libuv's thread
 *   pool (async scrypt) and never blocks the event loop.
 * - Tokens are `base64url(payload).base64url(HMAC-SHA256(secret, payloadPart))` with payload
 *   `{ sub: userId, exp: expiresAtMs, sid: sessionId }`; signatures are compared with `timingSafeEqual`.
 *   `sid` names the session so that logout can revoke it (tokens made before sessions existed have
 *   none: their session id is derived from the payload, so they can be revoked too).
 */
import { createHash, createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { LIMITS, ParlorError, isUserId } from '@parlor/protocol'

const SCRYPT = { N: 16384, r: 8, p: 1, keyLength: 32, saltBytes: 16 } as const
/** Seven days: how long a session token is valid unless the relay is told otherwise. */
export const DEFAULT_TOKEN_TTL_MS = 7 * 24 * 60 * 60 * 1000

function scryptAsync(key: string, salt: Buffer, N: number, r: number, p: number, len: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(key, salt, len, { N, r, p, maxmem: 256 * N * r }, (err, derived) => (err ? reject(err) : resolve(derived)))
  })
}

/** Hashes a user key with a fresh random salt; the result carries its own parameters. */
export async function hashUserKey(userKey: string): Promise<string> {
  const salt = randomBytes(SCRYPT.saltBytes)
  const hash = await scryptAsync(userKey, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p, SCRYPT.keyLength)
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), hash.toString('base64url')].join('$')
}

/** Whether `userKey` matches a hash made by {@link hashUserKey} (false for a malformed hash). */
export async function verifyUserKey(userKey: string, stored: string): Promise<boolean> {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number]
  const salt = Buffer.from(parts[4] ?? '', 'base64url')
  const expected = Buffer.from(parts[5] ?? '', 'base64url')
  if (!Number.isInteger(N) || !Number.isInteger(r) || !Number.isInteger(p) || expected.length === 0) return false
  const actual = await scryptAsync(userKey, salt, N, r, p, expected.length)
  return timingSafeEqual(actual, expected)
}

function sign(secret: string, payloadPart: string): Buffer {
  return createHmac('sha256', secret).update(payloadPart).digest()
}

/** A signed token and the time it stops being valid. */
export interface IssuedToken {
  token: string
  expiresAt: number
}

/** A fresh random session id. */
export function newSessionId(): string {
  return randomBytes(12).toString('base64url')
}

/** Signs a token for `userId` valid for `ttlMs` from `now`, for session `sessionId` (a new one by default). */
export function issueToken(secret: string, userId: string, ttlMs: number, now: number = Date.now(), sessionId: string = newSessionId()): IssuedToken {
  const expiresAt = now + ttlMs
  const payloadPart = Buffer.from(JSON.stringify({ sub: userId, exp: expiresAt, sid: sessionId })).toString('base64url')
  return { token: `${payloadPart}.${sign(secret, payloadPart).toString('base64url')}`, expiresAt }
}

/**
 * Mints a session token with the relay's secret, for apps that authenticate users themselves.
 * The user must still exist on the relay (have opened a session once) for the token to be accepted.
 *
 * @param options.secret the relay's HMAC secret (the `secret` passed to `createRelay`)
 * @param options.userId the user the token signs in
 * @param options.ttlMs how long the token is valid; default 7 days
 * @returns the token, to pass as `Authorization: Bearer …` or in the socket's `hello`
 * @example
 * const token = mintToken({ secret: process.env.RELAY_SECRET!, userId: 'alice' })
 */
export function mintToken(options: { secret: string; userId: string; ttlMs?: number }): string {
  if (!isUserId(options.userId)) throw new ParlorError('validation', 'userId is not a valid user id')
  return issueToken(options.secret, options.userId, options.ttlMs ?? DEFAULT_TOKEN_TTL_MS).token
}

/** What a valid token says: who, until when, and which session (for logout). */
export interface VerifiedToken {
  userId: string
  expiresAt: number
  sessionId: string
}

/**
 * Checks a token's signature and expiry. Throws `unauthorized` (missing, malformed or forged) or
 * `token_expired`; whether the user exists and the session is not revoked is the caller's check.
 */
export function verifyToken(secret: string, token: string | undefined, now: number = Date.now()): VerifiedToken {
  if (!token) throw new ParlorError('unauthorized', 'a session token is required')
  const dot = token.indexOf('.')
  if (dot <= 0 || token.length > LIMITS.maxTokenLength) throw new ParlorError('unauthorized', 'malformed session token')
  const payloadPart = token.slice(0, dot)
  const given = Buffer.from(token.slice(dot + 1), 'base64url')
  const expected = sign(secret, payloadPart)
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new ParlorError('unauthorized', 'invalid session token')
  }
  let payload: unknown
  try {
    payload = JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8'))
  } catch {
    throw new ParlorError('unauthorized', 'malformed session token')
  }
  const { sub, exp, sid } = (payload ?? {}) as { sub?: unknown; exp?: unknown; sid?: unknown }
  if (!isUserId(sub) || typeof exp !== 'number') throw new ParlorError('unauthorized', 'malformed session token')
  if (sid !== undefined && (typeof sid !== 'string' || sid.length === 0 || sid.length > 64)) {
    throw new ParlorError('unauthorized', 'malformed session token')
  }
  if (exp <= now) throw new ParlorError('token_expired', 'the session token has expired; sign in again')
  const sessionId = sid ?? `t:${createHash('sha256').update(payloadPart).digest('base64url').slice(0, 32)}`
  return { userId: sub, expiresAt: exp, sessionId }
}
