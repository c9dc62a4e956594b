/**
 * Three relay processes on one PostgreSQL + Redis, engines spread over them: every seed call's
 * effect reaches the engines on every node, and options edits made on different nodes converge.
 */
import { startCluster, type Cluster, type ScaleEngine } from './cluster.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { nextEvent } from '../harness.js'

let cluster: Cluster
beforeAll(async () => {
  cluster = await startCluster(3)
}, 60_000)

/** `n` engines, the i-th homed on node i % 3. */
const engines = (n: number, prefix = 'u') => Promise.all(Array.from({ length: n }, (_, i) => cluster.engine(i % 3, prefix)))

const texts = async (e: ScaleEngine, roomId: string) =>
  (await e.loadComments(roomId, { limit: 100 })).filter((c) => c.type !== 'system_event').map((c) => c.text)

const hasRoom = async (e: ScaleEngine, roomId: string) => (await e.getRoomsInfo({ room_ids: [roomId] })).length === 1

describe('three relay nodes', () => {
  it('prints a URL per node and answers /readyz on each with Redis connected', async () => {
    expect(new Set(cluster.nodes.map((n) => n.url)).size).toBe(3)
    for (const node of cluster.nodes) {
      const res = await fetch(`${node.url}/readyz`)
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ ok: true, storage: 'ok', fanout: 'redis connected' })
    }
  })

  it('shows a group, its comments, rename, members added and removed on engines of every node', async () => {
    const [a, b, c, d, e] = (await engines(5)) as [ScaleEngine, ScaleEngine, ScaleEngine, ScaleEngine, ScaleEngine]
    const room = await a.createGroupRoom('Team', [b.userId, c.userId, d.userId])
    for (const x of [b, c, d]) await expect.poll(() => hasRoom(x, room.id), { timeout: 10_000 }).toBe(true)

    await b.sendComment(room.id, 'from node 1')
    await c.sendComment(room.id, 'from node 2')
    await a.sendComment(room.id, 'from node 0')
    for (const x of [a, b, c, d]) {
      await expect.poll(async () => (await texts(x, room.id)).sort(), { timeout: 10_000 })
        .toEqual(['from node 0', 'from node 1', 'from node 2'])
    }

    // Room lists on every node show the same newest comment, whichever node stored it last.
    await Promise.all([a, b, c, d].map((x) => x.sync()))
    const newest = (await texts(a, room.id)).at(-1)
    for (const x of [a, b, c, d]) {
      await expect.poll(async () => (await x.loadRoomList()).find((r) => r.id === room.id)?.lastComment?.text, { timeout: 10_000 })
        .toBe(newest)
    }

    await c.updateRoom({ id: room.id, room_name: 'Renamed on node 2' })
    for (const x of [a, b, d]) await expect.poll(async () => (await x.getRoomById(room.id)).name).toBe('Renamed on node 2')

    // e (node 1) is added by b (node 1) and sees the history; d (node 0) is removed by a (node 0).
    const added = nextEvent(e, 'room', (r: { id?: string }) => r?.id === room.id, 10_000)
    await b.addParticipantsToGroup(room.id, [e.userId])
    await added
    await expect.poll(async () => (await texts(e, room.id)).sort(), { timeout: 10_000 }).toEqual(['from node 0', 'from node 1', 'from node 2'])
    const removed = nextEvent(d, 'room:removed', () => true, 10_000)
    await a.removeParticipantsFromGroup(room.id, [d.userId])
    await removed
    const members = [a, b, c, e].map((x) => x.userId).sort()
    for (const x of [a, b, c, e]) {
      await expect.poll(async () => (await x.getParticipants(room.uniqueId)).map((p) => p.userId).sort(), { timeout: 10_000 })
        .toEqual(members)
    }
    await expect.poll(() => hasRoom(d, room.id)).toBe(false)
  })

  it('shows 1-on-1 rooms, channels, read pointers and unread counts across nodes', async () => {
    const [a, b, c] = (await engines(3)) as [ScaleEngine, ScaleEngine, ScaleEngine]
    const single = await a.chatTarget(b.userId)
    await a.sendComment(single.id, 'hi b')
    await expect.poll(async () => texts(b, single.id), { timeout: 10_000 }).toEqual(['hi b'])
    await expect.poll(() => b.getTotalUnreadCount(), { timeout: 10_000 }).toBe(1)
    const [comment] = await b.loadComments(single.id, { limit: 1 })
    await b.markAsRead(single.id, comment!.id!)
    await expect.poll(() => b.getTotalUnreadCount()).toBe(0)
    await expect.poll(async () => (await a.getParticipants(single.uniqueId)).find((p) => p.userId === b.userId)?.lastReadCommentId,
      { timeout: 10_000 }).toBe(comment!.id)

    const uniqueId = `lobby-${a.userId}`
    const channel = await c.getOrCreateRoomByChannel(uniqueId, 'Lobby')
    await a.getOrCreateRoomByChannel(uniqueId)
    await b.getOrCreateRoomByChannel(uniqueId)
    await c.sendComment(channel.id, 'welcome')
    for (const x of [a, b]) await expect.poll(async () => texts(x, channel.id), { timeout: 10_000 }).toEqual(['welcome'])
    await expect.poll(async () => (await c.getParticipants(uniqueId)).length, { timeout: 10_000 }).toBe(3)
  })

  it('converges options edited at once on three nodes', async () => {
    const [a, b, c] = (await engines(3)) as [ScaleEngine, ScaleEngine, ScaleEngine]
    const room = await a.createGroupRoom('Opts', [b.userId, c.userId])
    for (const x of [b, c]) await expect.poll(() => hasRoom(x, room.id), { timeout: 10_000 }).toBe(true)
    await Promise.all([
      a.options(room.id).set('background', 'red'),
      b.options(room.id).set('lat', '52.5'),
      c.options(room.id).set('lng', '13.4'),
    ])
    const all = { background: 'red', lat: '52.5', lng: '13.4' }
    for (const x of [a, b, c]) await expect.poll(async () => (await x.getRoomById(room.id)).options, { timeout: 10_000 }).toEqual(all)
    await Promise.all([b.options(room.id).delete('lat'), c.options(room.id).set('background', 'blue')])
    for (const x of [a, b, c]) {
      await expect.poll(async () => (await x.getRoomById(room.id)).options, { timeout: 10_000 }).toEqual({ background: 'blue', lng: '13.4' })
    }
  })
})
