/**
 * Browser benchmark (issue 3), printed, not CI-timed: replay of mutations queued offline by the
 * web app's engine in Chromium (real IndexedDB), from `connect()` until the outbox is empty and the
 * cache holds the relay's results, against the baseline of the same page sending the same kind of
 * mutation one HTTP request each (`fetch`, awaited one after another). `rounds` of each; medians,
 * min–max and the ratio of the medians printed. The relay runs in its own process, as deployed.
 *
 * Run: `cd test && npx tsx bench/web-replay.ts [mutations=1000] [rounds=5]`
 */
import { PEER, ms, openBench, stats } from './web-bench-lib.js'

const MUTATIONS = Number(process.argv[2] ?? 1_000)
const ROUNDS = Number(process.argv[3] ?? 5)

// One round in the page, as source text (tsx would add helpers the page lacks to a function).
const IN_PAGE = `async ({ n, round, peer }) => {
  const { engine } = window.parlor
  const room = await engine.createGroupRoom('Replay ' + round, [peer])
  await engine.sync()
  await engine.disconnect()
  for (let i = 0; i < n; i++) await engine.sendComment(room.id, 'queued ' + i)
  let t = performance.now()
  engine.connect()
  await engine.sync()
  const replay = performance.now() - t
  const [newest] = await engine.loadComments(room.id, { limit: 1 })
  if (newest?.text !== 'queued ' + (n - 1) || (await engine.pendingMutations()).length !== 0) throw new Error('replay did not land')

  // Baseline: the same page, one HTTP request per mutation, each awaited.
  const { userId, userKey } = JSON.parse(localStorage.getItem('parlor:credentials'))
  const post = async (path, body, token) => {
    const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: 'Bearer ' + token } : {}) }, body: JSON.stringify(body) })
    if (!res.ok) throw new Error(path + ': ' + res.status)
    return res.json()
  }
  const { token } = await post('/v1/session', { userId, userKey })
  const target = await engine.createGroupRoom('Baseline ' + round, [peer])
  await engine.sync()
  // The engine is offline meanwhile, so the page does nothing but these requests.
  await engine.disconnect()
  t = performance.now()
  for (let i = 0; i < n; i++) {
    const id = 'baseline-' + round + '-' + i + '-' + Math.random().toString(36).slice(2)
    const m = { id, name: 'sendComment', args: { roomId: target.id, uniqueId: id, text: 'one by one ' + i, type: 'text' }, createdAt: Date.now() }
    const body = await post('/v1/mutations', { mutations: [m] }, token)
    if (!body.results[0].ok) throw new Error(JSON.stringify(body.results[0]))
  }
  const baseline = performance.now() - t
  engine.connect()
  await engine.sync()
  return { replay, baseline }
}`

const b = await openBench({ relayProcess: true })
try {
  await b.caughtUp(0)
  const replays: number[] = []
  const baselines: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const args = JSON.stringify({ n: MUTATIONS, round, peer: PEER })
    const r = (await b.page.evaluate(`(${IN_PAGE})(${args})`)) as { replay: number; baseline: number }
    replays.push(r.replay)
    baselines.push(r.baseline)
    console.log(`round ${round + 1}: replay ${ms(r.replay)}, baseline ${ms(r.baseline)}`)
  }
  const rp = stats(replays)
  const bl = stats(baselines)
  console.log(`web replay of ${MUTATIONS} queued mutations (Chromium, real IndexedDB): median ${ms(rp.median)} (min ${ms(rp.min)}, max ${ms(rp.max)})`)
  console.log(`baseline, one fetch per mutation from the same page: median ${ms(bl.median)} (min ${ms(bl.min)}, max ${ms(bl.max)})`)
  console.log(`ratio baseline/replay (medians): ${(bl.median / rp.median).toFixed(1)}× (target ≥ 10×)`)
} finally {
  await b.close()
}
