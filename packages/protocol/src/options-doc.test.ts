import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as Y from 'yjs'
import { isParlorError } from './errors.js'
import { LIMITS } from './limits.js'
import {
  captureUpdate,
  compactOptionsState,
  decodeOptionsUpdate,
  deleteOption,
  encodeOptionsUpdate,
  legacyOptionsState,
  optionsArray,
  optionsDocFrom,
  optionsOfState,
  readOptions,
  removeDuplicateOptions,
  replaceOptions,
  setOption,
  validateOptionsUpdate,
} from './options-doc.js'

const newDoc = () => {
  const d = new Y.Doc()
  optionsArray(d)
  return d
}
const state = (d: Y.Doc) => Y.encodeStateAsUpdate(d)
/** Sends everything `from` has that `to` lacks. */
const syncTo = (from: Y.Doc, to: Y.Doc) => Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)))

/** A deterministic pseudo-random generator (the tests print the seed they use). */
const rng = (seed: number) => () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)

describe('options document', () => {
  it('sets, overwrites, deletes and replaces keys', () => {
    const d = newDoc()
    setOption(d, 'a', '1')
    setOption(d, 'b', '2')
    setOption(d, 'a', 'one')
    expect(readOptions(d)).toEqual({ a: 'one', b: '2' })
    expect(optionsArray(d).length).toBe(2)
    deleteOption(d, 'b')
    expect(readOptions(d)).toEqual({ a: 'one' })
    replaceOptions(d, { a: 'one', c: '3' })
    expect(readOptions(d)).toEqual({ a: 'one', c: '3' })
  })

  it('replaces only the keys that differ, so a concurrent edit of another key survives', () => {
    const [a, b] = [newDoc(), newDoc()]
    setOption(a, 'x', '1')
    setOption(a, 'y', '2')
    syncTo(a, b)
    replaceOptions(a, { x: 'A', y: '2' })
    setOption(b, 'y', 'B')
    syncTo(a, b)
    syncTo(b, a)
    expect(readOptions(a)).toEqual({ x: 'A', y: 'B' })
    expect(readOptions(b)).toEqual(readOptions(a))
  })

  it('lets the rightmost of concurrent sets win everywhere, and a replica removes the losers', () => {
    const [a, b, c] = [newDoc(), newDoc(), newDoc()]
    setOption(a, 'k', 'from a')
    setOption(b, 'k', 'from b')
    setOption(c, 'k', 'from c')
    for (const x of [a, b, c]) for (const y of [a, b, c]) if (x !== y) syncTo(x, y)
    const winner = readOptions(a).k
    expect([readOptions(b).k, readOptions(c).k]).toEqual([winner, winner])
    expect(optionsArray(a).length).toBe(3)
    expect(removeDuplicateOptions(b)).toBe(true)
    syncTo(b, a)
    syncTo(b, c)
    for (const x of [a, b, c]) {
      expect(readOptions(x)).toEqual({ k: winner })
      expect(optionsArray(x).length).toBe(1)
    }
    expect(removeDuplicateOptions(a)).toBe(false)
  })

  it('captures the update of a change, and nothing for a change that changes nothing', () => {
    const d = newDoc()
    const u = captureUpdate(d, (doc) => setOption(doc, 'a', '1'))
    expect(u).toBeInstanceOf(Uint8Array)
    expect(optionsOfState(u)).toEqual({ a: '1' })
    expect(captureUpdate(d, (doc) => replaceOptions(doc, { a: '1' }))).toBeUndefined()
  })

  it('writes as the given client even when the updates it starts from hold that client\'s earlier changes', () => {
    const first = captureUpdate(optionsDocFrom([], 4242), (d) => setOption(d, 'a', '1'))!
    const second = captureUpdate(optionsDocFrom([first], 4242), (d) => setOption(d, 'a', '2'))!
    const clients = (u: Uint8Array) => Y.decodeUpdate(u).structs.map((s) => s.id.client)
    expect(clients(first)).toEqual([4242])
    expect(clients(second)).toEqual([4242])
    // Consecutive clocks of one client, next to each other: its two overwritten entries merge into one struct.
    const third = captureUpdate(optionsDocFrom([first, second], 4242), (d) => setOption(d, 'a', '3'))!
    const doc = optionsDocFrom([first, second, third])
    expect(doc.store.clients.get(4242)!.map((s) => [s.length, s.deleted])).toEqual([[2, true], [1, false]])
  })

  it('makes the same legacy state for the same map, and compacts without losing entries', () => {
    expect(legacyOptionsState({ b: '2', a: '1' })).toEqual(legacyOptionsState({ a: '1', b: '2' }))
    expect(optionsOfState(legacyOptionsState({ a: '1' }), legacyOptionsState({ a: '1' }))).toEqual({ a: '1' })
    const d = newDoc()
    const updates: Uint8Array[] = []
    d.on('update', (u: Uint8Array) => void updates.push(u))
    for (let i = 0; i < 50; i++) setOption(d, `k${i % 5}`, `v${i}`)
    const compact = compactOptionsState(updates)
    expect(optionsOfState(compact)).toEqual(readOptions(d))
    expect(compact.length).toBeLessThan(Y.mergeUpdates(updates).length)
  })

  it('round-trips updates as base64 and refuses text that is not base64', () => {
    const u = new Uint8Array([0, 1, 2, 250, 255])
    expect(decodeOptionsUpdate(encodeOptionsUpdate(u))).toEqual(u)
    for (const bad of ['***', 'abc', 'YQ=x']) expect(() => decodeOptionsUpdate(bad)).toThrowError(expect.objectContaining({ code: 'validation' }))
  })

  it('keeps the encoded state within 2× a fresh document after 100,000 overwrites of 10 keys by 3 clients', () => {
    const seed = 42
    const random = rng(seed)
    const docs = [newDoc(), newDoc(), newDoc()]
    const queues: Uint8Array[][] = [[], [], []]
    docs.forEach((d, i) =>
      d.on('update', (u: Uint8Array, origin: unknown) => {
        if (origin !== 'remote') for (let j = 0; j < 3; j++) if (j !== i) queues[j]!.push(u)
      }),
    )
    const deliver = () => docs.forEach((d, j) => queues[j]!.splice(0).forEach((u) => Y.applyUpdate(d, u, 'remote')))
    for (let i = 0; i < 100_000; i++) {
      setOption(docs[Math.floor(random() * 3)]!, `key-${Math.floor(random() * 10)}`, `value-${i}`.padEnd(20, '.'))
      // Deliver now and then, so some sets are concurrent; one replica removes the losers.
      if (random() < 0.3) {
        deliver()
        removeDuplicateOptions(docs[0]!)
        deliver()
      }
    }
    deliver()
    removeDuplicateOptions(docs[0]!)
    deliver()
    const live = readOptions(docs[0]!)
    expect(Object.keys(live)).toHaveLength(10)
    for (const d of docs) expect(readOptions(d), `seed ${seed}`).toEqual(live)
    const fresh = newDoc()
    for (const [k, v] of Object.entries(live)) setOption(fresh, k, v)
    const churned = state(docs[0]!).length
    expect(churned, `churned ${churned} B vs fresh ${state(fresh).length} B`).toBeLessThanOrEqual(2 * state(fresh).length)
  }, 60_000)

  it('converges: random sets and deletes from 3 documents, delivered in random order, give equal maps', () => {
    const op = fc.record({
      doc: fc.integer({ min: 0, max: 2 }),
      key: fc.constantFrom('a', 'b', 'c', 'd'),
      value: fc.option(fc.string({ maxLength: 4 }), { nil: null }),
    })
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 200 }), fc.boolean(), (ops, order, isCleaning) => {
        const docs = [newDoc(), newDoc(), newDoc()]
        const sent: { to: number; update: Uint8Array }[] = []
        docs.forEach((d, i) =>
          d.on('update', (u: Uint8Array, origin: unknown) => {
            if (origin === 'remote') return
            for (let j = 0; j < 3; j++) if (j !== i) sent.push({ to: j, update: u })
          }),
        )
        let k = 0
        const deliverOne = () => {
          const pick = (order[k++ % Math.max(order.length, 1)] ?? 0) % sent.length
          const [{ to, update }] = sent.splice(pick, 1) as [{ to: number; update: Uint8Array }]
          Y.applyUpdate(docs[to]!, update, 'remote')
        }
        for (const o of ops) {
          const d = docs[o.doc]!
          if (o.value === null) deleteOption(d, o.key)
          else setOption(d, o.key, o.value)
          // Deliver some of what is in flight, in random order.
          while (sent.length > 0 && (order[k % Math.max(order.length, 1)] ?? 0) % 3 === 0) deliverOne()
          if (isCleaning) removeDuplicateOptions(docs[o.doc]!)
          k++
        }
        while (sent.length > 0) deliverOne()
        const maps = docs.map(readOptions)
        expect(maps[1]).toEqual(maps[0])
        expect(maps[2]).toEqual(maps[0])
      }),
      { numRuns: 300 },
    )
  }, 60_000)
})

