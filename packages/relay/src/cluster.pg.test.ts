/** Several relays (in this process) on one PostgreSQL database and one Redis: changes cross nodes. */
import { describe, expect, it, vi } from 'vitest'
import { CLOSE_CODES, channelRoomId, singleRoomId } from '@parlor/protocol'
import { createRelay } from './create-relay.js'
import { defer, startRelay, tempDir, TestRelay, TestSocket, uid } from './testing/relay-fixture.js'
import { freshDatabase, testServices } from './testing/services.js'

async function cluster(n: number) {
  const db = await freshDatabase()
  const { redisUrl } = await testServices()
  defer(db.drop)
  const relays: TestRelay[] = []
  for (let i = 0; i < n; i++) relays.push(await startRelay({ databaseUrl: db.url, redisUrl }))
  return { relays, databaseUrl: db.url, redisUrl }
}

describe('relay cluster on PostgreSQL + Redis', () => {
  it('accepts a token from any node and delivers a change made on one node to sockets on the others', async () => {
    const { relays } = await cluster(3)
    const [a, b, c] = relays as [TestRelay, TestRelay, TestRelay]
    const alice = uid()
    const bob = uid()
    const aliceToken = (await a.signIn(alice)).token
    const bobToken = (await b.signIn(bob)).token
    // A token minted by node A works on node C (the secret lives in the database).
    const { socket: bobOnC } = await c.connect(bobToken)
    const { socket: aliceOnB } = await b.connect(aliceToken)
    const roomId = `g:${uid()}`
    expect((await aliceOnB.mutate('createGroupRoom', { roomId, name: 'x', userIds: [bob] })).ok).toBe(true)
    const sync = await bobOnC.next((f) => f.type === 'sync' && f.rooms.some((r) => r.id === roomId))
    expect(sync.type).toBe('sync')
    const sent = await a.ok(aliceToken, 'sendComment', { roomId, uniqueId: uid('c'), text: 'hello from A', type: 'text' })
    const change = await bobOnC.next((f) => f.type === 'change' && !!f.comments?.some((cm) => cm.text === 'hello from A'))
    expect(change.type === 'change' && change.seq).toBe(sent.comment!.seq)
  })

  it('creates one 1-on-1 room and one channel when two nodes race to create them', async () => {
    const { relays } = await cluster(2)
    const [a, b] = relays as [TestRelay, TestRelay]
    const [alice, bob] = [uid(), uid()]
    const [ta, tb] = [(await a.signIn(alice)).token, (await b.signIn(bob)).token]
    const [ra, rb] = await Promise.all([a.ok(ta, 'chatTarget', { roomId: singleRoomId(alice, bob), userId: bob }),
      b.ok(tb, 'chatTarget', { roomId: singleRoomId(alice, bob), userId: alice }),
    ])
    expect(ra.room!.id).toBe(rb.room!.id)
    const channel = uid('chan')
    const [ca, cb] = await Promise.all([
      a.ok(ta, 'getOrCreateChannel', { roomId: channelRoomId(channel), uniqueId: channel }),
      b.ok(tb, 'getOrCreateChannel', { roomId: channelRoomId(channel), uniqueId: channel }),
    ])
    expect(ca.room!.id).toBe(cb.room!.id)
    const room = await a.query(ta, 'getRoomById', { roomId: ca.room!.id })
    expect(room.body.room.participantCount).toBe(2)
  })

  it('refuses redisUrl without databaseUrl', async () => {
    const { redisUrl } = await testServices()
    await expect(createRelay({ port: 0, dataDir: await tempDir(), redisUrl })).rejects.toThrow(/needs databaseUrl/)
  })

  it('reports Redis and the fan-out watermark in /readyz and /metrics', async () => {
    const { relays } = await cluster(2)
    const ready = await relays[0]!.http('GET', '/readyz')
    expect(ready.status).toBe(200)
    expect(ready.body).toMatchObject({ ok: true, storage: 'ok', fanout: 'redis connected' })
    const [alice] = await relays[0]!.users(1)
    const channel = uid('c')
    await relays[0]!.ok(alice!.token, 'getOrCreateChannel', { roomId: channelRoomId(channel), uniqueId: channel })
    await vi.waitFor(async () => {
      const text = (await relays[1]!.http('GET', '/metrics')).body as string
      expect(text).toMatch(/^parlor_redis_up 1$/m)
      expect(Number(/^parlor_fanout_watermark (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(0)
      expect(text).toMatch(/^parlor_fanout_lag_seconds_count [1-9]/m)
    })
  })
})

describe('relay on PostgreSQL', () => {
  it('closes a /yjs socket whose path is no room id as not_found, without looking it up', async () => {
    const db = await freshDatabase()
    defer(db.drop)
    const relay = await startRelay({ databaseUrl: db.url })
    const token = (await relay.signIn(uid())).token
    // PostgreSQL cannot read a text holding NUL: a lookup of this path would fail (1011), not answer.
    const socket = await TestSocket.open(relay.url, `/yjs/${encodeURIComponent('g:a\u0000b')}?token=${token}`)
    expect((await socket.closed).code).toBe(CLOSE_CODES.notFound)
  })
})
