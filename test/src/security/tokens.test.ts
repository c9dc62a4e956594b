/**
 * Session tokens: they expire, the engine refreshes them on its open socket (an `auth` frame) without
 * reconnecting, a refresh for another user is refused, and logout revokes for good (a relay restart
 * keeps the session revoked) and clears the engine's local database.
 */
import { describe, expect, it } from 'vitest'
import { Dexie } from 'dexie'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import { CLOSE_CODES, groupRoomId } from '@parlor/protocol'
import { createEngine } from '@parlor/engine'
import { api, defer, interceptingSocket, keyOf, mutate, mutation, rawSocket, session, uid, countingSockets } from '../harness.js'
import { startRelayWith } from './relay-options.js'

const TTL_MS = 1_500

describe('session tokens', () => {
  it('keeps an engine online past several token lifetimes by refreshing on the open socket', async () => {
    const relay = await startRelayWith({ tokenTtlMs: TTL_MS })
    const authed: any[] = []
    const Counting = interceptingSocket((data) => {
      const f = JSON.parse(data)
      if (f.type === 'authed') authed.push(f)
      return true
    })
    const counted = countingSockets(Counting)
    const CountingSocket = counted.Socket
    const userId = uid('refresher')
    const engine = createEngine({ relayUrl: relay.url, dbName: uid('db'), indexedDB: new IDBFactory(), IDBKeyRange, WebSocket: CountingSocket as never })
    defer(() => engine.close())
    await engine.setUser(userId, keyOf(userId))
    await engine.sync()
    const started = Date.now()
    // Three refreshes: the socket has outlived its first token twice over.
    await expect.poll(() => authed.length, { timeout: 10_000, interval: 50 }).toBeGreaterThanOrEqual(3)
    expect(Date.now() - started).toBeGreaterThan(TTL_MS)
    expect(authed.every((f) => f.ok === true && f.userId === userId)).toBe(true)
    expect(counted.opened()).toBe(1)
    expect(engine.status().online).toBe(true)
    // Still serving on that socket.
    const room = await engine.createGroupRoom('after refreshes', [])
    await engine.sync()
    expect((await engine.getRoomsInfo({ room_ids: [room.id] }))[0]?.syncState).toBe('synced')
    expect(counted.opened()).toBe(1)
  })

  it('closes a socket whose token expires unrefreshed with tokenExpired, and refuses a refresh to another user', async () => {
    const relay = await startRelayWith()
    const alice = uid('alice')
    const bob = uid('bob')
    const aliceToken = await session(relay, alice)
    await session(relay, bob)
    const roomId = groupRoomId(uid('room'))
    await mutate(relay, aliceToken, mutation('createGroupRoom', { roomId, name: 'Alice only', userIds: [] }))

    const sock = await rawSocket(relay, relay.mintToken(alice, 60_000))
    sock.send({ type: 'auth', token: relay.mintToken(bob) })
    expect(await sock.next((f) => f.type === 'authed')).toMatchObject({ ok: false, error: { code: 'forbidden' } })
    // Still Alice's socket, with Alice's rooms, not Bob's.
    sock.send({ type: 'query', id: 1, query: { name: 'getRoomById', args: { roomId } } })
    expect(await sock.next((f) => f.type === 'result' && f.id === 1)).toMatchObject({ ok: true })
    for (const [token, code] of [['forged.token', 'unauthorized'], [relay.mintToken(alice, -1_000), 'token_expired']] as const) {
      sock.send({ type: 'auth', token })
      expect(await sock.next((f) => f.type === 'authed')).toMatchObject({ ok: false, error: { code } })
    }

    const shortLived = await rawSocket(relay, relay.mintToken(alice, 300))
    expect((await shortLived.closed).code).toBe(CLOSE_CODES.tokenExpired)
  })

  it('revokes a session on logout for good: its sockets close, its token is refused, also after a restart', async () => {
    const relay = await startRelayWith()
    const alice = uid('alice')
    const token = await session(relay, alice)
    const other = await session(relay, alice) // another device of Alice
    const sock = await rawSocket(relay, token)
    expect(await api(relay, '/v1/logout', undefined, token, { method: 'POST' })).toMatchObject({ status: 200, body: { ok: true } })
    expect((await sock.closed).code).toBe(CLOSE_CODES.unauthorized)
    expect((await api(relay, '/v1/sync', undefined, token)).body.error.code).toBe('unauthorized')
    const refused = await rawSocket(relay)
    refused.send({ type: 'hello', protocolVersion: 1, token, cursor: 0 })
    expect((await refused.closed).code).toBe(CLOSE_CODES.unauthorized)

    const restarted = await relay.restart()
    expect((await api(restarted, '/v1/sync', undefined, token)).body.error.code).toBe('unauthorized')
    expect((await api(restarted, '/v1/sync', undefined, other)).status).toBe(200)
    // Signing in again makes a new session.
    expect((await api(restarted, '/v1/sync', undefined, await session(restarted, alice))).status).toBe(200)
  })

  it('engine logout() revokes the session on the relay and clears the local database', async () => {
    const relay = await startRelayWith()
    const device = new IDBFactory()
    const dbName = uid('db')
    const alice = uid('alice')
    const engine = createEngine({ relayUrl: relay.url, dbName, indexedDB: device, IDBKeyRange, WebSocket: (await import('ws')).default as never })
    defer(() => engine.close())
    await engine.setUser(alice, keyOf(alice))
    const room = await engine.createGroupRoom('Mine', [])
    await engine.sendComment(room.id, 'secret')
    await engine.sync()
    await engine.disconnect()
    await engine.sendComment(room.id, 'queued, dropped by logout')
    // The token the engine holds (read from its database, as a thief with the device would).
    const stored = await withDexie(device, dbName, (db) => db.table('meta').get('session'))
    expect(stored.token).toEqual(expect.any(String))

    expect(await engine.logout()).toEqual({ revoked: true })
    expect(engine.currentUser()).toBeUndefined()
    expect((await api(relay, '/v1/sync', undefined, stored.token)).body.error.code).toBe('unauthorized')
    const counts = await withDexie(device, dbName, async (db) =>
      Object.fromEntries(await Promise.all(db.tables.map(async (t) => [t.name, await t.count()] as const))))
    // Every table of the engine's database, whatever tables later versions add, is empty.
    expect(Object.keys(counts)).toEqual(expect.arrayContaining(['rooms', 'participants', 'comments', 'outbox', 'meta', 'users']))
    expect(Object.entries(counts).filter(([, n]) => n !== 0)).toEqual([])
    expect(engine.status()).toMatchObject({ online: false, pending: 0 })
    const fresh = await session(relay, alice)
    expect((await api(relay, '/v1/sync', undefined, fresh)).text).not.toContain('dropped by logout')

    // The engine signs in again (another user) on the same device, from a clean slate.
    const bob = uid('bob')
    await engine.setUser(bob, keyOf(bob))
    await engine.sync()
    expect(await engine.loadRoomList({ show_empty: true })).toEqual([])
  })
})

async function withDexie<T>(indexedDB: IDBFactory, name: string, fn: (db: Dexie) => Promise<T>): Promise<T> {
  const db = new Dexie(name, { indexedDB, IDBKeyRange })
  await db.open()
  try {
    return await fn(db)
  } finally {
    db.close()
  }
}
