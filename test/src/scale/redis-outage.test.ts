/**
 * Pub/sub is never trusted alone: while Redis is down the nodes keep delivering each other's changes
 * (read from the database), and after Redis comes back everything converges without engines having
 * to reconnect.
 */
import { startCluster } from './cluster.js'
import { describe, expect, it, onTestFinished } from 'vitest'
import { startRedis } from '../../../scripts/test-services.mjs'

const texts = async (e: { loadComments: (id: string, o: { limit: number }) => Promise<Array<{ text: string; type: string }>> }, roomId: string) =>
  (await e.loadComments(roomId, { limit: 100 })).filter((c) => c.type !== 'system_event').map((c) => c.text)

async function readyz(url: string): Promise<{ fanout: string }> {
  return (await fetch(`${url}/readyz`)).json() as Promise<{ fanout: string }>
}

describe('Redis outage', () => {
  it('changes still cross nodes while Redis is down, and all converge once it is back', async () => {
    let redis = await startRedis()
    onTestFinished(() => redis.stop())
    const port = Number(new URL(redis.url).port)
    const cluster = await startCluster(2, { redisUrl: redis.url })
    const [a, b] = [await cluster.engine(0, 'ro'), await cluster.engine(1, 'ro')]
    const room = await a.createGroupRoom('Outage', [b.userId])
    await expect.poll(async () => (await b.getRoomsInfo({ room_ids: [room.id] })).length, { timeout: 10_000 }).toBe(1)
    const offlineBefore = { a: 0, b: 0 }
    a.on('status', (s: { online: boolean }) => void (!s.online && offlineBefore.a++))
    b.on('status', (s: { online: boolean }) => void (!s.online && offlineBefore.b++))

    await a.sendComment(room.id, 'before')
    await expect.poll(() => texts(b, room.id), { timeout: 10_000 }).toEqual(['before'])

    await redis.stop()
    await expect.poll(async () => (await readyz(cluster.nodes[1]!.url)).fanout, { timeout: 10_000 }).toMatch(/reconnecting/)
    await a.sendComment(room.id, 'during, from node 0')
    await b.sendComment(room.id, 'during, from node 1')
    // Delivered from the database (the storage seq is polled every second).
    await expect.poll(async () => (await texts(b, room.id)).sort(), { timeout: 10_000 }).toEqual(['before', 'during, from node 0', 'during, from node 1'])
    await expect.poll(async () => (await texts(a, room.id)).sort(), { timeout: 10_000 }).toEqual(['before', 'during, from node 0', 'during, from node 1'])

    redis = await startRedis({ port })
    for (const node of cluster.nodes) {
      await expect.poll(async () => (await readyz(node.url)).fanout, { timeout: 15_000 }).toBe('redis connected')
    }
    await b.sendComment(room.id, 'after')
    for (const e of [a, b]) {
      await expect.poll(async () => (await texts(e, room.id)).at(-1), { timeout: 10_000 }).toBe('after')
      expect(await texts(e, room.id)).toHaveLength(4)
    }
    // The engines never had to reconnect.
    expect(offlineBefore).toEqual({ a: 0, b: 0 })
  }, 60_000)
})
