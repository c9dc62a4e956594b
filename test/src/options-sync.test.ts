/**
 * Minimal sync (issue 4): an engine in 1,000 rooms syncs them over its one socket in batches; after
 * a disconnect during which the options of 10 rooms changed, its reconnect costs nothing for the
 * 990 unchanged rooms (the cursor) and one options document per changed room. Bytes are counted on
 * the wire, both ways.
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import { createEngine } from '@parlor/engine'
import { defer, keyOf, mutate, mutation, session, sharedRelay, uid } from './harness.js'

const relay = sharedRelay()

/** Options as in ANCHORS.md: 10 keys of 10 characters with 20-character values. */
const tenOptions = (i: number) => Object.fromEntries(Array.from({ length: 10 }, (_, k) => [`option-k${k}`.padEnd(10, 'x').slice(0, 10), `value ${i}-${k}`.padEnd(20, '.')]))

describe('options sync', () => {
  it('reconnects with 1,000 rooms of which 10 changed for at most 5% of the bytes of a full sync', async () => {
    const wire = { in: 0, out: 0, sockets: 0, frames: [] as { type: string; more?: boolean; rooms?: { id: string; optionsState?: string }[] }[] }
    class CountingSocket extends WebSocket {
      constructor(url: string) {
        super(url)
        wire.sockets++
        this.on('message', (data: Buffer) => {
          wire.in += data.length
          const text = data.toString()
          if (text.startsWith('{"type":"sync"')) wire.frames.push(JSON.parse(text))
        })
      }
      override send(data: string, ...rest: never[]): void {
        wire.out += Buffer.byteLength(data)
        super.send(data, ...rest)
      }
    }
    const alice = uid('alice')
    const bobId = uid('bob')
    const aliceToken = await session(relay(), alice)
    await session(relay(), bobId)
    const roomIds = Array.from({ length: 1000 }, (_, i) => `g:${uid(`r${i}`)}`)
    for (let i = 0; i < roomIds.length; i += 100) {
      const batch = roomIds.slice(i, i + 100).map((roomId, j) =>
        mutation('createGroupRoom', { roomId, name: `Room ${i + j}`, userIds: [bobId], options: tenOptions(i + j) }),
      )
      const results = await mutate(relay(), aliceToken, ...batch)
      expect(results.every((r) => r.ok)).toBe(true)
    }

    const bob = createEngine({ relayUrl: relay().url, dbName: `sync-${bobId}`, indexedDB: new IDBFactory(), IDBKeyRange, WebSocket: CountingSocket as never })
    defer(() => bob.close())
    await bob.setUser(bobId, keyOf(bobId))
    await bob.sync()
    expect(await bob.loadRoomList({ show_empty: true, limit: 100 })).toHaveLength(100)
    expect((await bob.getRoomById(roomIds[999]!)).options).toEqual(tenOptions(999))
    const full = wire.in + wire.out
    // One socket, the catch-up in several frames.
    expect(wire.sockets).toBe(1)
    const fullFrames = wire.frames.filter((f) => f.type === 'sync')
    expect(fullFrames.length).toBeGreaterThan(1)
    expect(fullFrames.slice(0, -1).every((f) => f.more === true)).toBe(true)
    expect(fullFrames.flatMap((f) => f.rooms ?? []).filter((r) => r.optionsState !== undefined)).toHaveLength(1000)

    await bob.disconnect()
    const changed = roomIds.filter((_, i) => i % 100 === 7)
    expect(changed).toHaveLength(10)
    for (const roomId of changed) {
      const [r] = await mutate(relay(), aliceToken, mutation('updateRoom', { roomId, options: { 'option-k0': 'changed while away' } }))
      expect(r.ok).toBe(true)
    }
    Object.assign(wire, { in: 0, out: 0, frames: [] })
    bob.connect()
    await bob.sync()
    const reconnect = wire.in + wire.out
    for (const roomId of changed) expect((await bob.getRoomById(roomId)).options['option-k0']).toBe('changed while away')
    const catchUp = wire.frames.filter((f) => f.type === 'sync')
    expect(catchUp.flatMap((f) => f.rooms ?? []).map((r) => r.id).sort()).toEqual([...changed].sort())
    expect(catchUp.flatMap((f) => f.rooms ?? []).every((r) => r.optionsState !== undefined)).toBe(true)
    console.log(`full sync of 1,000 rooms: ${full} B; reconnect with 10 changed: ${reconnect} B (${((100 * reconnect) / full).toFixed(2)}%)`)
    expect(reconnect).toBeLessThanOrEqual(0.05 * full)
  }, 120_000)
})
