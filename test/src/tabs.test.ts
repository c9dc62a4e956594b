/**
 * Several engines on one IndexedDB database (the tabs of one PWA): one leader runs the socket and
 * the outbox, the others work through it, and leadership moves on when the leader closes.
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import { createEngine, type Room } from '@parlor/engine'
import { defer, keyOf, sharedRelay, signedIn, uid } from './harness.js'

const relay = sharedRelay()

/** Two tabs of one user: same IndexedDB factory and database name, each counting its sockets. */
async function twoTabs(userId: string) {
  const device = new IDBFactory()
  const open = new Map<string, number>()
  const tab = async (name: string) => {
    open.set(name, 0)
    class CountingSocket extends WebSocket {
      constructor(url: string) {
        super(url)
        open.set(name, open.get(name)! + 1)
        this.on('close', () => open.set(name, open.get(name)! - 1))
      }
    }
    const engine = createEngine({ relayUrl: relay().url, dbName: `tabs-${userId}`, indexedDB: device, IDBKeyRange, WebSocket: CountingSocket as never })
    defer(() => engine.close())
    await engine.setUser(userId, keyOf(userId))
    return engine
  }
  const first = await tab('first')
  await first.sync()
  const second = await tab('second')
  return { first, second, open }
}

const texts = (cs: { text: string; type: string }[]) => cs.filter((c) => c.type !== 'system_event').map((c) => c.text)

describe('tabs sharing one database', () => {
  it('runs exactly one socket, and the other tab writes and reads through it', async () => {
    const userId = uid('alice')
    const bob = await signedIn(relay(), uid('bob'))
    const { first, second, open } = await twoTabs(userId)
    await second.sync()
    expect([open.get('first'), open.get('second')]).toEqual([1, 0])
    expect(second.status().online).toBe(true)

    const room = await second.createGroupRoom('From tab 2', [bob.userId])
    await second.sendComment(room.id, 'sent by the follower')
    await second.sync()
    await bob.sync()
    await expect.poll(async () => texts(await bob.loadComments(room.id))).toEqual(['sent by the follower'])
    expect((await first.getRoomById(room.id)).syncState).toBe('synced')
    expect(open.get('second')).toBe(0)

    // The follower's live query sees what the leader receives from the relay.
    const seen: Room[][] = []
    const errors: unknown[] = []
    const sub = second.live({ type: 'roomList', show_empty: true }).subscribe({ next: (v) => seen.push(v as Room[]), error: (e) => errors.push(e) })
    defer(() => sub.unsubscribe())
    await bob.sendComment(room.id, 'reply from bob')
    await expect.poll(() => seen.at(-1)?.[0]?.lastComment?.text).toBe('reply from bob')
    expect(errors).toEqual([])
    // …and the follower hears the leader's events.
    expect(texts(await second.loadComments(room.id))).toEqual(['sent by the follower', 'reply from bob'])
  })

  it('hands over to the other tab when the leader closes, without losing or repeating a queued mutation', async () => {
    const userId = uid('alice')
    const bob = await signedIn(relay(), uid('bob'))
    const { first, second, open } = await twoTabs(userId)
    const room = await first.createGroupRoom('Handover', [bob.userId])
    await first.sync()
    await first.disconnect()
    await second.sendComment(room.id, 'queued 1')
    await second.sendComment(room.id, 'queued 2')
    expect(second.status().pending).toBe(2)
    await first.close()
    await expect.poll(() => open.get('second'), { timeout: 5000 }).toBe(1)
    await second.sync()
    await bob.sync()
    await expect.poll(async () => texts(await bob.loadComments(room.id))).toEqual(['queued 1', 'queued 2'])
    expect(open.get('first')).toBe(0)
  })
})
