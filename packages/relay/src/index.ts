/**
 * `@parlor/relay`: the Parlor relay as a library. The storage contract suite (which imports vitest)
 * is a separate entry: `@parlor/relay/storage-contract`.
 */

/** Starts a relay; see {@link RelayOptions}. Raises nothing at request time: errors become answers. */
export { createRelay, defaultRelayOptions, type Relay, type RelayOptions } from './create-relay.js'

/** Mints a session token with the relay's secret, for apps with their own authentication. */
export { mintToken } from './auth.js'

/** Every HTTP route and websocket endpoint the relay serves, with who may call it. */
export { relayRoutes, API_ROUTES, OPS_ROUTES, UPGRADE_ROUTES, type RouteInfo, type RouteAuth } from './http/http-routes.js'

/** The logger seam (`debug/info/warn/error/child`) and its no-op default. */
export { noopLogger, type Logger } from './logger.js'

/** The storage seam, for other adapters (PostgreSQL) and the contract suite. */
export type { RelayStorage, StorageReader, StorageTx, UserRow, MembershipRow, OptionsUpdateRow, RoomAfter } from './storage/relay-storage.js'

/** The default SQLite storage (WAL, migrated on open). */
export { createSqliteStorage, type SqliteStorageOptions } from './storage/sqlite.js'

/** The fan-out seam and its in-process default. */
export type { Fanout, RelayChange, ChangeHandler } from './fanout/fanout.js'
export { createInProcessFanout } from './fanout/in-process.js'

/** PostgreSQL storage, for several relay processes on one database (`databaseUrl`). */
export { createPostgresStorage, type PostgresStorage, type PostgresStorageOptions } from './storage/postgres.js'

/** Redis fan-out between relay processes (`redisUrl`): changes in seq order, gaps read from storage. */
export { createRedisFanout, type RedisFanout, type RedisFanoutOptions, type FanoutObserver } from './fanout/redis-fanout.js'
