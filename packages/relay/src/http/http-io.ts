/** Reading bounded JSON bodies and writing JSON answers and errors. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ERROR_CODES, LIMITS, ParlorError, parseJson } from '@parlor/protocol'
import { rejectProtoKeys } from '../core/input-guard.js'

/** Headers that let a web app on another origin call the API with a bearer token (no cookies). */
export const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'authorization, content-type',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-max-age': '600',
}

/**
 * Reads the request body as JSON, at most `LIMITS.maxBodyBytes` bytes; throws `payload_too_large`
 * (checked on Content-Length first, then while reading) or `bad_frame` for malformed JSON.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number = LIMITS.maxBodyBytes): Promise<unknown> {
  const tooLarge = () => new ParlorError('payload_too_large', `request body larger than ${maxBytes} bytes`)
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume()
    throw tooLarge()
  }
  // Listeners rather than `for await`, which would destroy the socket on an early exit and leave
  // no way to answer 413.
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size <= maxBytes) return void chunks.push(chunk)
      // Discard the rest so the client can read the answer; the connection is closed after it.
      req.off('data', onData)
      req.resume()
      reject(tooLarge())
    }
    req.on('data', onData)
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
  const size = body.length
  if (size === 0) throw new ParlorError('bad_frame', 'the request body is empty; expected JSON')
  const value = parseJson(body.toString('utf8'), maxBytes)
  rejectProtoKeys(value)
  return value
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end()
  const text = JSON.stringify(body)
  res.writeHead(status, {
    ...CORS_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  })
  res.end(text)
}

/** `{ error: { code, message } }` with the code's HTTP status unless `status` overrides it. */
export function sendError(res: ServerResponse, err: ParlorError, status?: number, headers: Record<string, string> = {}): void {
  const extra = err.code === 'payload_too_large' ? { connection: 'close', ...headers } : headers
  if (err.retryAfterMs !== undefined) extra['retry-after'] = String(Math.ceil(err.retryAfterMs / 1000))
  sendJson(res, status ?? ERROR_CODES[err.code].status, { error: err.toWire() }, extra)
}

/** The bearer token of a request, if any. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization
  if (!header) return undefined
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return m ? m[1] : undefined
}
