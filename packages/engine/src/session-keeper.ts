import { PROTOCOL_VERSION, ParlorError, isParlorError, isUserId, type UpFrame, type UserProfile } from '@parlor/protocol'
import type { Logger } from './core/logger.js'
import { requestSession, revokeSession } from './net/session.js'
import type { RelayLink } from './relay-link.js'
import { ALL_TABLES, type ParlorDb } from './store/db.js'
import type { CursorRow, SessionRow } from './store/rows.js'

export interface SessionKeeperDeps {
  db: ParlorDb
  urls: readonly string[]
  fetchFn: typeof fetch
  logger: Logger
  /** The relay link (made after the keeper, which builds its hello frames). */
  link(): RelayLink
}

/**
 * Who is signed in, and their token: sign-in (with or without a round trip), resume, logout, the
 * hello frame and token refreshes. The token and a hash of the key persist in the database; the key
 * itself only in memory, to get a new token when the old one expires.
 */
export class SessionKeeper {
  private session: SessionRow | undefined
  private credentials: { userId: string; userKey: string } | undefined

  constructor(private readonly d: SessionKeeperDeps) {}

  /** The signed-in user, if any. */
  get user(): UserProfile | undefined {
    return this.session?.user
  }

  get expiresAt(): number | undefined {
    return this.session?.expiresAt
  }

  me(): UserProfile {
    if (!this.session) throw new ParlorError('unauthorized', 'call setUser first')
    return this.session.user
  }

  /** The relay refused the token: the next hello must get a new one. */
  rejected(): void {
    if (this.session) this.session = { ...this.session, expiresAt: 0 }
  }

  /**
   * Signs in: registers the user on first use, else logs in. Offline, restores the last session
   * stored locally for the same user. Errors: `validation`, `unauthorized`, `offline` (first
   * sign-in of this user on this device needs the relay).
   */
  async signIn(userId: string, userKey: string, username?: string, avatarURL?: string): Promise<UserProfile> {
    if (!isUserId(userId)) throw new ParlorError('validation', 'a user id is 1–128 characters of A–Z a–z 0–9 . _ @ + -')
    if (typeof userKey !== 'string' || userKey.length === 0) throw new ParlorError('validation', 'userKey must be a non-empty string')
    const stored = (await this.d.db.meta.get('session')) as SessionRow | undefined
    const keyCheck = await checkOf(userId, userKey)
    this.credentials = { userId, userKey }
    const isSameUser = stored?.user.userId === userId && (stored.keyCheck === undefined || stored.keyCheck === keyCheck)
    const changesProfile = (username !== undefined && username !== stored?.user.username) || (avatarURL !== undefined && avatarURL !== stored?.user.avatarUrl)
    let session: SessionRow
    if (stored && isSameUser && stored.keyCheck === keyCheck && !changesProfile && stored.expiresAt > Date.now() + 60_000) {
      // Signed in on this device before with this key and the token is still good: no round trip,
      // so an app opens on its cached rooms at once (the socket connects in the background).
      session = stored
    } else {
      try {
        const res = await requestSession(this.d.urls, { userId, userKey, ...(username !== undefined && { username }), ...(avatarURL !== undefined && { avatarUrl: avatarURL }) }, this.d.fetchFn)
        session = { key: 'session', user: res.user, token: res.token, expiresAt: res.expiresAt, keyCheck }
      } catch (e) {
        if (!isParlorError(e, 'offline') || !stored || !isSameUser) throw e
        session = stored
      }
    }
    if (stored && stored.user.userId !== userId) await this.clearLocalData()
    await this.d.db.transaction('rw', this.d.db.meta, this.d.db.users, async () => {
      await this.d.db.meta.put(session)
      await this.d.db.users.put(session.user)
    })
    await this.start(session)
    return session.user
  }

  /**
   * Restores the session last stored on this device without the user key (an app reopening), or
   * resolves undefined when there is none. When its token has expired, sign in with `setUser`.
   */
  async resume(): Promise<UserProfile | undefined> {
    const stored = (await this.d.db.meta.get('session')) as SessionRow | undefined
    if (!stored) return undefined
    await this.start(stored)
    return stored.user
  }

  private async start(session: SessionRow): Promise<void> {
    const switching = this.session !== undefined && this.session.user.userId !== session.user.userId
    this.session = session
    if (switching) await this.d.link().restart()
    else this.d.link().start()
    await this.d.link().refreshStatus()
  }

  /**
   * Signs out: revokes the session on the relay (its sockets close), takes the engine offline and
   * clears the local database, queued mutations included. Offline, the local data is cleared all the
   * same and `revoked` is false (the token stays valid on the relay until it expires).
   * Call `setUser` to sign in again.
   */
  async logout(): Promise<{ revoked: boolean }> {
    const token = this.session?.token
    // Offline first, so the relay closing the revoked socket does not make the engine sign in again.
    await this.d.link().pause()
    this.session = undefined
    this.credentials = undefined
    let revoked = token === undefined
    if (token !== undefined) {
      try {
        await revokeSession(this.d.urls, token, this.d.fetchFn)
        revoked = true
      } catch (e) {
        // A token the relay no longer accepts has nothing left to revoke.
        if (isParlorError(e, 'unauthorized') || isParlorError(e, 'token_expired')) revoked = true
        else this.d.logger.warn('logout could not reach the relay; the token stays valid until it expires', { error: String(e) })
      }
    }
    await this.clearLocalData()
    await this.d.link().refreshStatus()
    return { revoked }
  }

  /** A new token for the signed-in user (used to refresh the socket's before it expires). */
  async freshToken(): Promise<string | undefined> {
    if (!this.credentials || !this.session) return undefined
    const userId = this.session.user.userId
    const res = await requestSession(this.d.urls, this.credentials, this.d.fetchFn)
    if (!this.session || this.session.user.userId !== userId || res.user.userId !== userId) return undefined
    this.session = { ...this.session, user: res.user, token: res.token, expiresAt: res.expiresAt }
    await this.d.db.meta.put(this.session)
    return res.token
  }

  private async clearLocalData(): Promise<void> {
    await this.d.db.transaction('rw', ALL_TABLES.map((t) => this.d.db.table(t)), async () => {
      for (const t of ALL_TABLES) await this.d.db.table(t).clear()
    })
  }

  async hello(): Promise<UpFrame | undefined> {
    if (!this.session) return undefined
    if (this.session.expiresAt <= Date.now() + 60_000) {
      // Without the key (resume()), an expired session stays offline until setUser.
      if (!this.credentials) return undefined
      const res = await requestSession(this.d.urls, this.credentials, this.d.fetchFn)
      this.session = { ...this.session, user: res.user, token: res.token, expiresAt: res.expiresAt }
      await this.d.db.meta.put(this.session)
    }
    const row = (await this.d.db.meta.get('cursor')) as CursorRow | undefined
    const hello: UpFrame = { type: 'hello', protocolVersion: PROTOCOL_VERSION, token: this.session.token, cursor: row?.cursor ?? 0 }
    if (row?.epoch !== undefined) hello.epoch = row.epoch
    return hello
  }
}

/** Hex SHA-256 of a user id and key (WebCrypto, in browsers and Node alike). */
async function checkOf(userId: string, userKey: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(`parlor:${userId}:${userKey}`))
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')
}
