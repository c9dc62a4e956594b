/**
 * A relay for the security tests: the harness's `startRelay` with `createRelay` options (short
 * heartbeats, small rate limits, short token lifetimes), so limits can be tested at their edges
 * quickly. The handle fits the harness helpers (`api`, `rawSocket`, `relayView`).
 */
import { startRelay, type TestRelay, type TestRelayOptions } from '../harness.js'

export type SecurityRelayOptions = TestRelayOptions & { dataDir?: string; port?: number }

/** A real relay on 127.0.0.1 with `options`, in a fresh temp dir; stopped and removed afterwards. */
export function startRelayWith({ dataDir, port, ...options }: SecurityRelayOptions = {}): Promise<TestRelay> {
  return startRelay({ ...(dataDir !== undefined && { dataDir }), ...(port !== undefined && { port }), options })
}
