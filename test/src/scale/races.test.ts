/**
 * Get-or-create races between nodes: two users on different relay processes creating their 1-on-1
 * room, or the same channel, at the same moment (online, or offline and then reconnecting together)
 * end with one room, both of them in it, one "created" event, and no failed mutation.
 */
import { startCluster, type Cluster, type ScaleEngine } from './cluster.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { sql } from './services.js'

let cluster: Cluster
beforeAll(async () => {
  cluster = await startCluster(2)
}, 60_000)

/** Two engines, on node 0 and node 1, that record failed mutations. */
async function pair() {
  const a = await cluster.engine(0, 'ra')
  const b = await cluster.engine(1, 'rb')
  const failures: unknown[] = []
  for (const e of [a, b]) e.on('mutation:failed', (f: unknown) => void failures.push(f))
  return { a, b, failures }
}

async function roomFacts(roomId: string) {
  const [rooms, members, creates] = await Promise.all([
    sql<{ n: number }>(cluster.databaseUrl, 'SELECT count(*)::int AS n FROM rooms WHERE id = $1', [roomId]),
    sql<{ user_id: string }>(cluster.databaseUrl, 'SELECT user_id FROM participants WHERE room_id = $1 AND NOT is_removed ORDER BY user_id', [roomId]),
    sql<{ n: number }>(cluster.databaseUrl, `SELECT count(*)::int AS n FROM comments WHERE room_id = $1 AND payload LIKE '%"type":"create"%'`, [roomId]),
  ])
  return { rooms: rooms[0]!.n, members: members.map((m) => m.user_id), creates: creates[0]!.n }
}

async function bothSee(engines: ScaleEngine[], roomId: string) {
  for (const e of engines) {
    await expect.poll(async () => (await e.getRoomsInfo({ room_ids: [roomId] })).map((r) => [r.id, r.syncState]), { timeout: 10_000 })
      .toEqual([[roomId, 'synced']])
  }
}

describe('get-or-create on two nodes at once', () => {
  it('chatTarget from both sides at once makes one 1-on-1 room', async () => {
    const { a, b, failures } = await pair()
    const [ra, rb] = await Promise.all([a.chatTarget(b.userId), b.chatTarget(a.userId)])
    expect(ra.id).toBe(rb.id)
    await Promise.all([a.sync(), b.sync()])
    expect(await roomFacts(ra.id)).toEqual({ rooms: 1, members: [a.userId, b.userId].sort(), creates: 1 })
    await bothSee([a, b], ra.id)
    expect(failures).toEqual([])
  })

  it('the same channel unique id from both nodes at once makes one channel with both members', async () => {
    const { a, b, failures } = await pair()
    const uniqueId = `race-${a.userId}`
    const [ca, cb] = await Promise.all([a.getOrCreateRoomByChannel(uniqueId, 'Race'), b.getOrCreateRoomByChannel(uniqueId, 'Race')])
    expect(ca.id).toBe(cb.id)
    await Promise.all([a.sync(), b.sync()])
    expect(await roomFacts(ca.id)).toEqual({ rooms: 1, members: [a.userId, b.userId].sort(), creates: 1 })
    await bothSee([a, b], ca.id)
    expect(failures).toEqual([])
  })

  it('both created offline, reconnecting together to different nodes, still make one room each', async () => {
    const { a, b, failures } = await pair()
    await Promise.all([a.disconnect(), b.disconnect()])
    const uniqueId = `offline-${a.userId}`
    const [single, channelA] = [await a.chatTarget(b.userId), await a.getOrCreateRoomByChannel(uniqueId)]
    await b.chatTarget(a.userId)
    await b.getOrCreateRoomByChannel(uniqueId)
    a.connect()
    b.connect()
    await Promise.all([a.sync(), b.sync()])
    expect(await roomFacts(single.id)).toEqual({ rooms: 1, members: [a.userId, b.userId].sort(), creates: 1 })
    expect(await roomFacts(channelA.id)).toEqual({ rooms: 1, members: [a.userId, b.userId].sort(), creates: 1 })
    await bothSee([a, b], single.id)
    expect(failures).toEqual([])
  })
})
