import { describe, expect, it } from 'vitest'
import { CONFIG_FIELDS, ConfigError, helpText, parseConfig, type ConfigContext, type RelayConfig } from './config.js'

const ctx = (dirs: string[] = []): ConfigContext => ({
  cwd: '/srv/parlor',
  isDirectory: (p) => dirs.includes(p),
  defaultStaticDir: '/repo/apps/web/dist',
})

function config(argv: string[], env: Record<string, string> = {}, context = ctx()): RelayConfig {
  const result = parseConfig(argv, env, context)
  if (result.kind !== 'config') throw new Error('expected a config')
  return result.config
}

function parseError(argv: string[], env: Record<string, string> = {}, context = ctx()): string {
  try {
    parseConfig(argv, env, context)
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return (e as Error).message
  }
  throw new Error('expected a ConfigError')
}

describe('parseConfig', () => {
  it('uses defaults when neither flags nor env are given', () => {
    expect(config([])).toEqual({
      port: 8787,
      host: '127.0.0.1',
      dataDir: '/srv/parlor/data',
      secret: undefined,
      staticDir: undefined,
      logLevel: 'info',
    })
  })

  it('serves apps/web/dist by default only when it exists', () => {
    expect(config([], {}, ctx(['/repo/apps/web/dist'])).staticDir).toBe('/repo/apps/web/dist')
  })

  it('reads every PARLOR_* variable', () => {
    const env = {
      PARLOR_PORT: '9000',
      PARLOR_HOST: '0.0.0.0',
      PARLOR_DATA: 'var/db',
      PARLOR_SECRET: 's3cret',
      PARLOR_STATIC: '/www',
      PARLOR_LOG_LEVEL: 'debug',
    }
    expect(config([], env, ctx(['/www']))).toEqual({
      port: 9000,
      host: '0.0.0.0',
      dataDir: '/srv/parlor/var/db',
      secret: 's3cret',
      staticDir: '/www',
      logLevel: 'debug',
    })
  })

  it('lets flags beat env and env beat defaults', () => {
    const env = { PARLOR_PORT: '9000', PARLOR_HOST: '0.0.0.0', PARLOR_LOG_LEVEL: 'warn' }
    const c = config(['--port', '9100', '--log-level=error'], env)
    expect(c.port).toBe(9100)
    expect(c.logLevel).toBe('error')
    expect(c.host).toBe('0.0.0.0')
    expect(c.dataDir).toBe('/srv/parlor/data')
  })

  it('accepts --flag value and --flag=value, and keeps the last of a repeated flag', () => {
    expect(config(['--data', '/abs/dir', '--secret=a=b']).dataDir).toBe('/abs/dir')
    expect(config(['--secret=a=b']).secret).toBe('a=b')
    expect(config(['--port', '1', '--port', '2']).port).toBe(2)
  })

  it('accepts port 0 (pick a free port)', () => {
    expect(config(['--port', '0']).port).toBe(0)
  })

  it('treats an empty env variable as unset', () => {
    expect(config([], { PARLOR_PORT: '', PARLOR_SECRET: '' })).toMatchObject({ port: 8787, secret: undefined })
  })

  it('returns the help text for --help and -h, even beside other flags', () => {
    expect(parseConfig(['--port', '1', '--help'], {}, ctx())).toEqual({ kind: 'help', text: helpText() })
    expect(parseConfig(['-h'], {}, ctx()).kind).toBe('help')
  })

  it.each([
    [['--port', 'abc'], '--port must be an integer 0-65535'],
    [['--port', '65536'], '--port must be an integer 0-65535'],
    [['--port', '-1'], '--port must be an integer 0-65535'],
    [['--port', '80.5'], '--port must be an integer 0-65535'],
    [['--port'], '--port needs a value'],
    [['--port', '--host', 'x'], '--port needs a value'],
    [['--log-level', 'verbose'], '--log-level must be one of debug, info, warn, error'],
    [['--static', '/nope'], '--static is not a directory: /nope'],
    [['--secret='], '--secret must not be empty'],
    [['--host', ''], '--host must be a host name or IP address'],
    [['--nope', '1'], 'unknown flag --nope'],
    [['serve'], 'unexpected argument "serve"'],
  ])('rejects %j', (argv, message) => {
    expect(parseError(argv)).toContain(message)
  })

  it('names the variable when an env value is bad', () => {
    expect(parseError([], { PARLOR_PORT: 'http' })).toContain('PARLOR_PORT must be an integer')
    expect(parseError([], { PARLOR_LOG_LEVEL: 'loud' })).toContain('PARLOR_LOG_LEVEL must be one of')
  })

  it('does not consult a bad env value that a flag overrides', () => {
    expect(config(['--port', '1'], { PARLOR_PORT: 'bad' }).port).toBe(1)
  })
})

describe('helpText', () => {
  it('lists every flag with its env variable and description', () => {
    const text = helpText()
    for (const f of CONFIG_FIELDS) {
      expect(text).toContain(f.flag)
      expect(text).toContain(f.env)
      expect(text).toContain(f.description)
    }
    expect(text).toContain('--help')
  })
})

describe('scale-out settings', () => {
  it('reads --database-url and --redis-url, or PARLOR_DATABASE_URL and PARLOR_REDIS_URL', () => {
    const flags = config(['--database-url', 'postgres://p:secret@db:5432/parlor', '--redis-url=redis://cache:6379'])
    expect(flags).toMatchObject({ databaseUrl: 'postgres://p:secret@db:5432/parlor', redisUrl: 'redis://cache:6379' })
    const env = config([], { PARLOR_DATABASE_URL: 'postgresql://db/parlor', PARLOR_REDIS_URL: 'rediss://cache' })
    expect(env).toMatchObject({ databaseUrl: 'postgresql://db/parlor', redisUrl: 'rediss://cache' })
    expect(config([])).toMatchObject({ databaseUrl: undefined, redisUrl: undefined })
  })

  it('accepts a database without Redis (one process on PostgreSQL)', () => {
    expect(config(['--database-url', 'postgres://db/parlor']).redisUrl).toBeUndefined()
  })

  it.each([
    [['--database-url', 'mysql://db'], '--database-url must be a postgres:// URL'],
    [['--database-url', 'not a url'], '--database-url must be a postgres:// URL'],
    [['--database-url', 'postgres://db', '--redis-url', 'http://cache'], '--redis-url must be a redis:// URL'],
    [['--redis-url', 'redis://cache'], '--redis-url needs --database-url'],
  ])('rejects %j', (argv, message) => {
    expect(parseError(argv)).toContain(message)
  })

  it('never repeats a password from a bad URL', () => {
    expect(parseError(['--database-url', 'mysql://me:hunter2@db'])).not.toContain('hunter2')
  })
})
