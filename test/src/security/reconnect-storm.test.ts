/**
 * A CI-sized reconnect storm (50 engines; `test/bench/reconnect-storm.ts` runs 500): the relay
 * process is killed under every engine at once and restarted; all reconnect with jittered backoff,
 * none is refused, the relay logs no error, and each engine's next write is acknowledged.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { defer, uid } from '../harness.js'
import { formatStorm, reconnectStorm } from './storm-lib.js'

const ENGINES = 50

it(`reconnects ${ENGINES} engines after a relay crash, spread by their backoff, without a refusal`, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'parlor-storm-'))
  defer(() => rm(dataDir, { recursive: true, force: true }))
  const report = await reconnectStorm({ engines: ENGINES, dataDir, uid })
  console.log(`[reconnect-storm] ${formatStorm(report).replace(/\n/g, '\n[reconnect-storm] ')}`)
  expect(report.reconnectMs).toHaveLength(ENGINES)
  expect(report.refusals).toEqual([])
  expect(report.relayProblems).toEqual([])
  expect(report.writesAfter).toBe(ENGINES)
  // Backoff is capped (10 s by default): nobody waits much longer than that once the relay is up.
  expect(report.stats.max).toBeLessThan(15_000)
}, 90_000)
