import { ParlorError, parseWith, sessionResponseSchema, type SessionRequest, type SessionResponse } from '@parlor/protocol'

/**
 * `POST /v1/session` on the first relay that answers. Network failures become `offline`; the
 * relay's refusals keep their code.
 */
export async function requestSession(
  urls: readonly string[],
  body: SessionRequest,
  fetchFn: typeof fetch,
  timeoutMs = 5000,
): Promise<SessionResponse> {
  let lastError: unknown
  for (const url of urls) {
    let res: Response
    try {
      res = await fetchFn(new URL('/v1/session', url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (e) {
      lastError = e
      continue
    }
    const json: unknown = await res.json().catch(() => undefined)
    if (!res.ok) {
      const err = (json as { error?: { code: string; message: string } } | undefined)?.error
      throw err ? ParlorError.fromWire(err) : new ParlorError('unavailable', `relay answered ${res.status}`)
    }
    return parseWith(sessionResponseSchema, json, 'session')
  }
  throw new ParlorError('offline', 'no relay could be reached', { cause: lastError })
}

/**
 * `POST /v1/logout` with `token` on the first relay that answers: revokes the session. Network
 * failures become `offline`; the relay's refusals keep their code.
 */
export async function revokeSession(urls: readonly string[], token: string, fetchFn: typeof fetch, timeoutMs = 5000): Promise<void> {
  let lastError: unknown
  for (const url of urls) {
    let res: Response
    try {
      res = await fetchFn(new URL('/v1/logout', url), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (e) {
      lastError = e
      continue
    }
    const json: unknown = await res.json().catch(() => undefined)
    if (res.ok) return
    const err = (json as { error?: { code: string; message: string } } | undefined)?.error
    throw err ? ParlorError.fromWire(err) : new ParlorError('unavailable', `relay answered ${res.status}`)
  }
  throw new ParlorError('offline', 'no relay could be reached', { cause: lastError })
}
