/**
 * Hostile options updates (issue 4): nested types, non-string values, other root names, updates
 * past the limits, random and truncated bytes — each refused with a code, over HTTP and over the
 * socket, leaving the relay's document (and the relay) unharmed.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { LIMITS, optionsOfState, setOption } from '@parlor/protocol'
import { api, mutate, mutation, query, rawSocket, session, sharedRelay, uid } from './harness.js'

const relay = sharedRelay()
const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64')

/** A doc holding the room's state, so hostile updates can build on it like a real client would. */
async function roomState(token: string, roomId: string): Promise<{ options: Record<string, string>; state: Uint8Array }> {
  const res = await query(relay(), token, { name: 'getRoomById', args: { roomId } })
  return { options: res.body.room.options, state: new Uint8Array(Buffer.from(res.body.room.optionsState ?? '', 'base64')) }
}

function updateOn(state: Uint8Array, fn: (doc: Y.Doc) => void): Uint8Array {
  const doc = new Y.Doc()
  doc.getArray('options')
  if (state.length > 0) Y.applyUpdate(doc, state)
  const sv = Y.encodeStateVector(doc)
  fn(doc)
  return Y.encodeStateAsUpdate(doc, sv)
}

function randomBytes(n: number, seed: number): Uint8Array {
  let s = seed
  return new Uint8Array(n).map(() => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24))
}

describe('hostile options updates', () => {
  it('refuses each with a code and leaves the relay\'s document unchanged', async () => {
    const alice = uid('alice')
    const token = await session(relay(), alice)
    const roomId = `g:${uid('room')}`
    const [created] = await mutate(relay(), token, mutation('createGroupRoom', { roomId, name: 'Target', userIds: [], options: { keep: 'me' } }))
    expect(created.ok).toBe(true)
    const before = await roomState(token, roomId)
    expect(optionsOfState(before.state)).toEqual({ keep: 'me' })
    const arr = (d: Y.Doc) => d.getArray('options') as Y.Array<unknown>
    const valid = updateOn(before.state, (d) => setOption(d, 'fine', 'yes'))

    const hostile: [string, Uint8Array][] = [
      ['a nested Y.Map', updateOn(before.state, (d) => arr(d).push([new Y.Map()]))],
      ['a nested Y.Text', updateOn(before.state, (d) => arr(d).push([new Y.Text('x')]))],
      ['a number value', updateOn(before.state, (d) => arr(d).push([{ key: 'n', val: 1 }]))],
      ['an object value', updateOn(before.state, (d) => arr(d).push([{ key: 'o', val: { deep: 'x' } }]))],
      ['a bare string entry', updateOn(before.state, (d) => arr(d).push(['loose']))],
      ['binary content', updateOn(before.state, (d) => arr(d).push([new Uint8Array([1, 2, 3])]))],
      ['another root map', updateOn(before.state, (d) => d.getMap('evil').set('a', 'b'))],
      ['another root text', updateOn(before.state, (d) => d.getText('notes').insert(0, 'hi'))],
      ['map entries on the options root', (() => {
        const d = new Y.Doc()
        d.getMap('options').set('k', 'v')
        return Y.encodeStateAsUpdate(d)
      })()],
      ['too many keys', updateOn(before.state, (d) => {
        for (let i = 0; i < LIMITS.maxOptionKeys; i++) setOption(d, `k${i}`, 'v')
      })],
      ['a key too long', updateOn(before.state, (d) => setOption(d, 'k'.repeat(LIMITS.maxOptionKeyBytes + 1), 'v'))],
      ['a value too long', updateOn(before.state, (d) => setOption(d, 'v', 'x'.repeat(LIMITS.maxOptionValueBytes + 1)))],
      ['a map too large', updateOn(before.state, (d) => {
        for (let i = 0; i < 9; i++) setOption(d, `big${i}`, 'x'.repeat(1000))
      })],
      ['a reserved key', updateOn(before.state, (d) => setOption(d, '__proto__', 'x'))],
      ['truncated bytes', valid.subarray(0, valid.length - 3)],
      ['random bytes', randomBytes(200, 7)],
      ['more random bytes', randomBytes(33, 99)],
    ]
    for (const [what, update] of hostile) {
      const [result] = await mutate(relay(), token, mutation('updateOptions', { roomId, update: b64(update) }))
      expect(result.ok, what).toBe(false)
      expect(['validation', 'limit_exceeded'], `${what}: ${JSON.stringify(result.error)}`).toContain(result.error.code)
    }

    // Not base64, or larger than an update may be: the whole body is refused.
    for (const [what, update] of [['not base64', '***'], ['too large', 'A'.repeat(Math.ceil(LIMITS.maxOptionsUpdateBytes / 3) * 4 + 4)]]) {
      const res = await api(relay(), '/v1/mutations', { mutations: [mutation('updateOptions', { roomId, update: update! })] }, token)
      expect(res.status, what).toBe(400)
      expect(res.body.error.code, what).toBe('validation')
    }

    // Over the socket too.
    const sock = await rawSocket(relay(), token)
    const m = mutation('updateOptions', { roomId, update: b64(hostile[0]![1]) })
    sock.send({ type: 'mutate', mutations: [m] })
    const ack = await sock.next((f) => f.type === 'ack')
    expect(ack.results[0]).toMatchObject({ ok: false, error: { code: 'validation' } })
    sock.close()

    // The document is as it was, and the relay still takes a valid update.
    const after = await roomState(token, roomId)
    expect(after.options).toEqual({ keep: 'me' })
    expect(optionsOfState(after.state)).toEqual({ keep: 'me' })
    const [ok] = await mutate(relay(), token, mutation('updateOptions', { roomId, update: b64(valid) }))
    expect(ok.ok).toBe(true)
    expect((await roomState(token, roomId)).options).toEqual({ keep: 'me', fine: 'yes' })
    expect((await api(relay(), '/healthz')).status).toBe(200)
  })

  it('never lets an update through that only a later one would make whole', async () => {
    const alice = uid('alice')
    const token = await session(relay(), alice)
    const roomId = `g:${uid('room')}`
    await mutate(relay(), token, mutation('createGroupRoom', { roomId, name: 'Deps', userIds: [] }))
    const doc = new Y.Doc()
    doc.getArray('options')
    const sv0 = Y.encodeStateVector(doc)
    setOption(doc, 'a', '1')
    const sv1 = Y.encodeStateVector(doc)
    setOption(doc, 'a', '2')
    const second = Y.encodeStateAsUpdate(doc, sv1)
    const everything = Y.encodeStateAsUpdate(doc, sv0)
    const [dependent] = await mutate(relay(), token, mutation('updateOptions', { roomId, update: b64(second) }))
    expect(dependent).toMatchObject({ ok: false, error: { code: 'validation' } })
    const [whole] = await mutate(relay(), token, mutation('updateOptions', { roomId, update: b64(everything) }))
    expect(whole.ok).toBe(true)
    expect((await roomState(token, roomId)).options).toEqual({ a: '2' })
    // A socket of this user still catches up (nothing got stuck).
    const sock = await rawSocket(relay(), token)
    expect(sock.frames[0]).toMatchObject({ type: 'sync' })
    sock.close()
  })
})
