/**
 * The relay CLI's configuration: every setting is one row of {@link CONFIG_FIELDS}, read once from
 * command-line flags, then `PARLOR_*` environment variables, then defaults (flags beat env beat
 * defaults). Adding a setting (say `--database-url`) means adding one row and one field of
 * {@link RelayConfig}; parsing, validation and `--help` follow from the table.
 */
import { statSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** The typed result of parsing; `main.ts` turns it into `createRelay` options. */
export interface RelayConfig {
  port: number
  host: string
  dataDir: string
  secret: string | undefined
  staticDir: string | undefined
  logLevel: LogLevel
  /** PostgreSQL instead of SQLite (several relay processes on one database). */
  databaseUrl: string | undefined
  /** Redis fan-out between the relay processes of one database. */
  redisUrl: string | undefined
}

/** A flag or variable with a bad value; the CLI prints `message` and exits with code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** What parsing may consult besides argv/env, injectable so tests touch no real files. */
export interface ConfigContext {
  /** Directory that relative paths resolve against. */
  cwd: string
  /** Whether `path` is an existing directory. */
  isDirectory: (path: string) => boolean
  /** The built web app served when `--static` is not given (used only if it exists). */
  defaultStaticDir: string
}

interface FieldDef<K extends keyof RelayConfig> {
  key: K
  flag: `--${string}`
  env: `PARLOR_${string}`
  /** Placeholder shown in `--help` (`--port <n>`). */
  arg: string
  description: string
  /** Shown in `--help`; omit for no default. */
  defaultText?: string
  /** Default when neither flag nor env is set. */
  default: (ctx: ConfigContext) => RelayConfig[K]
  /** Validates one raw string; throws ConfigError (without the flag name: the caller adds it). */
  parse: (raw: string, ctx: ConfigContext) => RelayConfig[K]
}

// Keeps each row's `key` tied to the type of its default and parse result.
const field = <K extends keyof RelayConfig>(def: FieldDef<K>): FieldDef<K> => def

/** The one table of settings; order is the order `--help` prints. */
export const CONFIG_FIELDS = [
  field({
    key: 'port',
    flag: '--port',
    env: 'PARLOR_PORT',
    arg: '<n>',
    description: 'TCP port to listen on; 0 picks a free port (the printed URL shows which).',
    defaultText: '8787',
    default: () => 8787,
    parse: (raw) => {
      if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`must be an integer 0-65535, got "${raw}"`)
      const port = Number(raw.trim())
      if (port > 65535) throw new ConfigError(`must be an integer 0-65535, got "${raw}"`)
      return port
    },
  }),
  field({
    key: 'host',
    flag: '--host',
    env: 'PARLOR_HOST',
    arg: '<addr>',
    description: 'Interface to bind; 0.0.0.0 listens on every interface.',
    defaultText: '127.0.0.1',
    default: () => '127.0.0.1',
    parse: (raw) => {
      const host = raw.trim()
      if (host === '' || /\s/.test(host)) throw new ConfigError(`must be a host name or IP address, got "${raw}"`)
      return host
    },
  }),
  field({
    key: 'dataDir',
    flag: '--data',
    env: 'PARLOR_DATA',
    arg: '<dir>',
    description: 'Directory of the SQLite database (created if missing); unused with --database-url.',
    defaultText: './data',
    default: (ctx) => resolve(ctx.cwd, 'data'),
    parse: (raw, ctx) => {
      if (raw.trim() === '') throw new ConfigError('must be a directory path, got an empty string')
      return resolve(ctx.cwd, raw)
    },
  }),
  field({
    key: 'secret',
    flag: '--secret',
    env: 'PARLOR_SECRET',
    arg: '<string>',
    description:
      'Secret that signs session tokens; set it to keep sessions valid across restarts and to mint tokens from your own auth.',
    defaultText: 'chosen by the relay',
    default: () => undefined,
    parse: (raw) => {
      if (raw === '') throw new ConfigError('must not be empty')
      return raw
    },
  }),
  field({
    key: 'staticDir',
    flag: '--static',
    env: 'PARLOR_STATIC',
    arg: '<dir>',
    description: 'Directory of a built web app to serve over HTTP.',
    defaultText: 'apps/web/dist if it exists',
    default: (ctx) => (ctx.isDirectory(ctx.defaultStaticDir) ? ctx.defaultStaticDir : undefined),
    parse: (raw, ctx) => {
      if (raw.trim() === '') throw new ConfigError('must be a directory path, got an empty string')
      const dir = resolve(ctx.cwd, raw)
      if (!ctx.isDirectory(dir)) throw new ConfigError(`is not a directory: ${dir}`)
      return dir
    },
  }),
  field({
    key: 'logLevel',
    flag: '--log-level',
    env: 'PARLOR_LOG_LEVEL',
    arg: `<${LOG_LEVELS.join('|')}>`,
    description: 'Least severe level written to the JSON-lines log on stdout.',
    defaultText: 'info',
    default: () => 'info' as LogLevel,
    parse: (raw) => {
      const level = raw.trim().toLowerCase()
      if (!(LOG_LEVELS as readonly string[]).includes(level)) {
        throw new ConfigError(`must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`)
      }
      return level as LogLevel
    },
  }),
  field({
    key: 'databaseUrl',
    flag: '--database-url',
    env: 'PARLOR_DATABASE_URL',
    arg: '<postgres://…>',
    description:
      'PostgreSQL database instead of SQLite, shared by every relay process of a cluster (migrated on start; keeps the token secret unless --secret is given).',
    defaultText: 'SQLite in --data',
    default: () => undefined,
    parse: (raw) => serviceUrl(raw, ['postgres:', 'postgresql:']),
  }),
  field({
    key: 'redisUrl',
    flag: '--redis-url',
    env: 'PARLOR_REDIS_URL',
    arg: '<redis://…>',
    description: 'Redis for live fan-out between the relay processes of one database (needs --database-url).',
    defaultText: 'in-process fan-out',
    default: () => undefined,
    parse: (raw) => serviceUrl(raw, ['redis:', 'rediss:']),
  }),
] as const