describe('validateOptionsUpdate', () => {
  const base = () => {
    const d = newDoc()
    setOption(d, 'a', '1')
    return d
  }
  const expectRefused = (st: Uint8Array | undefined, update: Uint8Array, codes: string[] = ['validation']) => {
    let error: unknown
    try {
      validateOptionsUpdate(st, update)
    } catch (e) {
      error = e
    }
    expect(isParlorError(error), String(error)).toBe(true)
    expect(codes).toContain((error as { code: string }).code)
  }
  const updateOf = (d: Y.Doc, fn: (doc: Y.Doc) => void) => {
    const u = captureUpdate(d, fn)
    if (!u) throw new Error('no update')
    return u
  }

  it('accepts a valid update, answers the map, and says when an update brings nothing new', () => {
    const d = base()
    const st = state(d)
    const u = updateOf(d, (doc) => setOption(doc, 'b', '2'))
    const r = validateOptionsUpdate(st, u)
    expect(r.options).toEqual({ a: '1', b: '2' })
    expect(optionsOfState(st, r.effective)).toEqual({ a: '1', b: '2' })
    expect(validateOptionsUpdate(state(d), u).effective).toBeUndefined()
  })

  it('removes the losers of concurrent sets as part of the accepted update', () => {
    const [a, b] = [base(), newDoc()]
    syncTo(a, b)
    const st0 = state(a)
    const ua = updateOf(a, (doc) => setOption(doc, 'a', 'A'))
    const ub = updateOf(b, (doc) => setOption(doc, 'a', 'B'))
    const relay = optionsDocFrom([st0, ua])
    const st = Y.encodeStateAsUpdate(relay)
    Y.applyUpdate(relay, ub)
    const winner = readOptions(relay).a
    const r = validateOptionsUpdate(st, ub)
    expect(r.options).toEqual({ a: winner })
    const after = optionsDocFrom([st, r.effective])
    expect(optionsArray(after).length).toBe(1)
  })

  it('writes entries as [key, value] pairs and still reads and replaces { key, val } objects of older documents', () => {
    const old = newDoc()
    optionsArray(old).push([{ key: 'colour', val: 'red' }, { key: 'lat', val: '1.5' }])
    const doc = optionsDocFrom([state(old)])
    expect(readOptions(doc)).toEqual({ colour: 'red', lat: '1.5' })
    const u = updateOf(doc, (d) => setOption(d, 'colour', 'blue'))
    expect(optionsArray(doc).toArray()).toEqual([{ key: 'lat', val: '1.5' }, ['colour', 'blue']])
    // The relay accepts the pair over an object entry, and older object entries from other writers.
    expect(validateOptionsUpdate(state(old), u).options).toEqual({ colour: 'blue', lat: '1.5' })
    const older = updateOf(optionsDocFrom([state(old)]), (d) => optionsArray(d).push([{ key: 'lng', val: '2' }]))
    expect(validateOptionsUpdate(state(old), older).options).toEqual({ colour: 'red', lat: '1.5', lng: '2' })
    // A pair is the smaller encoding: 8 bytes less per entry than an object.
    const asObject = updateOf(optionsDocFrom([state(old)], 7), (d) => optionsArray(d).push([{ key: 'k', val: 'v' }]))
    const asPair = updateOf(optionsDocFrom([state(old)], 7), (d) => optionsArray(d).push([['k', 'v']]))
    expect(asObject.length - asPair.length).toBe(8)
  })

  it('refuses nested types, non-string values, map entries, other roots and other content', () => {
    const st = state(base())
    const hostile: [string, (doc: Y.Doc) => void][] = [
      ['a nested map', (doc) => optionsArray(doc as never).push([new Y.Map() as never])],
      ['a nested array inside an entry', (doc) => (doc.getArray('options') as Y.Array<unknown>).push([{ key: 'k', val: ['x'] }])],
      ['a number value', (doc) => (doc.getArray('options') as Y.Array<unknown>).push([{ key: 'k', val: 1 }])],
      ['a bare string', (doc) => (doc.getArray('options') as Y.Array<unknown>).push(['just text'])],
      ['an extra field', (doc) => (doc.getArray('options') as Y.Array<unknown>).push([{ key: 'k', val: 'v', more: 'x' }])],
      ['binary content', (doc) => (doc.getArray('options') as Y.Array<unknown>).push([new Uint8Array([1, 2])])],
      ['a pair of three', (doc) => (doc.getArray('options') as Y.Array<unknown>).push([['k', 'v', 'x']])],
      ['a pair with a number', (doc) => (doc.getArray('options') as Y.Array<unknown>).push([['k', 1]])],
      ['a pair holding a pair', (doc) => (doc.getArray('options') as Y.Array<unknown>).push([['k', ['v', 'w']]])],
      ['another root', (doc) => doc.getMap('other').set('a', 'b')],
      ['another root text', (doc) => doc.getText('notes').insert(0, 'hi')],
      ['a reserved key', (doc) => setOption(doc, '__proto__', 'x')],
    ]
    for (const [what, fn] of hostile) {
      const d = optionsDocFrom([st])
      const u = captureUpdate(d, fn)!
      expect(u, what).toBeDefined()
      expectRefused(st, u)
    }
    // Map entries on the root "options": written by a client that took it for a Y.Map.
    const asMap = new Y.Doc()
    asMap.getMap('options').set('a', 'b')
    expectRefused(st, state(asMap))
  })

  it('refuses updates past the limits', () => {
    const st = state(base())
    const tooMany = updateOf(optionsDocFrom([st]), (doc) => {
      for (let i = 0; i < LIMITS.maxOptionKeys; i++) setOption(doc, `k${i}`, 'v')
    })
    expectRefused(st, tooMany, ['limit_exceeded'])
    expectRefused(st, updateOf(optionsDocFrom([st]), (doc) => setOption(doc, 'k'.repeat(LIMITS.maxOptionKeyBytes + 1), 'v')))
    expectRefused(st, updateOf(optionsDocFrom([st]), (doc) => setOption(doc, 'k', 'v'.repeat(LIMITS.maxOptionValueBytes + 1))))
    const tooBig = updateOf(optionsDocFrom([st]), (doc) => {
      for (let i = 0; i < 9; i++) setOption(doc, `k${i}`, 'v'.repeat(1000))
    })
    expectRefused(st, tooBig, ['limit_exceeded'])
  })

  it('refuses random, truncated and dependent bytes with validation, throwing nothing else', () => {
    const d = base()
    const st = state(d)
    const random = rng(7)
    const u1 = updateOf(d, (doc) => setOption(doc, 'b', '2'))
    const u2 = updateOf(d, (doc) => setOption(doc, 'b', '3'))
    // u2 deletes u1's entry and sits after it: without u1 it cannot be applied.
    expectRefused(st, u2)
    for (let i = 1; i < u1.length; i++) {
      try {
        validateOptionsUpdate(st, u1.subarray(0, i))
      } catch (e) {
        expect(isParlorError(e, 'validation'), `truncated at ${i}: ${String(e)}`).toBe(true)
      }
    }
    for (let i = 0; i < 500; i++) {
      const bytes = new Uint8Array(1 + Math.floor(random() * 64)).map(() => Math.floor(random() * 256))
      try {
        validateOptionsUpdate(st, bytes)
      } catch (e) {
        expect(isParlorError(e) && ['validation', 'limit_exceeded'].includes(e.code), String(e)).toBe(true)
      }
    }
    expectRefused(st, new Uint8Array(0))
    expectRefused(undefined, new Uint8Array(LIMITS.maxOptionsUpdateBytes + 1), ['limit_exceeded'])
    // The state itself is untouched.
    expect(optionsOfState(st)).toEqual({ a: '1' })
  })
})
