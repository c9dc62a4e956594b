/**
 * Interop (issue 4): a standard y-websocket `WebsocketProvider` (Node, `ws`, BroadcastChannel off)
 * opens a room's options document at `/yjs/<roomId>?token=…`, reads and writes it under the same
 * authorization and validation as engines, and engines see its changes and it sees theirs.
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { CLOSE_CODES, optionsArray, readOptions, setOption } from '@parlor/protocol'
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

  it('sends an update to the other providers, not back to the one that sent it, unless the relay added to it', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const room = await alice.createGroupRoom('Echo', [bob.userId], { options: { background: 'blue' } })
    await syncAll(alice, bob)
    const p = provider(relay(), room.id, relay().mintToken(alice.userId))
    const q = provider(relay(), room.id, relay().mintToken(bob.userId))
    await within(Promise.all([p.synced, q.synced]), 'both providers to sync')
    const updatesTo = (o: Opened) => {
      const got: Uint8Array[] = []
      // A sync message (0) of type update (2).
      ;(o.provider.ws as unknown as WebSocket).on('message', (data: ArrayBuffer) => {
        const bytes = new Uint8Array(data)
        if (bytes[0] === 0 && bytes[1] === 2) got.push(bytes)
      })
      return got
    }
    const [toP, toQ] = [updatesTo(p), updatesTo(q)]
    setOption(p.doc, 'lat', '52.5')
    await expect.poll(() => readOptions(q.doc).lat).toBe('52.5')
    // The relay writes to a socket in order: an echo of p's update would reach p before q's.
    setOption(q.doc, 'zoom', '3')
    await expect.poll(() => readOptions(p.doc).zoom).toBe('3')
    expect([toP.length, toQ.length]).toEqual([1, 1])

    // Offline, q sets a key p sets too: the relay removes the losing entry when q's update comes,
    // and that removal (more than q sent) reaches q as well.
    q.provider.disconnect()
    await expect.poll(() => q.provider.wsconnected).toBe(false)
    setOption(q.doc, 'color', 'red')
    setOption(p.doc, 'color', 'green')
    await expect.poll(async () => (await alice.getRoomById(room.id)).options.color).toBe('green')
    q.provider.connect()
    const colorEntries = (doc: Y.Doc) => optionsArray(doc).toArray().filter((e) => ('key' in e ? e.key : e[0]) === 'color')
    // Before q's update reaches the relay each has its own entry; then q holds both until the removal comes.
    const converged = () => [colorEntries(q.doc).length, colorEntries(p.doc).length, readOptions(q.doc).color === readOptions(p.doc).color]
    expect(converged()).toEqual([1, 1, false])
    await expect.poll(converged).toEqual([1, 1, true])
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
      ['a path that is no room id', 'g:a b\u0000', relay().mintToken(alice.userId), CLOSE_CODES.notFound],
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
