import { describe, expect, it } from 'vitest'
import type { RelayChange } from './fanout.js'
import { ChangeSequencer } from './change-sequencer.js'

const ch = (seq: number, roomId = 'g:1'): RelayChange => ({ seq, roomId })

function setup(startAfter = 0) {
  const delivered: string[] = []
  const sent: Array<[number, string[]]> = []
  const opened: number[] = []
  const s = new ChangeSequencer({
    startAfter,
    deliver: (c) => delivered.push(`${c.seq}:${c.roomId}`),
    onOpen: (seq) => opened.push(seq),
    onClosed: (seq, changes) => sent.push([seq, changes.map((c) => c.roomId)]),
  })
  return { s, delivered, sent, opened }
}

describe('ChangeSequencer', () => {
  it('holds a batch back until every lower seq has been delivered', () => {
    const { s, delivered } = setup(10)
    expect(s.addBatch(13, [ch(13)])).toBe(true)
    expect(s.addBatch(12, [ch(12, 'a'), ch(12, 'b')])).toBe(true)
    expect(delivered).toEqual([])
    expect(s.lowestHeld()).toBe(12)
    s.addBatch(11, [ch(11)])
    expect(delivered).toEqual(['11:g:1', '12:a', '12:b', '13:g:1'])
    expect(s.watermark).toBe(13)
    expect(s.lowestHeld()).toBeUndefined()
  })

  it('drops batches it already has or delivered', () => {
    const { s, delivered } = setup(5)
    expect(s.addBatch(5, [ch(5)])).toBe(false)
    expect(s.addBatch(7, [ch(7)])).toBe(true)
    expect(s.addBatch(7, [ch(7, 'dup')])).toBe(false)
    s.addBatch(6, [ch(6)])
    expect(delivered).toEqual(['6:g:1', '7:g:1'])
  })

  it('delivers a local seq part by part while it is open and holds later seqs until it is closed', async () => {
    const { s, delivered, sent, opened } = setup(0)
    await s.addLocal(ch(1, 'a'))
    expect(opened).toEqual([1])
    s.addBatch(2, [ch(2)])
    await s.addLocal(ch(1, 'b'))
    expect(delivered).toEqual(['1:a', '1:b'])
    s.closeLocal()
    expect(sent).toEqual([[1, ['a', 'b']]])
    expect(delivered).toEqual(['1:a', '1:b', '2:g:1'])
  })

  it('makes a local seq wait for a lower seq from another node', async () => {
    const { s, delivered } = setup(0)
    let isDone = false
    const done = s.addLocal(ch(2)).then(() => (isDone = true))
    await Promise.resolve()
    expect(isDone).toBe(false)
    expect(s.lowestHeld()).toBe(2)
    s.addBatch(1, [ch(1)])
    await done
    expect(delivered).toEqual(['1:g:1', '2:g:1'])
  })

  it('closes an open local seq when the next local one starts', async () => {
    const { s, sent } = setup(0)
    await s.addLocal(ch(1))
    await s.addLocal(ch(2))
    expect(sent).toEqual([[1, ['g:1']]])
  })

  it('fills a gap from storage, counting seqs without rebuilt changes as delivered', () => {
    const { s, delivered } = setup(0)
    s.addBatch(5, [ch(5)])
    s.fill(0, 4, [ch(2, 'x'), ch(4, 'y')])
    expect(delivered).toEqual(['2:x', '4:y', '5:g:1'])
    expect(s.watermark).toBe(5)
  })

  it('keeps a batch that arrived during the fill rather than the rebuilt one', () => {
    const { s, delivered } = setup(0)
    s.addBatch(3, [ch(3, 'real')])
    s.fill(0, 3, [ch(3, 'rebuilt')])
    expect(delivered).toEqual(['3:real'])
  })

  it('answers a local change whose seq was already rebuilt from storage at once, without delivering it again', async () => {
    const { s, delivered } = setup(0)
    s.fill(0, 1, [ch(1, 'rebuilt')])
    await s.addLocal(ch(1, 'local'))
    expect(delivered).toEqual(['1:rebuilt'])
  })

  it('skips to a seq, dropping what it held below it', () => {
    const { s, delivered } = setup(0)
    s.addBatch(3, [ch(3)])
    s.addBatch(6, [ch(6)])
    s.skipTo(5)
    expect(delivered).toEqual(['6:g:1'])
    expect(s.lowestHeld()).toBeUndefined()
  })
})

describe('ChangeSequencer, a part that comes after its seq was closed', () => {
  it('is delivered at once and handed on as late, not dropped', async () => {
    const late: Array<[number, string]> = []
    const delivered: string[] = []
    const s = new ChangeSequencer({
      startAfter: 0,
      deliver: (c) => delivered.push(`${c.seq}:${c.roomId}`),
      onOpen: () => {},
      onClosed: () => {},
      onLate: (seq, c) => late.push([seq, c.roomId]),
    })
    await s.addLocal(ch(1, 'a'))
    s.closeLocal()
    await s.addLocal(ch(1, 'b'))
    expect(delivered).toEqual(['1:a', '1:b'])
    expect(late).toEqual([[1, 'b']])
  })

  it('on another node: delivered at once if its seq went out, else joins the held batch', () => {
    const { s, delivered } = setup(0)
    s.addBatch(1, [ch(1, 'a')])
    expect(s.addBatch(1, [ch(1, 'late')], true)).toBe(true)
    s.addBatch(3, [ch(3, 'a')])
    s.addBatch(3, [ch(3, 'late')], true)
    s.addBatch(2, [ch(2)])
    expect(delivered).toEqual(['1:a', '1:late', '2:g:1', '3:a', '3:late'])
  })
})
