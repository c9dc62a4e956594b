import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import type { StorageTx } from '../storage/relay-storage.js'
import { createGroupCommit, type RunWrite } from './group-commit.js'

/** A write that records each group it was given (no storage: the tx is never used). */
function recorder() {
  const groups: number[][] = []
  let calls = 0
  const write: RunWrite = async (fn) => {
    calls++
    // Like the relay's write lock: the transaction begins in a later microtask.
    await Promise.resolve()
    return (await fn({} as StorageTx)).value
  }
  /** A group commit waiting for the turn, answering each item with `answer(item)`. */
  const group = (answer: (item: number) => number) =>
    createGroupCommit<number, number>({
      write,
      maxWeight: 100,
      waitsForTurn: true,
      apply: async (_tx, items) => {
        groups.push(items)
        return { value: items.map(answer), changes: [] }
      },
      onFailure: (items) => items.map(() => -1),
    })
  return { groups, write, group, calls: () => calls }
}

describe('group commit', () => {
  it('waitsForTurn: what is submitted in one turn goes in one transaction, each item answered alone', async () => {
    const r = recorder()
    const group = r.group((i) => i * 10)
    const answers = [1, 2, 3].map((i) => group.submit(i))
    // Nothing is written before the turn ends.
    expect(r.calls()).toBe(0)
    expect(await Promise.all(answers)).toEqual([10, 20, 30])
    expect(r.groups).toEqual([[1, 2, 3]])
    expect(await group.submit(4)).toBe(40)
    expect(r.groups).toEqual([[1, 2, 3], [4]])
  })

  it('flushNow puts a group waiting for the end of the turn in line at once, and it is written once', async () => {
    const r = recorder()
    const group = r.group((i) => i)
    const a = group.submit(1)
    group.flushNow()
    expect(r.calls()).toBe(1)
    group.flushNow()
    expect(await a).toBe(1)
    await new Promise((resolve) => setImmediate(resolve))
    expect(r.calls()).toBe(1)
    expect(r.groups).toEqual([[1]])
  })

  it('answers every item once, in submission order across groups, whatever the turns and weights (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.boolean()), { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 8 }), async (items, maxWeight) => {
        const seen: number[] = []
        const group = createGroupCommit<[number, number], number>({
          write: recorder().write,
          maxWeight,
          waitsForTurn: true,
          weight: ([, w]) => w,
          apply: async (_tx, batch) => {
            const total = batch.reduce((n, [, w]) => n + w, 0)
            // A group never passes maxWeight, except an item heavier than it, alone.
            expect(batch.length === 1 || total <= maxWeight).toBe(true)
            seen.push(...batch.map(([i]) => i))
            return { value: batch.map(([i]) => i), changes: [] }
          },
          onFailure: (batch) => batch.map(() => -1),
        })
        const answers: Promise<number>[] = []
        for (const [i, [w, nextTurn]] of items.entries()) {
          answers.push(group.submit([i, w]))
          if (nextTurn) await new Promise((resolve) => setImmediate(resolve))
        }
        expect(await Promise.all(answers)).toEqual(items.map((_, i) => i))
        expect(seen).toEqual(items.map((_, i) => i))
      }),
      { numRuns: 100 },
    )
  })
})
