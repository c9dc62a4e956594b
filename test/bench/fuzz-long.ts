/**
 * The long fuzz run (issue 6): ≥100,000 seeded random and mutated socket frames, HTTP bodies,
 * methods, paths and query strings against one running relay (the same properties as the CI-sized
 * `src/security/fuzz.test.ts`: known error codes, no `internal`, state unchanged), printing cases/s
 * and the heap after forced GC at each checkpoint.
 * Run: `cd test && npx tsx bench/fuzz-long.ts [cases=100000] [seed]`
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fuzzRelay, heapAfterGc, startFuzzTarget } from '../src/security/fuzz-lib.js'

const CASES = Number(process.argv[2] ?? 100_000)
const SEED = Number(process.argv[3] ?? Date.now() % 2 ** 31)

const dir = await mkdtemp(join(tmpdir(), 'parlor-fuzz-long-'))
const target = await startFuzzTarget(dir)
console.log(`fuzz-long: ${CASES} cases, seed ${SEED} (replay: npx tsx bench/fuzz-long.ts ${CASES} ${SEED})`)
const startHeap = heapAfterGc()
let last = { cases: 0, at: Date.now() }
try {
  const report = await fuzzRelay(target, {
    seed: SEED,
    numRuns: CASES,
    checkpoints: 10,
    onCheckpoint: (r) => {
      const now = Date.now()
      const rate = (r.cases - last.cases) / ((now - last.at) / 1000)
      last = { cases: r.cases, at: now }
      const h = r.heap.at(-1)!
      console.log(`  ${String(r.cases).padStart(7)} cases  ${rate.toFixed(0).padStart(5)} cases/s  heap after GC ${h.mib.toFixed(1)} MiB  state unchanged`)
    },
  })
  const first = report.heap[0]!.mib
  const end = report.heap.at(-1)!.mib
  console.log(`done: ${report.cases} cases in ${(report.ms / 1000).toFixed(1)} s = ${(report.cases / (report.ms / 1000)).toFixed(0)} cases/s`)
  console.log(`heap after GC: before ${startHeap.toFixed(1)} MiB (fast-check's arbitraries add ~80 MiB on first use), first checkpoint ${first.toFixed(1)} MiB, last ${end.toFixed(1)} MiB, growth ${(end - first).toFixed(1)} MiB over ${report.cases - report.heap[0]!.cases} cases`)
  console.log('relay state after the run equals the state before it; no case crashed the relay or answered internal')
} finally {
  await target.close()
  await rm(dir, { recursive: true, force: true })
}
