/**
 * A small metrics registry that renders the Prometheus text exposition format (version 0.0.4):
 * counters with labels, gauges read when scraped, and histograms. A dependency (prom-client) would
 * bring far more than the dozen series the relay exposes.
 */

type Labels = Record<string, string>

export interface Counter {
  inc(labels?: Labels, by?: number): void
}

export interface Histogram {
  /** Records one observation (in the metric's unit, e.g. seconds). */
  observe(value: number): void
}

/** A gauge's value(s) when scraped: one number, or one per label set. */
export type GaugeReading = number | Array<{ labels: Labels; value: number }>

export interface Metrics {
  counter(name: string, help: string): Counter
  gauge(name: string, help: string, read: () => GaugeReading): void
  histogram(name: string, help: string, buckets: readonly number[]): Histogram
  /** Every metric in the Prometheus text format. */
  render(): string
}

/** The content type of {@link Metrics.render}'s output. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
const labelText = (labels: Labels) => {
  const entries = Object.entries(labels)
  return entries.length === 0 ? '' : `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`
}
const num = (v: number) => (Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN')

/**
 * Creates an empty registry.
 *
 * @example
 * const metrics = createMetrics()
 * const served = metrics.counter('parlor_requests_total', 'Requests served.')
 * served.inc({ route: '/v1/query' })
 * metrics.render() // '# HELP parlor_requests_total Requests served.\n# TYPE parlor_requests_total counter\n…'
 */
export function createMetrics(): Metrics {
  const sections: Array<() => string[]> = []
  const names = new Set<string>()
  const claim = (name: string) => {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`bad metric name ${name}`)
    if (names.has(name)) throw new Error(`metric ${name} registered twice`)
    names.add(name)
  }
  const header = (name: string, help: string, type: string) => [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`]

  return {
    counter(name, help) {
      claim(name)
      const values = new Map<string, number>()
      sections.push(() => [
        ...header(name, help, 'counter'),
        ...(values.size === 0 ? [`${name} 0`] : [...values].map(([l, v]) => `${name}${l} ${num(v)}`)),
      ])
      return {
        inc(labels = {}, by = 1) {
          const key = labelText(labels)
          values.set(key, (values.get(key) ?? 0) + by)
        },
      }
    },

    gauge(name, help, read) {
      claim(name)
      sections.push(() => {
        let reading: GaugeReading
        try {
          reading = read()
        } catch {
          reading = Number.NaN
        }
        const lines = typeof reading === 'number'
          ? [`${name} ${num(reading)}`]
          : reading.map((r) => `${name}${labelText(r.labels)} ${num(r.value)}`)
        return [...header(name, help, 'gauge'), ...lines]
      })
    },

    histogram(name, help, buckets) {
      claim(name)
      const bounds = [...buckets].sort((a, b) => a - b)
      const counts = bounds.map(() => 0)
      let count = 0
      let sum = 0
      sections.push(() => [
        ...header(name, help, 'histogram'),
        ...bounds.map((b, i) => `${name}_bucket{le="${num(b)}"} ${counts[i]}`),
        `${name}_bucket{le="+Inf"} ${count}`,
        `${name}_sum ${num(sum)}`,
        `${name}_count ${count}`,
      ])
      return {
        observe(value) {
          count++
          sum += value
          for (let i = 0; i < bounds.length; i++) if (value <= bounds[i]!) counts[i]!++
        },
      }
    },

    render: () => sections.flatMap((s) => s()).join('\n') + '\n',
  }
}
