/**
 * Interop (issue 4): a standard y-websocket `WebsocketProvider` (Node, `ws`, BroadcastChannel off)
 * opens a room's options document at `/yjs/<roomId>?token=…`, reads and writes it under the same
 * authorization and validation as engines, and engines see its changes and it sees theirs.
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { WebsocketProvider } from 'y-websocket'
import { CLOSE_CODES, captureUpdate, optionsDocFrom, readOptions, setOption } from '@parlor/protocol'
import { defer, query, session, sharedRelay, signedInMany, syncAll, uid, type TestRelay } from './harness.js'

const relay = sharedRelay()

interface Opened {
  doc: Y.Doc
  provider: WebsocketProvider
  /** Resolves with the first close the relay sent (code and reason). */
  closed: Promise<{ code: number; reason: string }>
  synced: Promise<void>
}

/** A y-websocket provider on a room's options document, destroyed when the test ends. */
function provider(r: TestRelay, roomId: string, token: string): Opened {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(`${r.url.replace(/^http/, 'ws')}/yjs`, roomId, doc, {
    WebSocketPolyfill: WebSocket as never,
    // Node 20 has a global BroadcastChannel: without this two providers in one process would sync
    // with each other and not through the relay.
    disableBc: true,
    params: { token },
  })
  defer(() => {
    provider.destroy()
    doc.destroy()
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    provider.on('connection-close', (event) => event && resolve({ code: event.code, reason: event.reason })),
  )
  const synced = new Promise<void>((resolve) => {
    if (provider.synced) return resolve()
    provider.on('sync', (isSynced: boolean) => isSynced && resolve())
  })
  return { doc, provider, closed, synced }
}

const within = <T>(p: Promise<T>, what: string, ms = 5_000): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms))])

/** A protocol-level y-websocket client: sends sync messages, records the updates it is sent. */
async function rawSocket(r: TestRelay, roomId: string, token: string) {
  const ws = new WebSocket(`${r.url.replace(/^http/, 'ws')}/yjs/${encodeURIComponent(roomId)}?token=${token}`)
  defer(() => ws.close())
  const updates: Uint8Array[] = []
  let state: Uint8Array | undefined
  ws.on('message', (data: Buffer) => {
    const d = decoding.createDecoder(new Uint8Array(data))
    if (decoding.readVarUint(d) !== 0) return
    const type = decoding.readVarUint(d)
    const payload = decoding.readVarUint8Array(d)
    if (type === 1) state = payload
    else if (type === 2) updates.push(payload)
  })
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  const sync = (type: number, payload: Uint8Array) =>
    ws.send(encoding.encode((e) => {
      encoding.writeVarUint(e, 0)
      encoding.writeVarUint(e, type)
      encoding.writeVarUint8Array(e, payload)
    }))
  // Sync step 1 with an empty state vector: the relay answers the whole document (step 2).
  sync(0, Y.encodeStateVector(new Y.Doc()))
  await expect.poll(() => state, { timeout: 5_000 }).toBeDefined()
  return { updates, state: state!, send: (update: Uint8Array) => sync(2, update) }
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b))

