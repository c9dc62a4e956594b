import { describe, expect, it } from 'vitest'
import { createJsonLogger } from './json-logger.js'

function capture(level: 'debug' | 'info' | 'warn' | 'error') {
  const lines: string[] = []
  const logger = createJsonLogger({ level, write: (l) => lines.push(l), now: () => new Date(0) })
  const entries = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>)
  return { logger, lines, entries }
}

describe('createJsonLogger', () => {
  it('writes one JSON object per line with time, level, message and context', () => {
    const { logger, lines, entries } = capture('debug')
    logger.info('listening', { port: 8787 })
    expect(lines).toEqual(['{"time":"1970-01-01T00:00:00.000Z","level":"info","msg":"listening","port":8787}\n'])
    expect(entries()[0]).toMatchObject({ level: 'info', msg: 'listening', port: 8787 })
  })

  it('drops entries below the configured level', () => {
    const { logger, entries } = capture('warn')
    logger.debug('d')
    logger.info('i')
    logger.warn('w')
    logger.error('e')
    expect(entries().map((e) => e.level)).toEqual(['warn', 'error'])
  })

  it('merges child context into every entry, call context last', () => {
    const { logger, entries } = capture('info')
    const child = logger.child({ roomId: 'r1' }).child({ userId: 'u1' })
    child.info('joined', { userId: 'u2' })
    expect(entries()[0]).toMatchObject({ msg: 'joined', roomId: 'r1', userId: 'u2' })
  })

  it('serializes errors with code and cause, and never throws on bigint or cycles', () => {
    const { logger, entries } = capture('info')
    const err = Object.assign(new Error('boom', { cause: new Error('root') }), { code: 'EADDRINUSE' })
    const cyclic: Record<string, unknown> = { n: 1n }
    cyclic.self = cyclic
    logger.error('failed', { err, cyclic })
    const entry = entries()[0]!
    expect(entry.err).toMatchObject({ name: 'Error', message: 'boom', code: 'EADDRINUSE', cause: { message: 'root' } })
    expect(entry.cyclic).toEqual({ n: '1', self: '[Circular]' })
  })
})
