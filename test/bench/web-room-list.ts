/**
 * Browser benchmark (issue 5), printed, not CI-timed: `engine.loadRoomList({ limit: 100 })` in
 * Chromium over 10,000 rooms cached in the real IndexedDB, against the floor: a plain IndexedDB
 * cursor reading the same 100 rows from the engine's own index, newest first.
 *
 * Run: `cd test && npx tsx bench/web-room-list.ts [rooms=10000] [runs=50]`
 */
import { ms, openBench, stats, type PageHelpers } from './web-bench-lib.js'

const ROOMS = Number(process.argv[2] ?? 10_000)
const RUNS = Number(process.argv[3] ?? 50)

const b = await openBench()
try {
  await b.page.goto('about:blank')
  const seedMs = await b.seed(0, ROOMS)
  await b.page.goto('/')
  const syncMs = await b.caughtUp(ROOMS)
  console.log(`web loadRoomList: Chromium, ${ROOMS} rooms cached (seeded in ${ms(seedMs)}, catch-up into IndexedDB ${ms(syncMs)}), ${RUNS} runs after 5 warm-ups`)
  const times = await b.page.evaluate(async (runs) => {
    const w = window as unknown as PageHelpers
    const engine = w.parlor.engine
    const db = await w.rawOpen()
    const engineMs: number[] = []
    const rawMs: number[] = []
    for (let i = 0; i < runs + 5; i++) {
      let t = performance.now()
      const page = await engine.loadRoomList({ limit: 100 })
      const e = performance.now() - t
      t = performance.now()
      const raw = await w.rawRoomPage(db, 100)
      const r = performance.now() - t
      if (page.length !== 100 || raw.length !== 100) throw new Error(`expected 100 rooms, got ${page.length} / ${raw.length}`)
      if (i >= 5) {
        engineMs.push(e)
        rawMs.push(r)
      }
    }
    db.close()
    return { engineMs, rawMs }
  }, RUNS)
  const e = stats(times.engineMs)
  const r = stats(times.rawMs)
  console.log(`  engine.loadRoomList({ limit: 100 }): median ${ms(e.median)}, p95 ${ms(e.p95)}, min ${ms(e.min)}, max ${ms(e.max)}`)
  console.log(`  raw IndexedDB cursor, same 100 rows: median ${ms(r.median)}, p95 ${ms(r.p95)}, min ${ms(r.min)}, max ${ms(r.max)}`)
  console.log(`  engine / floor (medians): ${(e.median / r.median).toFixed(1)}×`)
} finally {
  await b.close()
}
