/**
 * The parlor-relay process: parses the configuration once, starts the relay with a JSON-lines logger
 * on stdout, prints the URL it listens on, and drains gracefully on SIGINT/SIGTERM (readiness off,
 * sockets closed with goingAway so engines move to another node, writes and fan-out flushed, exit 0).
 * This is the only module of the project that writes to stdout/stderr or reads the environment.
 *
 * Exit codes: 0 after a clean shutdown or --help, 1 when startup or shutdown fails, 2 for bad flags.
 */
import { mkdirSync } from 'node:fs'
import { ConfigError, defaultConfigContext, parseConfig } from './config.js'
import { createJsonLogger } from './json-logger.js'

type RelayModule = typeof import('@parlor/relay')
type Relay = Awaited<ReturnType<RelayModule['createRelay']>>

/** How long relay.close() may take before the process gives up and exits 1. */
const SHUTDOWN_TIMEOUT_MS = 10_000

function fail(message: string, code: number): never {
  process.stderr.write(`parlor-relay: ${message}\n`)
  process.exit(code)
}

async function main(): Promise<void> {
  let parsed
  try {
    parsed = parseConfig(process.argv.slice(2), process.env, defaultConfigContext())
  } catch (e) {
    if (e instanceof ConfigError) fail(`${e.message}\nRun parlor-relay --help for the options.`, 2)
    throw e
  }
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text)
    process.exit(0)
  }
  const config = parsed.config
  const logger = createJsonLogger({ level: config.logLevel, write: (line) => process.stdout.write(line) })

  process.on('uncaughtException', (err) => {
    logger.error('uncaught exception', { err })
    process.exit(1)
  })
  process.on('unhandledRejection', (err) => {
    logger.error('unhandled rejection', { err })
    process.exit(1)
  })

  // A signal may arrive while the relay is still starting: remember it and stop once it is up.
  let relay: Relay | undefined
  let stopSignal: NodeJS.Signals | undefined
  const shutdown = (r: Relay, signal: NodeJS.Signals) => {
    logger.info('shutting down', { signal })
    setTimeout(() => {
      logger.error('shutdown timed out', { timeoutMs: SHUTDOWN_TIMEOUT_MS })
      process.exit(1)
    }, SHUTDOWN_TIMEOUT_MS).unref()
    r.close().then(
      () => {
        logger.info('stopped')
        process.exit(0)
      },
      (err: unknown) => {
        logger.error('close failed', { err })
        process.exit(1)
      },
    )
  }
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopSignal) {
      logger.warn('second signal during shutdown, exiting now', { signal })
      process.exit(1)
    }
    stopSignal = signal
    if (relay) shutdown(relay, signal)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  logger.info('starting', {
    port: config.port,
    host: config.host,
    dataDir: config.dataDir,
    staticDir: config.staticDir ?? null,
    hasSecret: config.secret !== undefined,
    storage: config.databaseUrl === undefined ? 'sqlite' : 'postgres',
    fanout: config.redisUrl === undefined ? 'in-process' : 'redis',
  })
  try {
    // Imported here so that --help and bad flags answer without loading the relay and SQLite.
    const { createRelay } = await import('@parlor/relay')
    // With --database-url nothing is kept in --data (the token secret lives in the database).
    if (config.databaseUrl === undefined) mkdirSync(config.dataDir, { recursive: true })
    relay = await createRelay({
      port: config.port,
      host: config.host,
      dataDir: config.dataDir,
      ...(config.secret !== undefined ? { secret: config.secret } : {}),
      ...(config.staticDir !== undefined ? { staticDir: config.staticDir } : {}),
      ...(config.databaseUrl !== undefined ? { databaseUrl: config.databaseUrl } : {}),
      ...(config.redisUrl !== undefined ? { redisUrl: config.redisUrl } : {}),
      logger,
    })
  } catch (err) {
    logger.error('failed to start', { err })
    fail(`failed to start: ${err instanceof Error ? err.message : String(err)}`, 1)
  }
  // Plain line, not JSON (the relay logs its own "relay listening" entry): people and the CLI test look for it.
  process.stdout.write(`parlor-relay listening on ${relay.url}\n`)
  if (stopSignal) shutdown(relay, stopSignal)
}

await main()
