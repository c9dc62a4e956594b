import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { testServices } from '../testing/services.js'
import type { RelayChange } from './fanout.js'
import { createRedisFanout, type RedisFanout } from './redis-fanout.js'

/** A stand-in for the shared database: the committed changes by seq. */
function fakeLog() {
  const bySeq = new Map<number, RelayChange[]>()
  let current = 0
  return {
    commit(changes: Array<Omit<RelayChange, 'seq'>>): RelayChange[] {
      const seq = ++current
      const list = changes.map((c) => ({ ...c, seq }))
      bySeq.set(seq, list)
      return list
    },
    currentSeq: async () => current,
    recover: async (after: number, upto: number) => {
      const changes: RelayChange[] = []
      for (let seq = after + 1; seq <= Math.min(upto, current); seq++) changes.push(...(bySeq.get(seq) ?? []))
      return { currentSeq: current, changes }
    },
  }
}

async function cluster(n: number, opts: { gapWaitMs?: number; pollMs?: number } = {}) {
  let recovered = 0
  const { redisUrl } = await testServices()
  const log = fakeLog()
  const channel = `test:${randomBytes(6).toString('hex')}`
  const nodes: Array<{ fanout: RedisFanout; seen: string[] }> = []
  for (let i = 0; i < n; i++) {
    const fanout = await createRedisFanout({
      url: redisUrl, channel, currentSeq: log.currentSeq, recover: log.recover, ...opts,
      observe: { recovered: (count) => void (recovered += count) },
    })
    const seen: string[] = []
    fanout.subscribe((c) => seen.push(`${c.seq}:${c.roomId}`))
    nodes.push({ fanout, seen })
    onTestFinished(() => fanout.close())
  }
  /** Commits on `node` and publishes like the core does: each part awaited, back to back. */
  const write = async (node: number, ...rooms: string[]) => {
    const changes = log.commit(rooms.map((roomId) => ({ roomId })))
    for (const c of changes) await nodes[node]!.fanout.publish(c)
    return changes[0]!.seq
  }
  return { nodes, log, write, redisUrl, channel, recovered: () => recovered }
}

const expected = (...items: Array<[number, string]>) => items.map(([s, r]) => `${s}:${r}`)

describe('Redis fan-out', () => {
  it('delivers every node’s changes to every node in seq order, a seq’s changes together', async () => {
    // Frequent polls see seqs in flight, but only seqs missing for gapWaitMs are read from storage.
    const { nodes, write, recovered } = await cluster(3, { pollMs: 5 })
    for (let i = 0; i < 10; i++) {
      await write(0, `a${i}`)
      await write(1, `b${i}`, `c${i}`)
      await write(2, `d${i}`)
    }
    const all = Array.from({ length: 10 }, (_, i) => expected([3 * i + 1, `a${i}`], [3 * i + 2, `b${i}`], [3 * i + 2, `c${i}`], [3 * i + 3, `d${i}`])).flat()
    for (const n of nodes) await vi.waitFor(() => expect(n.seen).toEqual(all), { timeout: 5000 })
    expect(recovered()).toBe(0)
  })

  it('holds a seq that arrives early until the lower one comes, and makes a local publish wait for it', async () => {
    const { nodes, log } = await cluster(2)
    // Node 0 committed seq 1 but has not published yet; node 1 commits seq 2 and publishes.
    const [first] = log.commit([{ roomId: 'early' }])
    const [second] = log.commit([{ roomId: 'late' }])
    let isSecondDelivered = false
    const p = nodes[1]!.fanout.publish(second!).then(() => (isSecondDelivered = true))
    await new Promise((r) => setTimeout(r, 20))
    expect(isSecondDelivered).toBe(false)
    await nodes[0]!.fanout.publish(first!)
    await p
    for (const n of nodes) await vi.waitFor(() => expect(n.seen).toEqual(expected([1, 'early'], [2, 'late'])))
  })

  it('rebuilds from storage a seq whose message never came (a node died between commit and publish)', async () => {
    const { nodes, log, write } = await cluster(2, { gapWaitMs: 50 })
    log.commit([{ roomId: 'lost' }]) // seq 1: committed, never published
    await write(0, 'after')
    for (const n of nodes) await vi.waitFor(() => expect(n.seen).toEqual(expected([1, 'lost'], [2, 'after'])))
  })

  it('finds a lost last seq by polling the storage seq', async () => {
    const { nodes, log } = await cluster(1, { gapWaitMs: 20, pollMs: 50 })
    log.commit([{ roomId: 'quiet' }])
    await vi.waitFor(() => expect(nodes[0]!.seen).toEqual(expected([1, 'quiet'])))
  })

  it('catches up from storage after its subscriber connection drops', async () => {
    const { nodes, write, redisUrl } = await cluster(2, { gapWaitMs: 20, pollMs: 60_000 })
    await write(0, 'before')
    await vi.waitFor(() => expect(nodes[1]!.seen).toEqual(expected([1, 'before'])))
    const admin = new Redis(redisUrl)
    onTestFinished(() => void admin.disconnect())
    // Drop every pub/sub connection (node 1's subscriber among them) while node 0 publishes.
    await admin.client('KILL', 'TYPE', 'pubsub')
    await write(0, 'during')
    await vi.waitFor(() => expect(nodes[1]!.seen).toEqual(expected([1, 'before'], [2, 'during'])), { timeout: 5000 })
    await vi.waitFor(() => expect(nodes[1]!.fanout.isConnected()).toBe(true))
    await write(0, 'after')
    await vi.waitFor(() => expect(nodes[1]!.seen).toEqual(expected([1, 'before'], [2, 'during'], [3, 'after'])))
  })

  it('keeps clusters on different channels apart', async () => {
    const a = await cluster(1)
    const b = await cluster(1)
    await a.write(0, 'a-room')
    await b.write(0, 'b-room')
    await vi.waitFor(() => expect(a.nodes[0]!.seen).toEqual(expected([1, 'a-room'])))
    expect(b.nodes[0]!.seen).toEqual(expected([1, 'b-room']))
  })
})
