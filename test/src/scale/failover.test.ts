/**
 * Node failure: one of three relay processes is killed (SIGKILL) while engines on every node stream
 * mutations. Its engines move to another node (they were given every URL), nothing the relay
 * acknowledged is lost, nothing is applied twice, and every engine ends with the database's state.
 * Also: a node that drains on SIGTERM closes its sockets with goingAway and its engines move on.
 */
import { startCluster, type ScaleEngine } from './cluster.js'
import { describe, expect, it, vi } from 'vitest'
import { sql } from './services.js'

interface Row {
  id: number
  text: string
}

/** The room's non-system comments as the database holds them, by id. */
const dbComments = (url: string, roomId: string) =>
  sql<Row>(url, `SELECT id::int AS id, text FROM comments WHERE room_id = $1 AND type <> 'system_event' ORDER BY id`, [roomId])

/** The engine's comments of the room (system events left out), oldest first, paging back from the newest. */
async function engineComments(e: ScaleEngine, roomId: string): Promise<Row[]> {
  const all: Row[] = []
  let before: number | undefined
  for (;;) {
    const page = await e.loadComments(roomId, { limit: 100, ...(before !== undefined && { before }) })
    all.unshift(...page.filter((c) => c.type !== 'system_event').map((c) => ({ id: c.id!, text: c.text })))
    if (page.length < 100 || page[0]?.id === undefined) return all
    before = page[0].id
  }
}

/** Streams `rounds` comments from every engine, calling `during` right after queueing round `at`; returns the texts. */
async function stream(engines: ScaleEngine[], roomId: string, rounds: number, at: number, during: () => Promise<void>) {
  const sent: string[] = []
  for (let r = 0; r < rounds; r++) {
    await Promise.all(engines.map(async (e) => {
      const text = `${e.userId}#${r}`
      sent.push(text)
      await e.sendComment(roomId, text)
    }))
    if (r === at) await during()
    // Let some of them reach the relay before the next round (no fixed sleep: a macrotask turn).
    await new Promise((resolve) => setImmediate(resolve))
  }
  return sent
}

describe('relay node failure', () => {
  it('SIGKILL of a node during a stream of mutations: engines fail over, nothing lost or duplicated, all converge', async () => {
    const cluster = await startCluster(3)
    const engines: ScaleEngine[] = []
    for (let i = 0; i < 6; i++) engines.push(await cluster.engine(i % 3, 'f'))
    const [owner, ...others] = engines as [ScaleEngine, ...ScaleEngine[]]
    const room = await owner.createGroupRoom('Failover', others.map((e) => e.userId))
    await Promise.all(engines.map((e) => e.sync()))
    await expect.poll(async () => Promise.all(engines.map(async (e) => (await e.getRoomsInfo({ room_ids: [room.id] })).length)),
      { timeout: 10_000 }).toEqual([1, 1, 1, 1, 1, 1])

    // Comments the relay acknowledged before the kill (status `sent`) must all survive it.
    const acked = new Set<string>()
    for (const e of engines) e.on('comment', (c: { text: string; status: string }) => void (c.status === 'sent' && acked.add(c.text)))

    const victim = cluster.nodes[0]!
    const victims = engines.filter((e) => e.home === 0)
    const wentOffline = new Set<string>()
    for (const e of victims) e.on('status', (s: { online: boolean }) => void (!s.online && wentOffline.add(e.userId)))
    let ackedBeforeKill = new Set<string>()
    // The kill comes mid-stream: after some comments were acknowledged, right after a round was
    // queued (its mutations are in flight or in the outbox), with more rounds to follow.
    const sent = await stream(engines, room.id, 12, 5, async () => {
      await vi.waitFor(() => expect(acked.size).toBeGreaterThan(0), { timeout: 10_000 })
      ackedBeforeKill = new Set(acked)
      victim.child.kill('SIGKILL')
      await victim.exited
    })

    // Everything queued is applied (the outbox drains on the surviving nodes) ...
    await Promise.all(engines.map((e) => e.sync()))
    const stored = await dbComments(cluster.databaseUrl, room.id)
    const storedTexts = stored.map((c) => c.text)
    // ... exactly once: every sent comment is stored once, none twice, none lost.
    expect(new Set(storedTexts).size).toBe(storedTexts.length)
    expect([...storedTexts].sort()).toEqual([...sent].sort())
    for (const text of ackedBeforeKill) expect(storedTexts).toContain(text)
    // Comment ids stay increasing without holes (system events included).
    const ids = (await sql<{ id: number }>(cluster.databaseUrl, 'SELECT id::int AS id FROM comments WHERE room_id = $1 ORDER BY id', [room.id])).map((r) => r.id)
    expect(ids).toEqual(ids.map((_, i) => i + 1))

    // The victim's engines lost their node and moved to another one.
    expect([...wentOffline].sort()).toEqual(victims.map((e) => e.userId).sort())
    // Every engine, the victim's included, converges on the database's comments.
    for (const e of engines) {
      await expect.poll(() => engineComments(e, room.id), { timeout: 15_000 }).toEqual(stored)
      expect(e.status()).toMatchObject({ online: true, pending: 0 })
    }
    // The survivors keep serving new changes to everyone.
    await engines[0]!.sendComment(room.id, 'after the failure')
    for (const e of engines) {
      await expect.poll(async () => (await engineComments(e, room.id)).at(-1)?.text, { timeout: 10_000 }).toBe('after the failure')
    }
  }, 60_000)

  it('a node drained with SIGTERM closes its sockets with goingAway; its engines move on and keep syncing', async () => {
    const cluster = await startCluster(2, { logLevel: 'info' })
    const [a, b] = [await cluster.engine(0, 'd'), await cluster.engine(1, 'd')]
    const room = await a.chatTarget(b.userId)
    await Promise.all([a.sync(), b.sync()])
    const statuses: boolean[] = []
    a.on('status', (s: { online: boolean }) => void statuses.push(s.online))
    expect(await cluster.nodes[0]!.stop('SIGTERM')).toBe(0)
    expect(cluster.nodes[0]!.output()).toContain('"msg":"relay draining"')
    await a.sendComment(room.id, 'sent after the drain')
    await a.sync()
    await expect.poll(async () => (await b.loadComments(room.id, { limit: 5 })).map((c) => c.text), { timeout: 10_000 })
      .toContain('sent after the drain')
    expect(statuses).toContain(false)
    expect(a.status().online).toBe(true)
  }, 60_000)
})
