import type { z } from 'zod'
import { ParlorError } from './errors.js'
import { downFrameSchema, upFrameSchema, type DownFrame, type UpFrame } from './frames.js'
import { LIMITS } from './limits.js'

/**
 * The protocol version spoken on the socket. History:
 * 1 — JSON frames; hello `epoch` and chunked `sync` (`more`) are optional additions within it;
 *     `auth`/`authed` (token refresh on an open socket) likewise; so are options documents (the
 *     `updateOptions` mutation, `change.optionsUpdate`, `room.optionsState`).
 */
export const PROTOCOL_VERSION = 1

/** Websocket close codes the relay uses, by name. */
export const CLOSE_CODES = {
  /** Relay shutting down or draining: reconnect (maybe to another node). */
  goingAway: 1001,
  /** The hello frame was missing, malformed or late. */
  handshakeFailed: 4000,
  /** Token missing, forged or for an unknown user. */
  unauthorized: 4001,
  /** Token expired: get a new one (setUser) and reconnect. */
  tokenExpired: 4002,
  /** Protocol versions differ: the app must update. */
  protocolVersion: 4003,
  /** The user has `LIMITS.maxSocketsPerUser` sockets open already: retry later with backoff. */
  tooManySockets: 4004,
  /**
   * y-websocket endpoint (codes 4400–4499 tell y-websocket clients not to reconnect): the token in
   * `?token=` is missing, forged, expired or revoked.
   */
  refusedToken: 4401,
  /** y-websocket endpoint: signed in, but not allowed to open (or to write) this room's options document. */
  forbidden: 4403,
  /** y-websocket endpoint: the room does not exist. */
  notFound: 4404,
  /** y-websocket endpoint: the relay refused an update (the reason says why); its document is unchanged. */
  invalidUpdate: 4422,
  /** Too many frames per second: reconnect after the reason's retryAfterMs (`retryAfterMs=N`). */
  rateLimited: 4029,
} as const

/** The wait a `CLOSE_CODES.rateLimited` close reason asks for (`…retryAfterMs=N…`), if it names one. */
export function retryAfterFromReason(reason: string): number | undefined {
  const m = /retryAfterMs=(\d{1,9})/.exec(reason)
  return m ? Number(m[1]) : undefined
}

/**
 * Parses `input` with `schema`, turning a failure into a `validation` ParlorError whose message names
 * the first offending field. The one place validation errors are worded.
 */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, what = 'input'): z.infer<S> {
  const r = schema.safeParse(input)
  if (r.success) return r.data
  const issue = r.error.issues[0]
  const path = issue && issue.path.length > 0 ? issue.path.join('.') : what
  throw new ParlorError('validation', `${path}: ${issue?.message ?? 'invalid'}`, { cause: r.error })
}

/** Parses JSON text of at most `maxBytes`, as `payload_too_large` / `bad_frame` errors. */
export function parseJson(text: string, maxBytes: number = LIMITS.maxFrameBytes): unknown {
  if (text.length > maxBytes) throw new ParlorError('payload_too_large', `frame larger than ${maxBytes} bytes`)
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new ParlorError('bad_frame', 'frame is not valid JSON', { cause: e })
  }
}

export function encodeFrame(frame: UpFrame | DownFrame): string {
  return JSON.stringify(frame)
}

/** Decodes and validates a frame from an engine; throws ParlorError, never anything else. */
export function decodeUpFrame(text: string): UpFrame {
  return parseWith(upFrameSchema, parseJson(text), 'frame')
}

/** Decodes and validates a frame from the relay. */
export function decodeDownFrame(text: string): DownFrame {
  return parseWith(downFrameSchema, parseJson(text), 'frame')
}
