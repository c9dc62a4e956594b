/**
 * Property: three engines making random changes with random offline periods, lost
 * acknowledgements, engine restarts and relay restarts end — once all are back online and synced —
 * with every engine's cache equal to the relay's state, and every mutation applied exactly once.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import { createEngine } from '@parlor/engine'
import { interceptingSocket, keyOf, query, session, startRelay, uid, type TestRelay } from './harness.js'

type Engine = ReturnType<typeof createEngine>

interface Device {
  userId: string
  idb: IDBFactory
  engine: Engine
  online: boolean
  /** When set, the next ack this device receives is lost together with its connection. */
  loseNextAck: { value: boolean }
}

type Op =
  | { kind: 'comment'; who: number }
  | { kind: 'option'; who: number; key: string; value: string | null }
  | { kind: 'rename'; who: number; name: string }
  | { kind: 'read'; who: number }
  | { kind: 'offline'; who: number }
  | { kind: 'online'; who: number }
  | { kind: 'loseAck'; who: number }
  | { kind: 'restartEngine'; who: number }
  | { kind: 'restartRelay' }

const who = fc.integer({ min: 0, max: 2 })
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('comment' as const), who }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('option' as const), who, key: fc.constantFrom('bg', 'lat', 'lng'), value: fc.option(fc.constantFrom('red', 'blue', '1.5', '2'), { nil: null }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rename' as const), who, name: fc.constantFrom('One', 'Two', 'Three') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('read' as const), who }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('offline' as const), who }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('online' as const), who }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('loseAck' as const), who }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restartEngine' as const), who }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restartRelay' as const }) },
)

function lossySocket(loseNextAck: { value: boolean }) {
  return interceptingSocket((data, socket) => {
    if (!loseNextAck.value || !data.startsWith('{"type":"ack"')) return true
    loseNextAck.value = false
    socket.terminate()
    return false
  })
}

async function open(relay: TestRelay, d: Omit<Device, 'engine'>): Promise<Engine> {
  const engine = createEngine({
    relayUrl: relay.url,
    dbName: `prop-${d.userId}`,
    indexedDB: d.idb,
    IDBKeyRange,
    WebSocket: lossySocket(d.loseNextAck) as never,
    backoff: { baseMs: 20, maxMs: 200 },
  })
  await engine.setUser(d.userId, keyOf(d.userId))
  if (!d.online) await engine.disconnect()
  return engine
}

const visibleText = (cs: { text: string; type: string }[]) => cs.filter((c) => c.type !== 'system_event').map((c) => c.text)

async function runScenario(ops: Op[]): Promise<void> {
  let relay = await startRelay()
  const devices: Device[] = []
  for (const name of ['a', 'b', 'c']) {
    const d = { userId: uid(name), idb: new IDBFactory(), online: true, loseNextAck: { value: false } }
    devices.push({ ...d, engine: await open(relay, d) })
  }
  try {
    const [a, b, c] = devices as [Device, Device, Device]
    const room = await a.engine.createGroupRoom('Start', [b.userId, c.userId])
    await Promise.all(devices.map((d) => d.engine.sync()))
    await expect.poll(async () => Promise.all(devices.map(async (d) => (await d.engine.getRoomsInfo({ room_ids: [room.id] })).length))).toEqual([1, 1, 1])

    const sent: string[] = []
    let n = 0
    for (const o of ops) {
      const d = o.kind === 'restartRelay' ? undefined : devices[o.who]!
      switch (o.kind) {
        case 'comment': {
          const text = `${d!.userId}#${n++}`
          sent.push(text)
          await d!.engine.sendComment(room.id, text)
          break
        }
        case 'option':
          if (o.value === null) await d!.engine.options(room.id).delete(o.key)
          else await d!.engine.options(room.id).set(o.key, o.value)
          break
        case 'rename':
          await d!.engine.updateRoom({ id: room.id, room_name: o.name })
          break
        case 'read': {
          const last = (await d!.engine.loadComments(room.id, { limit: 1 })).at(-1)
          if (last?.id !== undefined) await d!.engine.markAsRead(room.id, last.id)
          break
        }
        case 'offline':
          d!.online = false
          await d!.engine.disconnect()
          break
        case 'online':
          d!.online = true
          d!.engine.connect()
          break
        case 'loseAck':
          d!.loseNextAck.value = true
          break
        case 'restartEngine':
          await d!.engine.close()
          d!.engine = await open(relay, d!)
          break
        case 'restartRelay':
          relay = await relay.restart()
          break
      }
    }

    for (const d of devices) {
      d.online = true
      d.engine.connect()
    }
    for (let round = 0; round < 2; round++) await Promise.all(devices.map((d) => d.engine.sync()))

    // The relay's state, read over HTTP.
    const token = await session(relay, a.userId)
    const relayRoom = (await query(relay, token, { name: 'getRoomById', args: { roomId: room.id } })).body
    const relayComments = (await query(relay, token, { name: 'loadComments', args: { roomId: room.id, limit: 100 } })).body.comments as { text: string; type: string; id: number }[]

    // Every mutation took effect exactly once: each comment once, none lost.
    expect(visibleText(relayComments).sort()).toEqual([...sent].sort())
    for (const d of devices) {
      await expect
        .poll(async () => {
          const local = await d.engine.getRoomById(room.id)
          const comments = await d.engine.loadComments(room.id, { limit: 100 })
          return { name: local.name, options: local.options, comments: comments.map((c) => [c.id, c.text]), syncState: local.syncState }
        })
        .toEqual({
          name: relayRoom.room.name,
          options: relayRoom.room.options,
          comments: relayComments.map((c) => [c.id, c.text]),
          syncState: 'synced',
        })
      expect(d.engine.status()).toMatchObject({ online: true, pending: 0 })
    }
  } finally {
    await Promise.all(devices.map((d) => d.engine.close()))
    await relay.stop()
  }
}

describe('convergence (property)', () => {
  it('every cache equals the relay and every mutation applies exactly once, whatever the faults', async () => {
    const seed = Number(process.env.FC_SEED ?? Math.floor(Math.random() * 2 ** 31))
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 25 }), (ops) => runScenario(ops)),
      { seed, numRuns: Number(process.env.FC_RUNS ?? 6), endOnFailure: true, reporter: (r) => {
        if (r.failed) throw new Error(`convergence failed (seed ${seed}, replay with FC_SEED=${seed}):\n${fc.defaultReportMessage(r)}`)
      } },
    )
  }, 120_000)
})