describe('y-websocket interop', () => {
  it('reads a room\'s options, and its writes reach the engines while theirs reach it', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const room = await alice.createGroupRoom('Shared', [bob.userId], { options: { background: 'blue' } })
    await syncAll(alice, bob)
    const p = provider(relay(), room.id, relay().mintToken(alice.userId))
    await within(p.synced, 'the provider to sync')
    expect(readOptions(p.doc)).toEqual({ background: 'blue' })

    // The provider writes: the engines see it, live.
    const seen = new Promise((resolve) => bob.options(room.id).observe((o) => o.lat === '52.5' && resolve(o)))
    setOption(p.doc, 'lat', '52.5')
    await within(seen, 'bob\'s options event')
    await expect.poll(async () => (await alice.getRoomById(room.id)).options).toEqual({ background: 'blue', lat: '52.5' })

    // An engine writes: the provider sees it.
    await bob.options(room.id).set('background', 'red')
    await expect.poll(() => readOptions(p.doc)).toEqual({ background: 'red', lat: '52.5' })

    // Two providers sync through the relay (BroadcastChannel is off).
    const q = provider(relay(), room.id, relay().mintToken(bob.userId))
    await within(q.synced, 'the second provider to sync')
    expect(readOptions(q.doc)).toEqual({ background: 'red', lat: '52.5' })
    setOption(q.doc, 'zoom', '3')
    await expect.poll(() => readOptions(p.doc).zoom).toBe('3')
    await expect.poll(async () => (await alice.getRoomById(room.id)).options.zoom).toBe('3')
  })

  it('sends an update to the room\'s other sockets, and back to its sender only when the relay published more than it sent', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const room = await alice.createGroupRoom('Echo', [bob.userId], { options: { a: '1' } })
    await syncAll(alice, bob)
    const a = await rawSocket(relay(), room.id, relay().mintToken(alice.userId))
    const b = await rawSocket(relay(), room.id, relay().mintToken(bob.userId))
    const docA = optionsDocFrom([a.state], 101)
    const docB = optionsDocFrom([b.state], 102)
    const fromA = captureUpdate(docA, (d) => setOption(d, 'x', '1'))!
    a.send(fromA)
    await expect.poll(() => b.updates.some((u) => sameBytes(u, fromA))).toBe(true)
    Y.applyUpdate(docB, fromA)
    const fromB = captureUpdate(docB, (d) => setOption(d, 'y', '2'))!
    b.send(fromB)
    await expect.poll(() => a.updates.some((u) => sameBytes(u, fromB))).toBe(true)
    // Changes are published in seq order: had alice's own update come back, it would be here first.
    expect(a.updates.map((u) => Buffer.from(u).toString('base64'))).toEqual([Buffer.from(fromB).toString('base64')])
    expect(b.updates).toHaveLength(1)
    Y.applyUpdate(docA, fromB)

    // Both set one key at once: the relay removes the entry that loses, which the second sender lacks.
    const setA = captureUpdate(docA, (d) => setOption(d, 'k', 'from alice'))!
    const setB = captureUpdate(docB, (d) => setOption(d, 'k', 'from bob'))!
    a.send(setA)
    await expect.poll(() => b.updates.length).toBe(2)
    b.send(setB)
    await expect.poll(() => b.updates.length).toBe(3)
    expect(sameBytes(b.updates[2]!, setB)).toBe(false)
    await expect.poll(() => a.updates.length).toBe(2)
    for (const u of a.updates) Y.applyUpdate(docA, u)
    for (const u of b.updates) Y.applyUpdate(docB, u)
    expect(readOptions(docA)).toEqual(readOptions(docB))
    expect(optionsDocFrom([Y.encodeStateAsUpdate(docA)]).getArray('options').length).toBe(4)
    await expect.poll(async () => (await alice.getRoomById(room.id)).options).toEqual(readOptions(docA))
  })

  it('refuses a provider without a valid token, of a room it may not open, or of a room that does not exist', async () => {
    const [alice, outsider] = await signedInMany(relay(), ['alice', 'outsider'])
    const room = await alice.createGroupRoom('Private', [], { options: { secret: 'yes' } })
    await alice.sync()
    const cases: [string, string, string, number][] = [
      ['a forged token', room.id, 'not-a-token', CLOSE_CODES.refusedToken],
      ['an expired token', room.id, relay().mintToken(alice.userId, -1000), CLOSE_CODES.refusedToken],
      ['a non-participant', room.id, relay().mintToken(outsider.userId), CLOSE_CODES.forbidden],
      ['an unknown room', `g:${uid('none')}`, relay().mintToken(alice.userId), CLOSE_CODES.notFound],
    ]
    for (const [what, roomId, token, code] of cases) {
      const p = provider(relay(), roomId, token)
      const closed = await within(p.closed, what)
      expect(closed.code, what).toBe(code)
      expect(p.provider.synced, what).toBe(false)
      expect(readOptions(p.doc), what).toEqual({})
      p.provider.destroy()
    }
  })

  it('lets anyone signed in read a channel but only participants write it', async () => {
    const [owner, reader] = await signedInMany(relay(), ['owner', 'reader'])
    const uniqueId = uid('news')
    const room = await owner.getOrCreateRoomByChannel(uniqueId, 'News', undefined, { topic: 'daily' })
    await owner.sync()
    const p = provider(relay(), room.id, relay().mintToken(reader.userId))
    await within(p.synced, 'the reader to sync')
    expect(readOptions(p.doc)).toEqual({ topic: 'daily' })
    // Engines' changes reach the reader.
    await owner.options(room.id).set('topic', 'weekly')
    await expect.poll(() => readOptions(p.doc)).toEqual({ topic: 'weekly' })
    // Its own write is refused and the channel unchanged.
    setOption(p.doc, 'topic', 'hijacked')
    expect((await within(p.closed, 'the refusal')).code).toBe(CLOSE_CODES.forbidden)
    const token = await session(relay(), owner.userId)
    expect((await query(relay(), token, { name: 'getRoomById', args: { roomId: room.id } })).body.room.options).toEqual({ topic: 'weekly' })
  })

  it('closes a provider that sends an invalid update, with the reason, and leaves the document unchanged', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const room = await alice.createGroupRoom('Guarded', [bob.userId], { options: { a: '1' } })
    await syncAll(alice, bob)
    const p = provider(relay(), room.id, relay().mintToken(alice.userId))
    await within(p.synced, 'the provider to sync')
    p.doc.getArray('options').push([new Y.Map()])
    const closed = await within(p.closed, 'the refusal')
    expect(closed.code).toBe(CLOSE_CODES.invalidUpdate)
    expect(closed.reason).toMatch(/validation/)
    const token = await session(relay(), bob.userId)
    expect((await query(relay(), token, { name: 'getRoomById', args: { roomId: room.id } })).body.room.options).toEqual({ a: '1' })
    // The relay keeps working for everyone else.
    await bob.options(room.id).set('b', '2')
    await bob.sync()
    await expect.poll(async () => (await alice.getRoomById(room.id)).options).toEqual({ a: '1', b: '2' })
  })

  it('closes the provider of a participant who is removed', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const room = await alice.createGroupRoom('Club', [bob.userId])
    await syncAll(alice, bob)
    const p = provider(relay(), room.id, relay().mintToken(bob.userId))
    await within(p.synced, 'the provider to sync')
    await alice.removeParticipantsFromGroup(room.id, [bob.userId])
    await alice.sync()
    expect((await within(p.closed, 'the removal')).code).toBe(CLOSE_CODES.forbidden)
  })
})
