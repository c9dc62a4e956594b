/**
 * Error codes, their HTTP status and whether a failed mutation should be retried.
 * The outbox reads `retryable` to choose between retrying with backoff and rolling back.
 */
export const ERROR_CODES = {
  validation: { status: 400, retryable: false },
  bad_frame: { status: 400, retryable: false },
  unauthorized: { status: 401, retryable: false },
  token_expired: { status: 401, retryable: false },
  forbidden: { status: 403, retryable: false },
  not_found: { status: 404, retryable: false },
  unknown_user: { status: 404, retryable: false },
  unsupported_room_type: { status: 400, retryable: false },
  limit_exceeded: { status: 400, retryable: false },
  conflict: { status: 409, retryable: false },
  payload_too_large: { status: 413, retryable: false },
  protocol_version: { status: 426, retryable: false },
  rate_limited: { status: 429, retryable: true },
  offline: { status: 503, retryable: true },
  unavailable: { status: 503, retryable: true },
  timeout: { status: 504, retryable: true },
  closed: { status: 503, retryable: true },
  internal: { status: 500, retryable: true },
} as const satisfies Record<string, { status: number; retryable: boolean }>

export type ErrorCode = keyof typeof ERROR_CODES

/** The shape an error takes on the wire (frames and HTTP bodies). */
export interface WireError {
  code: ErrorCode
  message: string
  retryAfterMs?: number
}

export interface ParlorErrorOptions extends ErrorOptions {
  retryAfterMs?: number
}

/**
 * The one error class of Parlor, on both sides: a `code` from {@link ERROR_CODES}, a human message,
 * the HTTP `status` and `retryable` flag that go with the code, and the original error as `cause`.
 */
export class ParlorError extends Error {
  override readonly name = 'ParlorError'
  readonly code: ErrorCode
  readonly status: number
  readonly retryable: boolean
  readonly retryAfterMs: number | undefined

  constructor(code: ErrorCode, message: string, options: ParlorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.status = ERROR_CODES[code].status
    this.retryable = ERROR_CODES[code].retryable
    this.retryAfterMs = options.retryAfterMs
  }

  toWire(): WireError {
    return this.retryAfterMs === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, retryAfterMs: this.retryAfterMs }
  }

  /** Rebuilds an error received as data; an unknown code becomes `internal`. */
  static fromWire(e: { code: string; message: string; retryAfterMs?: number | undefined }): ParlorError {
    const code = isErrorCode(e.code) ? e.code : 'internal'
    return new ParlorError(code, e.message, e.retryAfterMs === undefined ? {} : { retryAfterMs: e.retryAfterMs })
  }
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code)
}

/** Guard for branching on errors: `isParlorError(e, 'forbidden')`. */
export function isParlorError(e: unknown, code?: ErrorCode): e is ParlorError {
  return e instanceof ParlorError && (code === undefined || e.code === code)
}

/** Any thrown value as a ParlorError (unknown errors become `internal`, kept as `cause`). */
export function toParlorError(e: unknown): ParlorError {
  if (e instanceof ParlorError) return e
  const message = e instanceof Error ? e.message : String(e)
  return new ParlorError('internal', message, { cause: e })
}
