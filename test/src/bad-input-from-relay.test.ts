/**
 * Fault injection: an engine talking to a relay that sends garbage. The engine must not crash (no
 * unhandled rejection, which vitest reports as a failure), must keep its cache intact and usable,
 * and must keep working once the relay talks sense again.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws'
import { LIMITS, groupRoomId } from '@parlor/protocol'
import { defer, makeEngine, uid } from './harness.js'

interface FakeRelay {
  url: string
  sockets: ServerSocket[]
  /** Resolves with the next socket that sent hello. */
  nextHello(): Promise<ServerSocket>
}

async function fakeRelay(userId: string): Promise<FakeRelay> {
  const sockets: ServerSocket[] = []
  const helloWaiters: Array<(s: ServerSocket) => void> = []
  const wss = new WebSocketServer({ noServer: true })
  const server: Server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/v1/session') {
      req.resume()
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ token: 'fake-token', expiresAt: Date.now() + 3_600_000, user: { userId, username: userId, avatarUrl: '' } }))
      })
      return
    }
    res.writeHead(404).end()
  })
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.push(ws)
      ws.on('message', (data) => {
        let f: { type?: string } = {}
        try {
          f = JSON.parse(data.toString())
        } catch {}
        if (f.type === 'hello') helloWaiters.shift()?.(ws)
      })
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  defer(async () => {
    for (const s of sockets) s.terminate()
    wss.close()
    await new Promise<void>((r) => server.close(() => r()))
  })
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, sockets, nextHello: () => new Promise((r) => helloWaiters.push(r)) }
}

const now = Date.now()
function room(id: string, name: string, version: number) {
  return {
    id,
    uniqueId: id,
    type: 'group',
    name,
    avatarUrl: '',
    options: {},
    participantCount: 1,
    lastComment: null,
    hasComments: false,
    createdAt: now,
    updatedAt: now,
    lastActivityAt: now,
    version,
    unreadCount: 0,
    isRemoved: false,
  }
}

describe('bad input from the relay', () => {
  it('survives malformed, mistyped, unknown and oversize frames, keeps its cache, and recovers', async () => {
    const userId = uid('victim')
    const fake = await fakeRelay(userId)
    const engine = makeEngine(fake.url)
    const firstHello = fake.nextHello()
    await engine.setUser(userId, 'key')
    const ws = await firstHello
    const roomId = groupRoomId(uid('r'))
    ws.send(JSON.stringify({ type: 'sync', userId, cursor: 1, isFull: true, rooms: [room(roomId, 'Good', 1)], participants: [], comments: [] }))
    await expect.poll(async () => (await engine.loadRoomList({ show_empty: true })).map((r) => r.name)).toEqual(['Good'])

    const garbage = [
      'this is not JSON',
      '[]',
      'null',
      JSON.stringify({ type: 'teleport' }),
      JSON.stringify({ type: 'sync' }),
      JSON.stringify({ type: 'change', seq: 'two', roomId }),
      JSON.stringify({ type: 'change', seq: 2, roomId, room: { ...room(roomId, 'Broken', 2), options: { a: 1 } } }),
      JSON.stringify({ type: 'change', seq: 2, roomId, comments: [{ id: 'x' }] }),
      JSON.stringify({ type: 'ack', results: [{ mutationId: 'never-sent', ok: true, value: {} }] }),
      JSON.stringify({ type: 'ack', results: 'all good' }),
      JSON.stringify({ type: 'result', id: 999, ok: true, value: 1 }),
      JSON.stringify({ type: 'error', error: { code: 'made_up', message: 'x' }, ref: 12345 }),
      JSON.stringify({ type: 'change', seq: 2, roomId, room: room(roomId, 'x'.repeat(LIMITS.maxFrameBytes + 10), 2) }),
    ]
    for (const g of garbage) if (ws.readyState === ws.OPEN) ws.send(g)
    // A ping round trip would not tell us the engine processed them; a last good frame does.
    const probe = groupRoomId(uid('probe'))
    const reconnected = fake.nextHello()
    if (ws.readyState === ws.OPEN) {
      ws.send(JSON.stringify({ type: 'change', seq: 3, roomId: probe, room: room(probe, 'Probe', 3) }))
    }
    // Whether the engine kept the socket or reconnected, it ends up with a working session:
    const answered = await Promise.race([
      expect
        .poll(async () => (await engine.loadRoomList({ show_empty: true })).map((r) => r.name).sort(), { timeout: 5_000 })
        .toEqual(['Good', 'Probe'])
        .then(() => 'same socket'),
      reconnected.then((s) => {
        s.send(JSON.stringify({ type: 'sync', userId, cursor: 3, isFull: false, rooms: [room(probe, 'Probe', 3)], participants: [], comments: [] }))
        return 'reconnected'
      }),
    ])
    expect(['same socket', 'reconnected']).toContain(answered)
    await expect.poll(async () => (await engine.loadRoomList({ show_empty: true })).map((r) => r.name).sort()).toEqual(['Good', 'Probe'])

    // The cache was never corrupted by the bad rows.
    const [good] = await engine.getRoomsInfo({ room_ids: [roomId] })
    expect(good).toMatchObject({ name: 'Good', options: {} })
    expect(await engine.getTotalUnreadCount()).toBe(0)
    await engine.close()
  })
})
