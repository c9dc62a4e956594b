import { describe, expect, it } from 'vitest'
import { groupRoomId } from '@parlor/protocol'
import {
  api,
  keyOf,
  makeEngine,
  mutate,
  mutation,
  query,
  nextEvent,
  rejection,
  session,
  signedIn,
  signedInMany,
  startRelay,
  syncAll,
  uid,
} from './harness.js'

describe('restarting the relay on the same data dir', () => {
  it('keeps users, rooms, participants, options and comments; an engine reconnects and a fresh engine sees everything', async () => {
    const relay = await startRelay()
    const [alice, bob] = await signedInMany(relay, ['alice', 'bob'])
    const group = await alice.createGroupRoom('Durable', [bob.userId], { options: { background: 'green' } })
    const single = await alice.chatTarget(bob.userId)
    const channelUid = uid('durable')
    const channel = await alice.getOrCreateRoomByChannel(channelUid, 'Durable channel')
    for (let i = 1; i <= 3; i++) await alice.sendComment(group.id, `g${i}`)
    await alice.sendComment(single.id, 'direct')
    await alice.sendComment(channel.id, 'broadcast')
    await alice.sync()
    await bob.getOrCreateRoomByChannel(channelUid)
    await bob.sendComment(group.id, 'from bob')
    await syncAll(alice, bob)
    await alice.sync()
    const before = await alice.loadRoomList({ show_participants: true, show_empty: true })

    const wentOffline = nextEvent(alice, 'status', (s: any) => s?.online === false)
    await relay.stop()
    await wentOffline
    const restarted = await relay.restart()
    expect(restarted.port).toBe(relay.port)
    expect((await api(restarted, '/healthz')).status).toBe(200)

    // The engine that was connected reconnects on its own and keeps working.
    await expect.poll(() => alice.status().online, { timeout: 15_000 }).toBe(true)
    await alice.sendComment(group.id, 'after restart')
    await alice.sync()
    await bob.sync()
    const bobView = await bob.getRoomById(group.id)
    expect(bobView.comments.filter((c) => c.type === 'text').map((c) => c.text)).toEqual(['g1', 'g2', 'g3', 'from bob', 'after restart'])

    // A fresh device (empty IndexedDB) signs in with the stored key and sees everything.
    const laptop = await signedIn(restarted, alice.userId)
    await laptop.sync()
    const after = await laptop.loadRoomList({ show_participants: true, show_empty: true })
    const strip = (rooms: typeof before) =>
      rooms
        .map((r) => ({
          id: r.id,
          type: r.type,
          name: r.name,
          options: r.options,
          participantCount: r.participantCount,
          participants: r.participants?.map((p) => p.userId).sort(),
        }))
        .sort((a, b) => a.id.localeCompare(b.id))
    expect(strip(after)).toEqual(strip(before))
    expect(after.find((r) => r.id === group.id)?.options).toEqual({ background: 'green' })
    const g = await laptop.getRoomById(group.id)
    expect(g.comments.filter((c) => c.type === 'text').map((c) => c.text)).toEqual(['g1', 'g2', 'g3', 'from bob', 'after restart'])
    const s = await laptop.getRoomById(single.id)
    expect(s.comments.filter((c) => c.type === 'text').map((c) => c.text)).toEqual(['direct'])
    const ch = await laptop.getParticipants(channelUid)
    expect(ch.map((p) => p.userId).sort()).toEqual([alice.userId, bob.userId].sort())
  })

  it('keeps user keys: the right key signs in after a restart, a wrong one is refused', async () => {
    const relay = await startRelay()
    const carolId = uid('carol')
    await session(relay, carolId)
    const restarted = await relay.restart({ samePort: false })
    expect((await api(restarted, '/v1/session', { userId: carolId, userKey: 'not-the-key' })).status).toBe(401)
    const token = await session(restarted, carolId, keyOf(carolId))
    expect(typeof token).toBe('string')
    const wrong = makeEngine(restarted)
    const err = await rejection(wrong.setUser(carolId, 'not-the-key'))
    expect(err).toMatchObject({ code: 'unauthorized' })
  })

  it('keeps a session token valid across a restart', async () => {
    const relay = await startRelay()
    const daveId = uid('dave')
    const token = await session(relay, daveId)
    const restarted = await relay.restart({ samePort: false })
    const res = await api(restarted, '/v1/sync?cursor=0', undefined, token)
    expect(res.status).toBe(200)
  })

  it('keeps mutation ids: a replay after the restart is still answered from the stored result', async () => {
    const relay = await startRelay()
    const userId = uid('erin')
    const token = await session(relay, userId)
    const roomId = groupRoomId(uid('room'))
    const create = mutation('createGroupRoom', { roomId, name: 'R', userIds: [] })
    const send = mutation('sendComment', { roomId, uniqueId: uid('c'), text: 'once', type: 'text' })
    const first = await mutate(relay, token, create, send)
    const restarted = await relay.restart({ samePort: false })
    expect(await mutate(restarted, token, create, send)).toEqual(first)
    const res = await query(restarted, token, { name: 'loadComments', args: { roomId, limit: 100 } })
    expect(res.body.comments.filter((c: { type: string }) => c.type === 'text').map((c: { text: string }) => c.text)).toEqual(['once'])
  })
})
