/**
 * A reconnect storm: N engines (each its own fake-indexeddb, sharing nothing but the relay) lose the
 * relay at once (SIGKILL of the relay process), it restarts on the same data and port, and they
 * reconnect with the engine's own jittered backoff. Measures the spread of reconnect times and
 * checks the relay accepted every engine without refusing a socket or logging an error.
 * Shared by `src/security/reconnect-storm.test.ts` (CI size) and `bench/reconnect-storm.ts` (500).
 */
import { performance } from 'node:perf_hooks'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import WebSocket from 'ws'
import { createEngine } from '@parlor/engine'
import { startRelayProcess, type RelayProcess } from './relay-process.js'

export interface StormReport {
  engines: number
  /** ms from the relay printing its URL to each engine being online again, sorted. */
  reconnectMs: number[]
  stats: { min: number; p50: number; p95: number; max: number; spread: number }
  /** Socket attempts made by all engines between the kill and the last one back online. */
  attempts: number
  /** Close codes other than 1006 (the kill, or a failed connect while the relay was down). */
  refusals: number[]
  /** warn/error lines the restarted relay logged. */
  relayProblems: string[]
  /** ms from the relay being up to the first and the last socket it accepted (opened). */
  acceptedMs: { first: number; last: number }
  /** Engines whose mutation after the storm was acknowledged. */
  writesAfter: number
  downMs: number
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

export async function reconnectStorm(o: { engines: number; dataDir: string; uid: (p: string) => string; log?: (s: string) => void }): Promise<StormReport> {
  const log = o.log ?? (() => {})
  let proc: RelayProcess = await startRelayProcess(o.dataDir)
  let attempts = 0
  let counting = false
  const closes: Array<{ at: number; code: number }> = []
  const opens: number[] = []
  class Watched extends WebSocket {
    constructor(url: string) {
      super(url)
      if (counting) attempts++
      this.on('close', (code) => closes.push({ at: performance.now(), code }))
      this.on('open', () => opens.push(performance.now()))
    }
  }
  const engines = Array.from({ length: o.engines }, (_, i) =>
    Object.assign(
      createEngine({ relayUrl: proc.url, dbName: o.uid(`storm-${i}`), indexedDB: new IDBFactory(), IDBKeyRange, WebSocket: Watched as never }),
      { userId: o.uid(`storm${i}`), onlineAt: 0 },
    ),
  )
  try {
    const t0 = performance.now()
    // Sign-in hashes each new key (scrypt): some at a time, so no request outlives its timeout.
    for (let i = 0; i < engines.length; i += 20) {
      await Promise.all(engines.slice(i, i + 20).map((e) => e.setUser(e.userId, `key-${e.userId}`)))
    }
    await Promise.all(engines.map((e) => e.sync()))
    log(`${engines.length} engines signed in and online in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    for (const e of engines) e.on('status', (s) => {
      if (s.online && e.onlineAt === 0) e.onlineAt = performance.now()
    })

    const killedAt = performance.now()
    counting = true
    await proc.kill('SIGKILL')
    // Every engine notices (1006) before the relay comes back, as after a crash.
    await until(() => engines.every((e) => !e.status().online), 10_000, 'engines to notice the kill')
    for (const e of engines) e.onlineAt = 0
    proc = await startRelayProcess(o.dataDir, proc.port)
    const upAt = performance.now()
    log(`relay killed and restarted; down ${(upAt - killedAt).toFixed(0)} ms`)
    await until(() => engines.every((e) => e.onlineAt > 0), 60_000, 'every engine back online')
    counting = false
    const reconnectMs = engines.map((e) => e.onlineAt - upAt).sort((a, b) => a - b)
    const stats = {
      min: reconnectMs[0]!,
      p50: quantile(reconnectMs, 0.5),
      p95: quantile(reconnectMs, 0.95),
      max: reconnectMs.at(-1)!,
      spread: reconnectMs.at(-1)! - reconnectMs[0]!,
    }

    // The relay serves every engine afterwards: one write each, acknowledged.
    await Promise.all(engines.map((e) => e.createGroupRoom('after the storm', [])))
    await Promise.all(engines.map((e) => e.sync()))
    let writesAfter = 0
    for (const e of engines) if ((await e.loadRoomList({ show_empty: true })).some((r) => r.syncState === 'synced')) writesAfter++

    const relayProblems = proc.output().split('\n').filter((l) => /"level":"(warn|error)"/.test(l))
    const accepted = opens.filter((at) => at >= upAt).map((at) => at - upAt)
    return {
      acceptedMs: { first: Math.min(...accepted), last: Math.max(...accepted) },
      engines: engines.length,
      reconnectMs,
      stats,
      attempts,
      refusals: closes.filter((c) => c.at >= upAt && c.code !== 1006).map((c) => c.code),
      relayProblems,
      writesAfter,
      downMs: upAt - killedAt,
    }
  } finally {
    await Promise.all(engines.map((e) => e.close().catch(() => {})))
    await proc.kill('SIGTERM')
  }
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

export function formatStorm(r: StormReport): string {
  const s = r.stats
  return [
    `${r.engines} engines reconnected after a relay SIGKILL (relay down ${r.downMs.toFixed(0)} ms incl. restart)`,
    `sockets accepted by the restarted relay from ${r.acceptedMs.first.toFixed(0)} ms to ${r.acceptedMs.last.toFixed(0)} ms after it was up`,
    `back online (catch-up applied) after the relay was up: min ${s.min.toFixed(0)} ms, p50 ${s.p50.toFixed(0)} ms, p95 ${s.p95.toFixed(0)} ms, max ${s.max.toFixed(0)} ms; spread ${s.spread.toFixed(0)} ms`,
    `socket attempts during the storm: ${r.attempts} (${(r.attempts / r.engines).toFixed(1)} per engine); refused sockets: ${r.refusals.length}; relay warn/error log lines: ${r.relayProblems.length}; writes acknowledged afterwards: ${r.writesAfter}/${r.engines}`,
  ].join('\n')
}
