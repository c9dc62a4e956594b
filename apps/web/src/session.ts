import { createEngine, type Engine, type UserProfile } from '@parlor/engine'

/** What the sign-in form asks for, kept on this device so the app opens signed in (also offline). */
export interface Credentials {
  userId: string
  userKey: string
  username: string
}

const SAVED_KEY = 'parlor:credentials'

/**
 * The relay this app talks to: the origin that served it (parlor-relay serves the built app), or
 * `?relay=http://host:port` to point at another one.
 */
export function relayUrl(): string {
  return new URLSearchParams(location.search).get('relay') ?? location.origin
}

/**
 * The credentials of the last sign-in on this device. The engine needs the key again at every
 * start: online it logs in with it, offline it restores the stored session for the same user id.
 */
export function savedCredentials(): Credentials | undefined {
  try {
    const v = JSON.parse(localStorage.getItem(SAVED_KEY) ?? 'null') as Partial<Credentials> | null
    if (v && typeof v.userId === 'string' && typeof v.userKey === 'string') return { userId: v.userId, userKey: v.userKey, username: v.username ?? '' }
  } catch {
    // unreadable: treat as signed out
  }
  return undefined
}

export function forgetCredentials(): void {
  localStorage.removeItem(SAVED_KEY)
}

/**
 * Creates an engine on this user's own IndexedDB database (`parlor:<userId>`, so two people on one
 * browser keep separate caches) and signs in. Throws the engine's ParlorError on refusal.
 */
export async function openSession(c: Credentials): Promise<{ engine: Engine; me: UserProfile }> {
  const engine = createEngine({ relayUrl: relayUrl(), dbName: `parlor:${c.userId}` })
  try {
    const me = await engine.setUser(c.userId, c.userKey, c.username || undefined)
    localStorage.setItem(SAVED_KEY, JSON.stringify(c))
    return { engine, me }
  } catch (e) {
    await engine.close().catch(() => undefined)
    throw e
  }
}
