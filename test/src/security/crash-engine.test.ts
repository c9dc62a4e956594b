/**
 * Crash safety of the engine: an engine killed mid-replay and reopened on the same device replays
 * its outbox without losing or duplicating anything.
 *
 * fake-indexeddb keeps its data in memory, so the "device" is one IDBFactory kept across engine
 * instances (a stand-in that persists exactly what IndexedDB transactions committed, nothing else).
 * The kill is abrupt: the socket is cut at a chosen point of the replay (frames already on the wire
 * are lost with it: the relay may have applied mutations whose acks never arrive), and the engine
 * is dropped at once; its in-memory state goes with it, and the next instance starts from the
 * database alone.
 */
import { describe, expect, it } from 'vitest'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import WebSocket from 'ws'
import { LIMITS } from '@parlor/protocol'
import { createEngine } from '@parlor/engine'
import { defer, keyOf, query, session, sharedRelay, uid } from '../harness.js'

const relay = sharedRelay()
const QUEUED = 3 * LIMITS.maxMutationsPerFrame + 17

/** A `ws` class whose sockets die (all later frames lost, connection cut) after `acks` acks arrive. */
function dyingAfter(acks: number, onDeath: () => void): typeof WebSocket {
  let seen = 0
  return class DyingSocket extends WebSocket {
    constructor(url: string) {
      super(url)
      const own = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage')!
      let dead = false
      Object.defineProperty(this, 'onmessage', {
        get: () => own.get!.call(this),
        set: (fn: ((ev: WebSocket.MessageEvent) => void) | null) =>
          own.set!.call(this, fn && ((ev: WebSocket.MessageEvent) => {
            if (dead) return
            if (JSON.parse(String(ev.data)).type === 'ack' && ++seen > acks) {
              // This ack and everything after it die with the process.
              dead = true
              this.terminate()
              onDeath()
              return
            }
            fn(ev)
          })),
      })
    }
  } as unknown as typeof WebSocket
}

describe('engine crash mid-replay', () => {
  it(`replays ${QUEUED} queued comments exactly once across two kills during the replay`, async () => {
    const device = new IDBFactory()
    const dbName = uid('device-db')
    const userId = uid('crashy')
    const open = (WebSocketClass: typeof WebSocket) => {
      const engine = createEngine({ relayUrl: relay().url, dbName, indexedDB: device, IDBKeyRange, WebSocket: WebSocketClass as never, backoff: { baseMs: 20, maxMs: 200 } })
      defer(() => engine.close().catch(() => {}))
      return engine
    }

    // Queue offline, as the app would before the crash.
    const first = open(WebSocket)
    await first.setUser(userId, keyOf(userId))
    const room = await first.createGroupRoom('replay', [])
    await first.sync()
    await first.disconnect()
    const texts = Array.from({ length: QUEUED }, (_, i) => `c${i}`)
    for (const text of texts) await first.sendComment(room.id, text, { uniqueId: text })
    await first.close()

    // Two kills: before the first ack is handled, then after one more ack.
    let engine = first
    for (const acks of [0, 1]) {
      let died!: () => void
      const death = new Promise<void>((resolve) => (died = resolve))
      engine = open(dyingAfter(acks, () => died()))
      await engine.setUser(userId, keyOf(userId))
      await death
      void engine.close() // dropped at once, not drained
      const left = (await pendingIn(device, dbName)).length
      expect(left).toBeGreaterThan(0)
    }

    const last = open(WebSocket)
    await last.setUser(userId, keyOf(userId))
    await last.sync()
    expect(last.status().pending).toBe(0)

    const token = await session(relay(), userId)
    const stored: string[] = []
    for (let before: number | undefined; ;) {
      const res = await query(relay(), token, { name: 'loadComments', args: { roomId: room.id, limit: 100, ...(before !== undefined && { before }) } })
      const page = res.body.comments as Array<{ id: number; text: string; type: string }>
      stored.unshift(...page.filter((c) => c.type !== 'system_event').map((c) => c.text))
      if (page.length < 100) break
      before = page[0]!.id
    }
    expect(stored).toEqual(texts) // all, once each, in the order they were written
    const local = await last.loadComments(room.id, { limit: 100 })
    expect(local.map((c) => c.text)).toEqual(texts.slice(-100))
    expect(local.every((c) => c.status !== 'pending' && c.status !== 'failed')).toBe(true)
  })
})

/** The outbox rows left in a device's database (read directly, as the next instance will). */
async function pendingIn(device: IDBFactory, dbName: string): Promise<unknown[]> {
  const { Dexie } = await import('dexie')
  const db = new Dexie(dbName, { indexedDB: device, IDBKeyRange })
  await db.open()
  try {
    return await db.table('outbox').toArray()
  } finally {
    db.close()
  }
}