/** A URL with one of `protocols` (kept as written: it may carry credentials). */
function serviceUrl(raw: string, protocols: string[]): string {
  const value = raw.trim()
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError(`must be a ${protocols[0]}// URL, got "${redact(value)}"`)
  }
  if (!protocols.includes(url.protocol)) throw new ConfigError(`must be a ${protocols[0]}// URL, got "${redact(value)}"`)
  return value
}

/** Hides a password in a URL that appears in an error message. */
const redact = (value: string) => value.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')

export type ParseResult = { kind: 'help'; text: string } | { kind: 'config'; config: RelayConfig }

/** The context of a real run: the process's cwd, the real file system, apps/web/dist. */
export function defaultConfigContext(): ConfigContext {
  return {
    cwd: process.cwd(),
    isDirectory: (path) => {
      try {
        return statSync(path).isDirectory()
      } catch {
        return false
      }
    },
    defaultStaticDir: fileURLToPath(new URL('../../web/dist', import.meta.url)),
  }
}

/**
 * Parses flags (`--port 1`, `--port=1`) and `PARLOR_*` variables once into a {@link RelayConfig}.
 * An empty environment variable counts as unset; a repeated flag keeps its last value.
 * @throws ConfigError for an unknown flag, a missing or bad value, or a positional argument.
 * @example parseConfig(['--port', '0'], { PARLOR_HOST: '0.0.0.0' }, defaultConfigContext())
 */
export function parseConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  ctx: ConfigContext,
): ParseResult {
  const byFlag = new Map<string, (typeof CONFIG_FIELDS)[number]>(CONFIG_FIELDS.map((f) => [f.flag, f]))
  const fromFlags = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--help' || arg === '-h') return { kind: 'help', text: helpText() }
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}"`)
    const eq = arg.indexOf('=')
    const flag = eq === -1 ? arg : arg.slice(0, eq)
    const def = byFlag.get(flag)
    if (!def) throw new ConfigError(`unknown flag ${flag}`)
    let value: string
    if (eq !== -1) {
      value = arg.slice(eq + 1)
    } else {
      const next = argv[i + 1]
      if (next === undefined || next.startsWith('--')) throw new ConfigError(`${flag} needs a value ${def.arg}`)
      value = next
      i++
    }
    fromFlags.set(def.key, value)
  }

  const config: Record<string, unknown> = {}
  for (const def of CONFIG_FIELDS) {
    const flagValue = fromFlags.get(def.key)
    const envValue = env[def.env]
    if (flagValue !== undefined) config[def.key] = parseField(def, flagValue, def.flag, ctx)
    else if (envValue !== undefined && envValue !== '') config[def.key] = parseField(def, envValue, def.env, ctx)
    else config[def.key] = def.default(ctx)
  }
  if (config.redisUrl !== undefined && config.databaseUrl === undefined) {
    throw new ConfigError('--redis-url needs --database-url: relay processes that share fan-out must share one PostgreSQL database')
  }
  return { kind: 'config', config: config as unknown as RelayConfig }
}

function parseField(def: (typeof CONFIG_FIELDS)[number], raw: string, source: string, ctx: ConfigContext): unknown {
  try {
    return def.parse(raw, ctx)
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${source} ${e.message}`, { cause: e })
    throw e
  }
}

/** The `--help` text, built from {@link CONFIG_FIELDS}. */
export function helpText(): string {
  const rows = CONFIG_FIELDS.map((f) => ({
    left: `${f.flag} ${f.arg}`,
    right: [f.description, `env ${f.env}${f.defaultText ? `; default ${f.defaultText}` : ''}`],
  }))
  rows.push({ left: '--help, -h', right: ['Print this help and exit.', ''] })
  const width = Math.max(...rows.map((r) => r.left.length)) + 2
  const lines = [
    'Usage: parlor-relay [options]',
    '',
    'Starts a Parlor relay: HTTP API and websocket sync, SQLite storage in --data (or PostgreSQL with',
    '--database-url; several processes on one database share live changes with --redis-url).',
    'SIGTERM/SIGINT drain it: /readyz turns 503, sockets close with 1001 (engines move to another',
    'node), writes and fan-out finish, then it exits 0.',
    'Flags beat PARLOR_* environment variables, which beat defaults.',
    '',
    'Options:',
  ]
  for (const row of rows) {
    lines.push(`  ${row.left.padEnd(width)}${row.right[0]}`)
    if (row.right[1]) lines.push(`  ${''.padEnd(width)}(${row.right[1]})`)
  }
  return lines.join('\n') + '\n'
}
