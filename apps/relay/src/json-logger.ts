/**
 * The CLI's log sink: one JSON object per line (`{"time","level","msg",...context}`), written through
 * an injected `write` so that only main.ts touches stdout. Structurally it is the relay's `Logger`.
 */
import { LOG_LEVELS, type LogLevel } from './config.js'

/** Fields added to a log entry; `object` so any interface (not only index-signature types) fits. */
export type LogContext = object

export interface JsonLogger {
  debug(msg: string, ctx?: LogContext): void
  info(msg: string, ctx?: LogContext): void
  warn(msg: string, ctx?: LogContext): void
  error(msg: string, ctx?: LogContext): void
  child(ctx: LogContext): JsonLogger
}

export interface JsonLoggerOptions {
  /** Least severe level written. */
  level: LogLevel
  /** Receives one complete line, newline included. */
  write: (line: string) => void
  /** Clock, injectable for tests. */
  now?: () => Date
  /** Context merged into every entry. */
  context?: LogContext
}

/**
 * Creates a JSON-lines logger. Errors in the context become `{ name, message, code?, stack }`, and
 * values JSON cannot hold (bigint, cycles) are replaced instead of throwing, so logging never fails.
 * @example createJsonLogger({ level: 'info', write: (l) => process.stdout.write(l) }).info('up', { port })
 */
export function createJsonLogger(options: JsonLoggerOptions): JsonLogger {
  const min = LOG_LEVELS.indexOf(options.level)
  const now = options.now ?? (() => new Date())
  const base = options.context ?? {}
  const emit = (level: LogLevel) => (msg: string, ctx?: LogContext) => {
    if (LOG_LEVELS.indexOf(level) < min) return
    const entry = { time: now().toISOString(), level, msg, ...base, ...ctx }
    options.write(safeStringify(entry) + '\n')
  }
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (ctx) => createJsonLogger({ ...options, now, context: { ...base, ...ctx } }),
  }
}

function safeStringify(value: unknown): string {
  const seen = new WeakSet<object>()
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString()
    if (typeof v !== 'object' || v === null) return v
    // Marks repeats as well as true cycles: a log line never needs the same object twice.
    if (seen.has(v)) return '[Circular]'
    seen.add(v)
    if (v instanceof Error) {
      const { code, cause } = v as { code?: unknown; cause?: unknown }
      return {
        name: v.name,
        message: v.message,
        ...(code !== undefined ? { code } : {}),
        stack: v.stack,
        ...(cause !== undefined ? { cause } : {}),
      }
    }
    return v
  })
}
