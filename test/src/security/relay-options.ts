/**
 * A relay for the security tests, started like the harness's `startRelay` but with `createRelay`
 * options (short heartbeats, small rate limits, short token lifetimes), so limits can be tested at
 * their edges quickly. The handle fits the harness helpers (`api`, `rawSocket`, `relayView`).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRelay, type RelayOptions } from '@parlor/relay'
import { defer, type TestRelay } from '../harness.js'

export type SecurityRelayOptions = Omit<RelayOptions, 'port' | 'host' | 'dataDir'> & { dataDir?: string; port?: number }

async function launch(dataDir: string, port: number, options: SecurityRelayOptions): Promise<TestRelay> {
  const relay = await createRelay({ ...options, port, host: '127.0.0.1', dataDir })
  let stopped: Promise<void> | undefined
  const handle: TestRelay = {
    url: relay.url,
    port: relay.port,
    wsUrl: `${relay.url.replace(/^http/, 'ws')}/v1/socket`,
    dataDir,
    relay,
    mintToken: (userId, ttlMs) => (ttlMs === undefined ? relay.mintToken(userId) : relay.mintToken(userId, ttlMs)),
    stop: () => (stopped ??= Promise.resolve(relay.close())),
    restart: async ({ samePort = true } = {}) => {
      await handle.stop()
      const next = await launch(dataDir, samePort ? relay.port : 0, options)
      defer(() => next.stop())
      return next
    },
  }
  return handle
}

/** A real relay on 127.0.0.1 with `options`, in a fresh temp dir; stopped and removed afterwards. */
export async function startRelayWith(options: SecurityRelayOptions = {}): Promise<TestRelay> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'parlor-sec-')))
  if (options.dataDir === undefined) defer(() => rm(dataDir, { recursive: true, force: true }))
  const relay = await launch(dataDir, options.port ?? 0, options)
  defer(() => relay.stop())
  return relay
}
