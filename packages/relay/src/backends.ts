/**
 * Chooses the relay's storage, fan-out and token secret from its options:
 * - no `databaseUrl`: SQLite in `dataDir`, in-process fan-out, the secret kept in `dataDir`;
 * - `databaseUrl`: PostgreSQL; without `secret` the token secret is kept in the database, so every
 *   node of a cluster signs and accepts the same tokens (an engine moving to another node stays
 *   signed in);
 * - `redisUrl` (needs `databaseUrl`: several processes share one database): Redis fan-out on a
 *   channel named after the database's cluster id, so clusters sharing one Redis stay apart.
 */
import { ParlorError } from '@parlor/protocol'
import { createInProcessFanout } from './fanout/in-process.js'
import type { Fanout } from './fanout/fanout.js'
import { createRedisFanout, type FanoutObserver, type RedisFanout } from './fanout/redis-fanout.js'
import type { Logger } from './logger.js'
import { loadOrCreateSecret } from './relay-secret.js'
import { createPostgresStorage, randomToken, type PostgresStorage } from './storage/postgres.js'
import type { RelayStorage } from './storage/relay-storage.js'
import { createSqliteStorage } from './storage/sqlite.js'

export interface BackendOptions {
  dataDir: string
  databaseUrl?: string
  redisUrl?: string
  secret?: string
  logger: Logger
  fanoutObserver?: FanoutObserver
}

export interface Backends {
  storage: RelayStorage
  fanout: Fanout
  secret: string
  /** Set with `redisUrl`. */
  redis?: RedisFanout
  /** What `/readyz` reports about the backends; `ok` is false when the database does not answer. */
  health(): Promise<{ ok: boolean; storage: string; fanout: string }>
  /** Closes what was opened, fan-out first. */
  close(): Promise<void>
}

/** Where a URL points, without its password (for logs). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '(unparsable URL)'
  }
}

export async function openBackends(o: BackendOptions): Promise<Backends> {
  if (o.redisUrl !== undefined && o.databaseUrl === undefined) {
    throw new ParlorError('validation', 'redisUrl needs databaseUrl: relay processes that share fan-out must share one PostgreSQL database')
  }
  if (o.databaseUrl === undefined) {
    const secret = o.secret ?? (await loadOrCreateSecret(o.dataDir))
    const storage = await createSqliteStorage({ dataDir: o.dataDir })
    const fanout = createInProcessFanout({ logger: o.logger })
    return {
      storage,
      fanout,
      secret,
      health: async () => ({ ok: true, storage: 'sqlite', fanout: 'in-process' }),
      close: async () => {
        await fanout.close()
        await storage.close()
      },
    }
  }

  const pgLogger = o.logger.child({ component: 'postgres' })
  const storage: PostgresStorage = await createPostgresStorage({ url: o.databaseUrl, logger: pgLogger })
  let redis: RedisFanout | undefined
  try {
    const secret = o.secret ?? (await storage.sharedValue('token_secret', () => randomToken()))
    let fanout: Fanout
    if (o.redisUrl !== undefined) {
      const clusterId = await storage.sharedValue('cluster_id', () => randomToken(12))
      redis = await createRedisFanout({
        url: o.redisUrl,
        channel: `parlor:${clusterId}:changes`,
        currentSeq: () => storage.read((r) => r.currentSeq()),
        recover: (after, upto) => storage.changesBetween(after, upto),
        logger: o.logger.child({ component: 'fanout' }),
        ...(o.fanoutObserver ? { observe: o.fanoutObserver } : {}),
      })
      fanout = redis
    } else {
      fanout = createInProcessFanout({ logger: o.logger })
    }
    o.logger.info('storage and fan-out', {
      storage: redactUrl(o.databaseUrl),
      fanout: o.redisUrl === undefined ? 'in-process' : redactUrl(o.redisUrl),
    })
    return {
      storage,
      fanout,
      secret,
      ...(redis ? { redis } : {}),
      async health() {
        const db = await storage.ping().then(() => 'ok', (e: unknown) => `error: ${e instanceof Error ? e.message : String(e)}`)
        const fan = redis ? (redis.isConnected() ? 'redis connected' : 'redis reconnecting (changes read from the database meanwhile)') : 'in-process'
        return { ok: db === 'ok', storage: db, fanout: fan }
      },
      close: async () => {
        await fanout.close()
        await storage.close()
      },
    }
  } catch (e) {
    await redis?.close()
    await storage.close()
    throw e
  }
}
