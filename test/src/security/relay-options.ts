/**
 * A relay for the security tests: the harness's `startRelay` with `createRelay` options (short
 * heartbeats, small rate limits, short token lifetimes), so limits can be tested at their edges
 * quickly. The handle fits the harness helpers (`api`, `rawSocket`, `relayView`).
 */
import WebSocket from 'ws'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import { createEngine } from '@parlor/engine'
import { LIMITS } from '@parlor/protocol'
import { countingSockets, defer, keyOf, startRelay, uid, type TestRelay, type TestRelayOptions } from '../harness.js'

export type SecurityRelayOptions = TestRelayOptions & { dataDir?: string; port?: number }

/** A real relay on 127.0.0.1 with `options`, in a fresh temp dir; stopped and removed afterwards. */
export function startRelayWith({ dataDir, port, ...options }: SecurityRelayOptions = {}): Promise<TestRelay> {
  return startRelay({ ...(dataDir !== undefined && { dataDir }), ...(port !== undefined && { port }), options })
}

/**
 * A relay that takes one frame a second with no burst, and an engine (sockets made from `Base`)
 * that queued three frames' worth of comments offline and has just drained them: the rate-limited
 * path end to end. Resolves with the relay, the room, the user and how many sockets were opened.
 */
export async function drainThroughOneFramePerSecond(Base: typeof WebSocket = WebSocket) {
  const relay = await startRelayWith({ maxFramesPerSecond: 1, maxFrameBurst: 1 })
  const counted = countingSockets(Base)
  const userId = uid('busy')
  const engine = createEngine({ relayUrl: relay.url, dbName: uid('db'), indexedDB: new IDBFactory(), IDBKeyRange, WebSocket: counted.Socket as never })
  defer(() => engine.close())
  await engine.setUser(userId, keyOf(userId))
  const room = await engine.createGroupRoom('busy', [])
  await engine.sync()
  await engine.disconnect()
  const count = 3 * LIMITS.maxMutationsPerFrame
  for (let i = 0; i < count; i++) await engine.sendComment(room.id, `m${i}`)
  engine.connect()
  await engine.sync()
  return { relay, room, userId, count, socketsOpened: counted.opened() }
}
