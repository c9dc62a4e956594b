/**
 * Browser diagnostic (printed, not CI-timed): how often `engine.live()` runs fail in Chromium while
 * a burst of comments is queued, per query type. Written for an engine issue: `live({ type: 'room' })`
 * fails runs with `PrematureCommitError` (Dexie's "Transaction committed too early") on the real
 * IndexedDB and can end on a stale value, while `getRoomById` and the room-list query do not fail.
 * Node tests cannot see it: without a global indexedDB the engine's live() does not use liveQuery.
 *
 * Run: `cd test && npx tsx bench/web-live-query.ts [comments=10] [rounds=3]`
 */
import { DESKTOP, WebTest, launchChromium, signIn, startWebRelay, uid } from '../src/web/web-harness.js'

const COMMENTS = Number(process.argv[2] ?? 10)
const ROUNDS = Number(process.argv[3] ?? 3)

const server = await startWebRelay()
const browser = await launchChromium()
const t = new WebTest(browser, server.relay.url)
try {
  const ctx = await t.context(DESKTOP)
  const page = await t.page(ctx)
  await signIn(page, uid('live'), 'Live')
  console.log(`engine.live() in Chromium: ${COMMENTS} comments queued back to back, ${ROUNDS} rounds each online and offline`)
  for (const offline of [false, true]) {
    await ctx.setOffline(offline)
    for (let round = 1; round <= ROUNDS; round++) {
      // A string: tsx's transform would add helpers (`__name`) that the page does not have.
      const r = (await page.evaluate(`(async () => {
        const { engine } = window.parlor
        const failed = { room: 0, roomList: 0 }
        let last = 'none'
        const room = await engine.getOrCreateRoomByChannel('live-' + Math.random().toString(36).slice(2))
        const subs = [
          engine.live({ type: 'room', roomId: room.id }).subscribe({ next: (v) => (last = v ? v.comments.filter((c) => c.type !== 'system_event').length : 'undefined'), error: () => failed.room++ }),
          engine.live({ type: 'roomList', show_empty: true }).subscribe({ next: () => {}, error: () => failed.roomList++ }),
        ]
        for (let i = 0; i < ${COMMENTS}; i++) await engine.sendComment(room.id, 'c' + i)
        await new Promise((r) => setTimeout(r, 1500))
        const direct = (await engine.getRoomById(room.id)).comments.filter((c) => c.type !== 'system_event').length
        for (const s of subs) s.unsubscribe()
        return { failed, last, direct }
      })()`)) as { failed: { room: number; roomList: number }; last: number | string; direct: number }
      console.log(
        `  ${offline ? 'offline' : 'online '} round ${round}: failed runs — room ${r.failed.room}, roomList ${r.failed.roomList}; ` +
          `last live room value: ${typeof r.last === 'number' ? `${r.last} comments` : r.last === 'none' ? 'none delivered' : r.last}; getRoomById: ${r.direct} comments${r.last !== r.direct ? '  ← live value stale' : ''}`,
      )
    }
  }
} finally {
  await t.close()
  await browser.close()
  await server.close()
}
