import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as Y from 'yjs'
import { isParlorError } from './errors.js'
import { LIMITS } from './limits.js'
import {
  ValidatedOptionsDoc,
  captureUpdate,
  compactOptionsState,
  optionsArray,
  optionsDocFrom,
  optionsOfState,
  setOption,
  deleteOption,
  validateOptionsUpdate,
} from './options-doc.js'

type Outcome = { ok: true; options: Record<string, string>; isEffective: boolean } | { ok: false; code: string }

function outcome(fn: () => { options: Record<string, string>; effective: Uint8Array | undefined }): Outcome {
  try {
    const r = fn()
    return { ok: true, options: r.options, isEffective: r.effective !== undefined }
  } catch (e) {
    if (!isParlorError(e)) throw e
    return { ok: false, code: e.code }
  }
}

const KEYS = ['a', 'b', 'c', 'd', '__proto__']

/** One client's step: a valid change, a hostile one, or bytes that are no update at all. */
const stepArb = fc.record({
  writer: fc.nat(2),
  kind: fc.constantFrom('set', 'set', 'set', 'delete', 'insertAt', 'deleteAt', 'big', 'many', 'nested', 'number', 'root', 'map', 'random', 'truncated', 'skip', 'resend'),
  key: fc.constantFrom(...KEYS),
  value: fc.string({ maxLength: 8 }),
  bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  cut: fc.nat(),
})

describe('ValidatedOptionsDoc', () => {
  it('answers every update in a sequence as a fresh check of the state before it would, and a refusal leaves it unchanged', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 60 }), (steps) => {
        const live = new ValidatedOptionsDoc()
        let reference: Uint8Array | undefined
        const writers = [0, 1, 2].map(() => optionsDocFrom([]))
        /** Updates a writer made but has not sent yet (the "skip" step holds one back). */
        const held: Uint8Array[][] = [[], [], []]
        let last: Uint8Array | undefined
        for (const s of steps) {
          const w = writers[s.writer]!
          let update: Uint8Array | undefined
          switch (s.kind) {
            case 'set':
              update = captureUpdate(w, (d) => setOption(d, s.key, s.value))
              break
            case 'delete':
              update = captureUpdate(w, (d) => deleteOption(d, s.key))
              break
            // Raw array edits anywhere (valid entries): they split the runs of the document's structs.
            case 'insertAt':
              update = captureUpdate(w, (d) => optionsArray(d).insert(s.cut % (optionsArray(d).length + 1), [{ key: s.key, val: s.value }, { key: `${s.key}2`, val: s.value }]))
              break
            case 'deleteAt':
              update = captureUpdate(w, (d) => optionsArray(d).length > 0 && optionsArray(d).delete(s.cut % optionsArray(d).length, 1))
              break
            case 'big':
              update = captureUpdate(w, (d) => setOption(d, s.key, 'v'.repeat(LIMITS.maxOptionValueBytes + 1)))
              break
            case 'many':
              update = captureUpdate(w, (d) => {
                for (let i = 0; i <= LIMITS.maxOptionKeys; i++) setOption(d, `k${i}`, 'v')
              })
              break
            case 'nested':
              update = captureUpdate(w, (d) => (optionsArray(d) as unknown as Y.Array<unknown>).push([new Y.Map()]))
              break
            case 'number':
              update = captureUpdate(w, (d) => (optionsArray(d) as unknown as Y.Array<unknown>).push([{ key: s.key, val: 1 }]))
              break
            case 'root':
              update = captureUpdate(w, (d) => d.getMap('other').set(s.key, s.value))
              break
            case 'map':
              update = captureUpdate(w, (d) => (optionsArray(d) as unknown as Y.Map<unknown>)._map && d.getMap('options2').set('x', 'y'))
              break
            case 'random':
              update = s.bytes
              break
            case 'truncated': {
              const u = captureUpdate(w, (d) => setOption(d, s.key, s.value))
              update = u && u.subarray(0, Math.max(1, s.cut % u.length))
              break
            }
            case 'skip': {
              // Made but held back: the next update of this writer depends on something the relay lacks.
              const u = captureUpdate(w, (d) => setOption(d, s.key, s.value))
              if (u) held[s.writer]!.push(u)
              continue
            }
            case 'resend':
              update = last
              break
          }
          if (!update) continue
          last = update
          const fresh = outcome(() => validateOptionsUpdate(reference, update))
          // Read through the document itself: reading live.state would encode it (and reset its size bound).
          const internal = () => (live as unknown as { doc: Y.Doc }).doc
          const before = Y.encodeStateAsUpdate(internal())
          const got = outcome(() => live.apply(update))
          expect(got).toEqual(fresh)
          if (got.ok) {
            const r = validateOptionsUpdate(reference, update)
            if (r.effective) reference = compactOptionsState([reference, r.effective].filter((x): x is Uint8Array => x !== undefined))
          } else {
            // Unchanged, and the writer starts over from the relay's document (as an engine resyncs).
            expect(Y.encodeStateAsUpdate(internal())).toEqual(before)
            writers[s.writer] = optionsDocFrom([before])
            held[s.writer] = []
          }
          expect(live.options).toEqual(optionsOfState(reference))
          // The size bound that spares encoding the document per update holds.
          const exact = Y.encodeStateAsUpdate(internal())
          expect(exact.length).toBeLessThanOrEqual((live as unknown as { maxSize: number }).maxSize)
          expect(Y.encodeStateVectorFromUpdate(exact)).toEqual(Y.encodeStateVectorFromUpdate(reference ?? new Uint8Array([0, 0])))
          // Writers hear what the relay accepted (as subscribers do).
          for (const other of writers) Y.applyUpdate(other, exact)
        }
        expect(optionsOfState(live.state)).toEqual(optionsOfState(reference))
        live.destroy()
      }),
      { numRuns: 200 },
    )
  })

  it('merges stored rows unchecked and reports whether they changed the document', () => {
    const w = optionsDocFrom([])
    const u1 = captureUpdate(w, (d) => setOption(d, 'a', '1'))!
    const u2 = captureUpdate(w, (d) => setOption(d, 'a', '2'))!
    const live = new ValidatedOptionsDoc(u1)
    expect(live.merge(u1)).toBe(false)
    expect(live.merge(u2)).toBe(true)
    expect(live.options).toEqual({ a: '2' })
    expect(optionsOfState(live.state)).toEqual({ a: '2' })
    // Sending what the relay holds again is accepted and changes nothing.
    expect(live.apply(u2).effective).toBeUndefined()
  })

  it('keeps checking structure after a refused update (the rebuilt document is checked as a whole again)', () => {
    const w = optionsDocFrom([])
    const live = new ValidatedOptionsDoc()
    expect(live.apply(captureUpdate(w, (d) => setOption(d, 'a', '1'))!).options).toEqual({ a: '1' })
    const hostile = captureUpdate(w, (d) => (optionsArray(d) as unknown as Y.Array<unknown>).push([new Y.Map()]))!
    expect(() => live.apply(hostile)).toThrow(/pairs of strings/)
    expect(live.options).toEqual({ a: '1' })
    const w2 = optionsDocFrom([live.state])
    expect(live.apply(captureUpdate(w2, (d) => setOption(d, 'b', '2'))!).options).toEqual({ a: '1', b: '2' })
  })
})
