/**
 * Browser benchmark (issue 5), printed, not CI-timed: cold start of the web app in Chromium to its
 * first rendered room list, with 1,000 and then 10,000 rooms cached in the real IndexedDB.
 *
 * A cold start is a page reload: a new JavaScript realm loads the app (from the service worker's
 * cache), creates the engine, signs in and renders the first page of the room list (50 rooms).
 * Times are from navigation start to the app's performance marks `parlor:app-start` (the bundle
 * runs), `parlor:signed-in` (engine created, `setUser` resolved) and `parlor:room-list-rendered`. Measured online (sign-in asks the relay) and offline (sign-in
 * restores the stored session; everything else is local).
 *
 * Run: `cd test && npx tsx bench/web-cold-start.ts [runs=10]`
 */
import { PEER, USER, ms, openBench, stats, type Bench } from './web-bench-lib.js'

const RUNS = Number(process.argv[2] ?? 15)
const WARMUPS = 3
const TARGET_MS = 150

async function coldStarts(b: Bench, runs: number) {
  const started: number[] = []
  const signedIn: number[] = []
  const listed: number[] = []
  let rooms = 0
  for (let i = 0; i < runs + WARMUPS; i++) {
    await b.page.reload()
    await b.page.waitForFunction(() => performance.getEntriesByName('parlor:room-list-rendered').length > 0)
    const m = await b.page.evaluate(() => {
      const list = performance.getEntriesByName('parlor:room-list-rendered')[0] as PerformanceMark
      return {
        started: performance.getEntriesByName('parlor:app-start')[0]!.startTime,
        signedIn: performance.getEntriesByName('parlor:signed-in')[0]!.startTime, listed: list.startTime, rooms: (list.detail as { rooms: number }).rooms }
    })
    if (i < WARMUPS) continue // the HTTP and service-worker caches, the OS file cache, V8's code cache
    started.push(m.started)
    signedIn.push(m.signedIn)
    listed.push(m.listed)
    rooms = m.rooms
  }
  return { started: stats(started), signedIn: stats(signedIn), listed: stats(listed), rooms }
}

const b = await openBench()
try {
  console.log(`web cold start: Chromium, relay ${b.url}, user ${USER} (rooms with ${PEER}), ${RUNS} runs per row after ${WARMUPS} warm-ups; medians (p95)`)
  let seeded = 0
  for (const target of [1_000, 10_000]) {
    await b.page.goto('about:blank') // seed with the app closed: the rooms arrive by catch-up sync
    const seedMs = await b.seed(seeded, target)
    seeded = target
    await b.page.goto('/')
    const syncMs = await b.caughtUp(target)
    console.log(`\n${target} rooms cached (seeded in ${ms(seedMs)}, catch-up into IndexedDB ${ms(syncMs)})`)
    for (const offline of [false, true]) {
      await b.context.setOffline(offline)
      const r = await coldStarts(b, RUNS)
      const verdict = target === 10_000 ? (r.listed.median <= TARGET_MS ? `  ≤ ${TARGET_MS} ms target: met` : `  ≤ ${TARGET_MS} ms target: missed`) : ''
      const at = (s: { median: number; p95: number }) => `${ms(s.median)} (${ms(s.p95)})`
      console.log(
        `  ${offline ? 'offline' : 'online '}: app start ${at(r.started)}, signed in ${at(r.signedIn)}, ` +
          `room list of ${r.rooms} rendered ${at(r.listed)}${verdict}`,
      )
    }
    await b.context.setOffline(false)
  }
} finally {
  await b.close()
}
