import { describe, expect, it } from 'vitest'
import { createMetrics } from './metrics.js'

describe('createMetrics', () => {
  it('renders counters, gauges and histograms in the Prometheus text format', () => {
    const m = createMetrics()
    const c = m.counter('t_total', 'Things.')
    c.inc({ code: 'forbidden' })
    c.inc({ code: 'forbidden' }, 2)
    c.inc({ code: 'say "hi"\n' })
    m.gauge('t_now', 'Now.', () => 7)
    m.gauge('t_by', 'By label.', () => [{ labels: { a: 'x' }, value: 1 }])
    const h = m.histogram('t_seconds', 'Durations.', [0.1, 1])
    h.observe(0.05)
    h.observe(0.5)
    h.observe(5)
    expect(m.render()).toBe(
      [
        '# HELP t_total Things.',
        '# TYPE t_total counter',
        't_total{code="forbidden"} 3',
        't_total{code="say \\"hi\\"\\n"} 1',
        '# HELP t_now Now.',
        '# TYPE t_now gauge',
        't_now 7',
        '# HELP t_by By label.',
        '# TYPE t_by gauge',
        't_by{a="x"} 1',
        '# HELP t_seconds Durations.',
        '# TYPE t_seconds histogram',
        't_seconds_bucket{le="0.1"} 1',
        't_seconds_bucket{le="1"} 2',
        't_seconds_bucket{le="+Inf"} 3',
        't_seconds_sum 5.55',
        't_seconds_count 3',
      ].join('\n') + '\n',
    )
  })

  it('shows an untouched counter as 0 and refuses bad or repeated names', () => {
    const m = createMetrics()
    m.counter('a_total', 'A.')
    expect(m.render()).toContain('a_total 0')
    expect(() => m.counter('a_total', 'again')).toThrow(/twice/)
    expect(() => m.gauge('bad-name', 'x', () => 1)).toThrow(/bad metric name/)
  })

  it('reports NaN for a gauge whose reader throws instead of failing the scrape', () => {
    const m = createMetrics()
    m.gauge('g', 'G.', () => {
      throw new Error('boom')
    })
    expect(m.render()).toContain('g NaN')
  })
})
