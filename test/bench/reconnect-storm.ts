/**
 * Reconnect storm (issue 6): 500 engines, each with its own fake-indexeddb and sharing nothing but
 * the relay, lose the relay at once (SIGKILL of the relay process), which restarts on the same data
 * and port; they reconnect with the engine's jittered backoff. Prints the spread of reconnect times,
 * the socket attempts, and whether the relay refused any socket or logged any error.
 * Run: `cd test && npx tsx bench/reconnect-storm.ts [engines=500]`
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatStorm, reconnectStorm } from '../src/security/storm-lib.js'

const ENGINES = Number(process.argv[2] ?? 500)
const dataDir = await mkdtemp(join(tmpdir(), 'parlor-storm-bench-'))
let n = 0
const uid = (p: string) => `${p}-${++n}${randomBytes(3).toString('hex')}`
const started = Date.now()
try {
  const report = await reconnectStorm({ engines: ENGINES, dataDir, uid, log: (s) => console.log(`  ${s}`) })
  console.log(formatStorm(report))
  const buckets = new Map<number, number>()
  for (const ms of report.reconnectMs) buckets.set(Math.floor(ms / 500) * 500, (buckets.get(Math.floor(ms / 500) * 500) ?? 0) + 1)
  console.log('reconnects per 500 ms after the relay was up:')
  for (const [at, count] of [...buckets].sort((a, b) => a[0] - b[0])) console.log(`  ${String(at).padStart(6)} ms  ${'#'.repeat(Math.ceil(count / Math.max(1, ENGINES / 100)))} ${count}`)
  const ok = report.refusals.length === 0 && report.relayProblems.length === 0 && report.writesAfter === ENGINES
  console.log(ok ? 'relay accepted every engine without errors' : `PROBLEMS: refusals ${report.refusals.join(',')}; log ${report.relayProblems.slice(0, 5).join(' | ')}`)
  console.log(`total ${((Date.now() - started) / 1000).toFixed(1)} s`)
  if (!ok) process.exitCode = 1
} finally {
  await rm(dataDir, { recursive: true, force: true })
}
