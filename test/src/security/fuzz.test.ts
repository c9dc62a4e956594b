/**
 * CI-sized fuzz run (~2,000 cases, seeded; the seed is printed, and FUZZ_SEED=<n> replays it): socket
 * frames, HTTP requests and y-websocket messages (Yjs updates, state vectors, awareness)
 * against a running relay: every case is answered with a known error code (or a legitimate
 * success), the relay never crashes nor answers `internal`, its state is unchanged, and its heap
 * does not grow across the run. `test/bench/fuzz-long.ts` runs the same for ≥100,000 cases.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { defer } from '../harness.js'
import { fuzzRelay, heapAfterGc, startFuzzTarget } from './fuzz-lib.js'

const CASES = 2_000

it(`survives ${CASES} random and mutated frames, bodies, methods, paths, query strings and Yjs updates, state and heap unchanged`, async () => {
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31
  console.log(`[fuzz] seed ${seed} (replay: FUZZ_SEED=${seed})`)
  const dir = await mkdtemp(join(tmpdir(), 'parlor-fuzz-'))
  defer(() => rm(dir, { recursive: true, force: true }))
  const target = await startFuzzTarget(dir)
  defer(() => target.close())
  const start = heapAfterGc()
  const report = await fuzzRelay(target, { seed, numRuns: CASES, checkpoints: 4 })
  const heap = report.heap.map((h) => h.mib.toFixed(1)).join(' → ')
  console.log(`[fuzz] ${report.cases} cases in ${report.ms} ms (${Math.round(report.cases / (report.ms / 1000))}/s); heap after GC ${start.toFixed(1)} → ${heap} MiB`)
  expect(report.cases).toBe(CASES)
  // Generous: the heap of the whole test process must not keep growing. The baseline is the first
  // checkpoint: fast-check's arbitraries take ~80 MiB once, on their first use (measured: sampling
  // 50 cases without sending any grows the heap as much; running them adds under 1 MiB).
  const first = report.heap[0]!.mib
  const last = report.heap.at(-1)!.mib
  expect(last - first, `heap grew from ${first.toFixed(1)} to ${last.toFixed(1)} MiB`).toBeLessThan(24)
  // Still serving.
  expect((await fetch(`${target.url}/healthz`)).status).toBe(200)
}, 60_000)
