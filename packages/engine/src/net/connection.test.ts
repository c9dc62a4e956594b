import { describe, expect, it } from 'vitest'
import { CLOSE_CODES, PROTOCOL_VERSION } from '@parlor/protocol'
import { Connection, type SocketLike } from './connection.js'

/** A socket class that records when each one is made and lets the test close it. */
function fakeSockets() {
  const made: Array<{ at: number; socket: FakeSocket }> = []
  class FakeSocket implements SocketLike {
    readyState = 0
    onopen: ((ev: unknown) => void) | null = null
    onmessage: ((ev: { data: unknown }) => void) | null = null
    onclose: ((ev: { code: number; reason: string }) => void) | null = null
    onerror: ((ev: unknown) => void) | null = null
    constructor(readonly url: string) {
      made.push({ at: Date.now(), socket: this })
      queueMicrotask(() => {
        this.readyState = 1
        this.onopen?.({})
      })
    }
    send(): void {}
    close(code = 1000, reason = ''): void {
      this.readyState = 3
      this.onclose?.({ code, reason })
    }
  }
  return { made, FakeSocket }
}

const noop = { debug() {}, info() {}, warn() {}, error() {}, child() { return noop } }

describe('engine connection', () => {
  it('waits the retryAfterMs of a rateLimited close before reconnecting, however short its backoff', async () => {
    const { made, FakeSocket } = fakeSockets()
    const conn = new Connection({
      urls: ['http://127.0.0.1:1'],
      WebSocket: FakeSocket,
      hello: async () => ({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token: 't', cursor: 0 }),
      onFrames: async () => {},
      onOpen: () => {},
      onClose: () => {},
      logger: noop,
      backoff: { baseMs: 1, maxMs: 2 },
    })
    conn.start()
    await expect.poll(() => made.length).toBe(1)
    const closedAt = Date.now()
    made[0]!.socket.close(CLOSE_CODES.rateLimited, 'too many frames; retryAfterMs=300')
    await expect.poll(() => made.length, { timeout: 2_000 }).toBe(2)
    expect(made[1]!.at - closedAt).toBeGreaterThanOrEqual(295)
    // Other closes reconnect on the (short) backoff.
    const again = Date.now()
    made[1]!.socket.close(1006, '')
    await expect.poll(() => made.length, { timeout: 2_000 }).toBe(3)
    expect(made[2]!.at - again).toBeLessThan(200)
    await conn.stop()
  })

  describe('while an ack is awaited', () => {
    const change = (seq: number) => JSON.stringify({ type: 'change', seq, roomId: 'g:r' })
    const ack = JSON.stringify({ type: 'ack', results: [] })
    async function open(awaitsAck: () => boolean) {
      const { made, FakeSocket } = fakeSockets()
      const batches: string[][] = []
      const conn = new Connection({
        urls: ['http://127.0.0.1:1'],
        WebSocket: FakeSocket,
        hello: async () => ({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token: 't', cursor: 0 }),
        onFrames: async (frames) => void batches.push(frames.map((f) => (f.type === 'change' ? `c${f.seq}` : f.type))),
        awaitsAck,
        onOpen: () => {},
        onClose: () => {},
        logger: noop,
      })
      conn.start()
      await expect.poll(() => made[0]?.socket.readyState).toBe(1)
      const deliver = (data: string) => made[0]!.socket.onmessage!({ data })
      return { conn, batches, deliver }
    }

    it('hands changes that come before the ack over together with it', async () => {
      const { conn, batches, deliver } = await open(() => true)
      deliver(change(1))
      // A later task, as a browser delivers the rest of a burst.
      await new Promise((r) => setTimeout(r, 5))
      deliver(change(2))
      deliver(ack)
      await expect.poll(() => batches.flat().length).toBe(3)
      expect(batches).toEqual([['c1', 'c2', 'ack']])
      await conn.stop()
    })

    it('hands changes over within a few tens of ms when no ack comes', async () => {
      const { conn, batches, deliver } = await open(() => true)
      const sent = Date.now()
      deliver(change(1))
      await expect.poll(() => batches.length, { timeout: 1_000, interval: 2 }).toBe(1)
      expect(Date.now() - sent).toBeLessThan(200)
      expect(batches).toEqual([['c1']])
      await conn.stop()
    })

    it('does not hold changes when nothing is in flight', async () => {
      const { conn, batches, deliver } = await open(() => false)
      deliver(change(1))
      await expect.poll(() => batches.length, { interval: 1 }).toBe(1)
      deliver(change(2))
      await expect.poll(() => batches.length, { interval: 1 }).toBe(2)
      expect(batches).toEqual([['c1'], ['c2']])
      await conn.stop()
    })
  })
})
