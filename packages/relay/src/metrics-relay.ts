/**
 * The relay's metrics and its operational HTTP routes: `GET /metrics` (Prometheus text format) and
 * `GET /readyz` (readiness). `GET /healthz` (liveness) stays in the API handler: it answers as long
 * as the process serves HTTP. `/readyz` answers 503 while the relay drains or when its database does
 * not answer, so a load balancer stops sending new engines to it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { toParlorError } from '@parlor/protocol'
import type { RelayCore } from './core/relay-core.js'
import type { FanoutObserver } from './fanout/redis-fanout.js'
import { createMetrics, PROMETHEUS_CONTENT_TYPE, type Metrics } from './metrics.js'

/** What the metrics read when scraped; every field is optional. */
export interface RelayMetricSources {
  /** Users and rooms with a live connection on this node, connections still catching up. */
  registry?: () => { users: number; rooms: number; syncing: number }
  /** The highest seq delivered to this node's sockets (Redis fan-out). */
  watermark?: () => number
  /** Whether the Redis subscriber is connected (Redis fan-out). */
  isRedisUp?: () => boolean
  isDraining?: () => boolean
  /** Rooms whose options document is held in memory. */
  optionsDocs?: () => number
  /** Outbox depths reported by the engines on this node's live sockets. */
  outboxDepth?: () => { sum: number; max: number; nonEmpty: number }
}

/** What `/readyz` reports. */
export interface Readiness {
  ok: boolean
  [detail: string]: unknown
}

export interface RelayMetrics {
  readonly registry: Metrics
  /** Counts the websocket connections (upgraded sockets) that are open. */
  trackSocket(socket: Duplex): void
  /** The core, counting mutations by name and result and errors by code. */
  instrumentCore(core: RelayCore): RelayCore
  /** Counts an HTTP answer by status once it is sent. */
  trackResponse(res: ServerResponse): void
  fanoutObserver: FanoutObserver
  /** Answers `/metrics` and `/readyz`; false for any other request. */
  handle(req: IncomingMessage, res: ServerResponse, readiness: () => Promise<Readiness>): boolean
}

export function createRelayMetrics(sources: RelayMetricSources = {}): RelayMetrics {
  const m = createMetrics()
  let sockets = 0
  const started = Date.now()
  const mutations = m.counter('parlor_mutations_total', 'Mutations applied, by name and result (ok or the error code); rate() gives mutations/s.')
  const errors = m.counter('parlor_errors_total', 'Errors answered, by code and where (mutation, query, auth).')
  const http = m.counter('parlor_http_responses_total', 'HTTP answers by status.')
  const lag = m.histogram('parlor_fanout_lag_seconds', 'Time from a change being published on another node to its delivery here.',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5])
  const recovered = m.counter('parlor_fanout_recovered_total', 'Seqs rebuilt from storage because no fan-out message brought them.')
  const published = m.counter('parlor_fanout_published_total', 'Seqs published to the other nodes.')
  const publishFailed = m.counter('parlor_fanout_publish_failures_total', 'Publishes to Redis that failed.')
  m.gauge('parlor_connections', 'Open websocket connections.', () => sockets)
  m.gauge('parlor_connected_users', 'Users with at least one live connection.', () => sources.registry?.().users ?? 0)
  m.gauge('parlor_rooms_loaded', 'Rooms with at least one live connection (routed on this node).', () => sources.registry?.().rooms ?? 0)
  m.gauge('parlor_syncing_connections', 'Connections still computing their catch-up.', () => sources.registry?.().syncing ?? 0)
  if (sources.outboxDepth) {
    const depth = sources.outboxDepth
    m.gauge('parlor_engine_outbox_depth_sum', 'Mutations queued in the outboxes of the engines connected here, as they last reported them.', () => depth().sum)
    m.gauge('parlor_engine_outbox_depth_max', 'Largest outbox depth reported by an engine connected here.', () => depth().max)
    m.gauge('parlor_engine_outbox_nonempty', 'Engines connected here that report a non-empty outbox.', () => depth().nonEmpty)
  }
  if (sources.optionsDocs) m.gauge('parlor_options_docs_loaded', 'Rooms whose options document is held in memory.', sources.optionsDocs)
  if (sources.watermark) m.gauge('parlor_fanout_watermark', 'Highest seq delivered to this node’s sockets.', sources.watermark)
  if (sources.isRedisUp) m.gauge('parlor_redis_up', 'Whether the Redis subscriber is connected (1) or not (0).', () => (sources.isRedisUp!() ? 1 : 0))
  m.gauge('parlor_draining', 'Whether the relay is shutting down (1) or not (0).', () => (sources.isDraining?.() ? 1 : 0))
  m.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', () => process.memoryUsage.rss())
  m.gauge('nodejs_heap_used_bytes', 'V8 heap in use, in bytes.', () => process.memoryUsage().heapUsed)
  m.gauge('process_uptime_seconds', 'Seconds since the relay started.', () => (Date.now() - started) / 1000)

  const countError = (e: unknown, where: string) => errors.inc({ code: toParlorError(e).code, where })

  return {
    registry: m,
    trackSocket(socket) {
      sockets++
      socket.once('close', () => sockets--)
    },
    instrumentCore(core) {
      return {
        ...core,
        async applyMutations(userId, list, origin) {
          const results = await core.applyMutations(userId, list, origin)
          // Counted per kind of outcome, not per mutation: a frame is mostly one kind.
          const outcomes = new Map<string, { name: string; result: string; count: number }>()
          for (const [i, r] of results.entries()) {
            const name = list[i]?.name ?? 'unknown'
            const result = r.ok ? 'ok' : r.error.code
            const key = `${name}\u0000${result}`
            const seen = outcomes.get(key)
            if (seen) seen.count++
            else outcomes.set(key, { name, result, count: 1 })
          }
          for (const { name, result, count } of outcomes.values()) {
            mutations.inc({ name, result }, count)
            if (result !== 'ok') errors.inc({ code: result, where: 'mutation' }, count)
          }
          return results
        },
        query: (userId, body) => core.query(userId, body).catch((e: unknown) => {
          countError(e, 'query')
          throw e
        }),
        authenticate: (token) => core.authenticate(token).catch((e: unknown) => {
          countError(e, 'auth')
          throw e
        }),
      }
    },
    trackResponse(res) {
      res.once('finish', () => http.inc({ status: String(res.statusCode) }))
    },
    fanoutObserver: {
      received: (lagMs) => lag.observe(lagMs / 1000),
      recovered: (count) => recovered.inc({}, count),
      published: () => published.inc(),
      publishFailed: () => publishFailed.inc(),
    },
    handle(req, res, readiness) {
      const path = (req.url ?? '').split('?')[0]
      if (req.method !== 'GET' && req.method !== 'HEAD') return false
      if (path === '/metrics') {
        const body = m.render()
        res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' })
        res.end(req.method === 'HEAD' ? undefined : body)
        return true
      }
      if (path === '/readyz') {
        readiness().then(
          (r) => send(res, r.ok ? 200 : 503, r),
          (e: unknown) => send(res, 503, { ok: false, error: String(e) }),
        )
        return true
      }
      return false
    },
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  res.end(JSON.stringify(body))
}
