/**
 * Outbox depth on `/metrics` (issue 7): engines tell the relay how many mutations they hold (in
 * `hello`, then `report` frames when it changes, at most once per LIMITS.outboxReportIntervalMs),
 * and the relay exposes the totals of its live sockets. The engine's `mutate` frames are held back
 * on the wire while the test reads the depth, so the queued value is observed before it drains.
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import { createEngine } from '@parlor/engine'
import { LIMITS } from '@parlor/protocol'
import { defer, keyOf, signedIn, startRelay, uid, type TestRelay } from './harness.js'
import { drainThroughOneFramePerSecond } from './security/relay-options.js'

/**
 * A `ws` class whose `mutate` frames wait while `hold` is on (the relay sees nothing of them until
 * `release()`), recording every `report` frame sent with its time.
 */
function gatedSockets() {
  const held: Array<() => void> = []
  const reports: Array<{ at: number; pending: number }> = []
  const gate = { hold: false, reports, release: () => ((gate.hold = false), held.splice(0).forEach((send) => send())) }
  class GatedSocket extends WebSocket {
    override send(data: any, options?: any, cb?: any): void {
      const frame = typeof data === 'string' ? JSON.parse(data) : undefined
      if (frame?.type === 'report') reports.push({ at: Date.now(), pending: frame.pending })
      if (gate.hold && frame?.type === 'mutate') {
        held.push(() => super.send(data, options, cb))
        return
      }
      super.send(data, options, cb)
    }
  }
  return { gate, GatedSocket: GatedSocket as unknown as typeof WebSocket }
}

/** The relay's outbox-depth gauges. */
async function depth(relay: TestRelay): Promise<{ sum: number; max: number; nonEmpty: number }> {
  const text = await (await fetch(`${relay.url}/metrics`)).text()
  const read = (name: string) => Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1])
  return { sum: read('parlor_engine_outbox_depth_sum'), max: read('parlor_engine_outbox_depth_max'), nonEmpty: read('parlor_engine_outbox_nonempty') }
}

/** Reports come only on a change and never closer together than the interval. */
function expectRateLimited(reports: Array<{ at: number; pending: number }>): void {
  for (let i = 1; i < reports.length; i++) {
    expect(reports[i]!.at - reports[i - 1]!.at).toBeGreaterThanOrEqual(LIMITS.outboxReportIntervalMs - 5)
    expect(reports[i]!.pending).not.toBe(reports[i - 1]!.pending)
  }
}

describe('outbox depth on /metrics', () => {
  it('shows what an engine queued offline once it reconnects, its changes while online, and 0 once synced', async () => {
    const relay = await startRelay()
    const bob = await signedIn(relay, uid('bob'))
    const { gate, GatedSocket } = gatedSockets()
    const userId = uid('alice')
    const alice = createEngine({ relayUrl: relay.url, dbName: `metrics-${userId}`, indexedDB: new IDBFactory(), IDBKeyRange, WebSocket: GatedSocket as never })
    defer(() => alice.close())
    await alice.setUser(userId, keyOf(userId))
    await alice.sync()
    await expect.poll(() => depth(relay)).toEqual({ sum: 0, max: 0, nonEmpty: 0 })

    await alice.disconnect()
    const room = await alice.createGroupRoom('Queued', [bob.userId])
    for (let i = 0; i < 4; i++) await alice.sendComment(room.id, `offline ${i}`)
    expect(alice.status()).toMatchObject({ online: false, pending: 5 })

    // Reconnected, with its mutations held on the wire: hello told the relay 5.
    gate.hold = true
    alice.connect()
    await expect.poll(() => depth(relay)).toEqual({ sum: 5, max: 5, nonEmpty: 1 })
    await expect.poll(() => alice.status().online).toBe(true)

    // Queued while online: a report frame brings the new depth.
    await alice.sendComment(room.id, 'online 1')
    await alice.sendComment(room.id, 'online 2')
    await expect.poll(() => depth(relay), { timeout: 5_000 }).toEqual({ sum: 7, max: 7, nonEmpty: 1 })

    gate.release()
    await alice.sync()
    expect(alice.status().pending).toBe(0)
    await expect.poll(() => depth(relay), { timeout: 5_000 }).toEqual({ sum: 0, max: 0, nonEmpty: 0 })
    await expect.poll(async () => (await bob.loadComments(room.id, { limit: 10 })).filter((c) => c.type !== 'system_event').length).toBe(6)

    expect(gate.reports.map((r) => r.pending).at(-1)).toBe(0)
    expectRateLimited(gate.reports)
  })

  it('has the leader tab report the outbox every tab shares', async () => {
    const relay = await startRelay()
    const bob = await signedIn(relay, uid('bob'))
    const { gate, GatedSocket } = gatedSockets()
    const userId = uid('alice')
    const device = new IDBFactory()
    const tab = async () => {
      const engine = createEngine({ relayUrl: relay.url, dbName: `metrics-tabs-${userId}`, indexedDB: device, IDBKeyRange, WebSocket: GatedSocket as never })
      defer(() => engine.close())
      await engine.setUser(userId, keyOf(userId))
      return engine
    }
    const leader = await tab()
    await leader.sync()
    const follower = await tab()
    await follower.sync()

    gate.hold = true
    const room = await follower.createGroupRoom('From the follower', [bob.userId])
    await follower.sendComment(room.id, 'queued in tab 2')
    await leader.sendComment(room.id, 'queued in tab 1')
    // One socket (the leader's) reports the three rows of the shared outbox.
    await expect.poll(() => depth(relay), { timeout: 5_000 }).toEqual({ sum: 3, max: 3, nonEmpty: 1 })

    gate.release()
    await Promise.all([leader.sync(), follower.sync()])
    await expect.poll(() => depth(relay), { timeout: 5_000 }).toEqual({ sum: 0, max: 0, nonEmpty: 0 })
    expectRateLimited(gate.reports)
  })

  it('keeps reports out of the way of a rate-limited outbox (never closed for flooding), and ends at 0', async () => {
    // One frame a second, no burst: the outbox drains 300 mutations through rate_limited answers.
    const { gate, GatedSocket } = gatedSockets()
    const { relay: small, socketsOpened } = await drainThroughOneFramePerSecond(GatedSocket as typeof WebSocket)
    await expect.poll(() => depth(small), { timeout: 10_000 }).toEqual({ sum: 0, max: 0, nonEmpty: 0 })
    expect(socketsOpened).toBe(2) // the first, and the one after disconnect()
    expect(gate.reports.at(-1)?.pending).toBe(0)
  })
})
