/**
 * Fan-out between relay processes over Redis pub/sub (ioredis), for several nodes on one
 * PostgreSQL database. Every node publishes each committed seq as one message (all of its changes)
 * on the cluster's channel and delivers every seq, its own and the others', to its sockets in seq
 * order ({@link ChangeSequencer}).
 *
 * Pub/sub alone is never trusted: a message can be lost (a node killed between commit and publish,
 * a Redis restart or a dropped subscriber connection). A seq that is missing while a later one is
 * held, or that the database has but no message brought (checked every `pollMs`, and at once after
 * the subscriber reconnects), is rebuilt from storage (`recover`) after `gapWaitMs`, so the engines
 * on this node get every change, in order, without reconnecting. While Redis is down the node keeps
 * working this way, with `pollMs` of latency.
 *
 * Relies on what the relay core does: it publishes the changes of one transaction back to back, each
 * `publish` awaited, with no I/O between them; a seq's batch is closed (and sent) on the next
 * macrotask after its last part. A part that still comes later is delivered at once and sent on its
 * own as `late` (logged), so it is never lost, only out of order.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { noopLogger, type Logger } from '../logger.js'
import { ChangeSequencer } from './change-sequencer.js'
import type { ChangeHandler, Fanout, RelayChange } from './fanout.js'

/** Options of {@link createRedisFanout}. */
export interface RedisFanoutOptions {
  /** `redis://host:port[/db]` */
  url: string
  /** The pub/sub channel; every node of one cluster (one database) must use the same one. */
  channel: string
  /** The storage's seq when the node starts (read after subscribing is fine: older seqs are dropped). */
  currentSeq: () => Promise<number>
  /** Rebuilds the committed changes with seq in (afterSeq, uptoSeq] from storage. */
  recover: (afterSeq: number, uptoSeq: number) => Promise<{ currentSeq: number; changes: RelayChange[] }>
  logger?: Logger
  /** How long a missing seq may be late before it is rebuilt from storage. Default 250 ms. */
  gapWaitMs?: number
  /** How often the storage's seq is compared with what arrived. Default 1000 ms. */
  pollMs?: number
  /** Most seqs rebuilt per storage read. Default 500. */
  recoverBatch?: number
  /** Measurements (see `metrics.ts`); optional. */
  observe?: FanoutObserver
  /** How long startup may wait for Redis. Default 10 000 ms. */
  connectTimeoutMs?: number
}

/** What the fan-out reports for metrics. */
export interface FanoutObserver {
  /** A seq from another node reached this node, `lagMs` after it was published. */
  received?(lagMs: number): void
  /** `count` seqs were rebuilt from storage. */
  recovered?(count: number): void
  published?(): void
  publishFailed?(): void
}

/** A running Redis fan-out: the {@link Fanout} seam plus what health checks and metrics read. */
export interface RedisFanout extends Fanout {
  /** Whether the subscriber connection is up. */
  isConnected(): boolean
  /** Every seq up to this one has been delivered on this node. */
  watermark(): number
}

interface Message {
  v: 1
  node: string
  seq: number
  at: number
  changes: RelayChange[]
  /** A part of a seq sent after the seq's batch (see `ChangeSequencer`'s `onLate`). */
  late?: true
}

const isMessage = (m: unknown): m is Message =>
  typeof m === 'object' && m !== null && (m as Message).v === 1 && Number.isSafeInteger((m as Message).seq) &&
  Array.isArray((m as Message).changes) && typeof (m as Message).node === 'string'

function waitReady(client: Redis, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`could not reach Redis within ${timeoutMs} ms`))
    }, timeoutMs)
    const onReady = () => {
      cleanup()
      resolve()
    }
    const cleanup = () => {
      clearTimeout(timer)
      client.off('ready', onReady)
    }
    client.on('ready', onReady)
  })
}

/**
 * Connects to Redis, subscribes to `channel` and starts delivering.
 *
 * @throws if Redis cannot be reached within `connectTimeoutMs`
 * @example
 * const fanout = await createRedisFanout({ url: 'redis://127.0.0.1:6379', channel: 'parlor:abc:changes',
 *   currentSeq: () => storage.read((r) => r.currentSeq()), recover: storage.changesBetween })
 */
export async function createRedisFanout(options: RedisFanoutOptions): Promise<RedisFanout> {
  const logger = options.logger ?? noopLogger
  const gapWaitMs = options.gapWaitMs ?? 250
  const pollMs = options.pollMs ?? 1000
  const recoverBatch = options.recoverBatch ?? 500
  const observe = options.observe ?? {}
  const node = randomBytes(8).toString('hex')
  const handlers = new Set<ChangeHandler>()
  const inFlight = new Set<Promise<unknown>>()
  let isClosed = false

  const redisOptions = {
    lazyConnect: true,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    maxRetriesPerRequest: 2,
  }
  // A subscribed connection can only subscribe, so publishing needs its own. Publishes while Redis
  // is down fail at once instead of queueing: other nodes rebuild those seqs from storage.
  const pub = new Redis(options.url, { ...redisOptions, enableOfflineQueue: false })
  const sub = new Redis(options.url, redisOptions)
  for (const [name, client] of [['publisher', pub], ['subscriber', sub]] as const) {
    client.on('error', (err: Error) => logger.debug('redis connection error', { connection: name, err }))
  }

  const deliver = (change: RelayChange) => {
    for (const handler of [...handlers]) {
      try {
        handler(change)
      } catch (err) {
        logger.error('fan-out subscriber failed', { err, seq: change.seq, roomId: change.roomId })
      }
    }
  }
  const openedAt = new Map<number, number>()
  const sequencer = new ChangeSequencer({
    startAfter: 0,
    deliver,
    onOpen: (seq) => {
      openedAt.set(seq, Date.now())
      // The core publishes the rest of this seq's changes in the microtasks that follow.
      setImmediate(() => sequencer.closeLocal())
    },
    onClosed: (seq, changes) => {
      const at = openedAt.get(seq) ?? Date.now()
      openedAt.delete(seq)
      send({ v: 1, node, seq, at, changes })
      afterChange()
    },
    onLate: (seq, change) => {
      logger.warn('a change came after its seq was sent; sending it on its own', { seq, roomId: change.roomId })
      send({ v: 1, node, seq, at: Date.now(), changes: [change], late: true })
    },
  })

  function send(message: Message): void {
    const sent = pub.publish(options.channel, JSON.stringify(message)).then(
      () => observe.published?.(),
      (err: unknown) => {
        observe.publishFailed?.()
        logger.warn('redis publish failed; other nodes will read this seq from storage', { seq: message.seq, err })
      },
    )
    inFlight.add(sent)
    void sent.finally(() => inFlight.delete(sent))
  }

  // ---- gaps: rebuild from storage what no message brought ----------------------------------------
  let gapTimer: NodeJS.Timeout | undefined
  /** The highest seq known to be committed (from held seqs and polls). */
  let knownTarget = 0
  /** What the running timer will rebuild: only seqs that have been missing for gapWaitMs. */
  let armedTarget = 0
  let isRecovering = false

  /** Seqs up to `upto` are committed; those still missing after gapWaitMs are read from storage. */
  function suspect(upto: number): void {
    if (upto <= sequencer.watermark) return
    knownTarget = Math.max(knownTarget, upto)
    if (gapTimer || isRecovering || isClosed) return
    armedTarget = knownTarget
    gapTimer = setTimeout(() => {
      gapTimer = undefined
      void recover(armedTarget)
    }, gapWaitMs)
  }

  async function recover(target: number): Promise<void> {
    if (isRecovering || isClosed) return
    isRecovering = true
    let count = 0
    try {
      while (!isClosed && sequencer.watermark < target) {
        const after = sequencer.watermark
        const upto = Math.min(target, after + recoverBatch)
        const { currentSeq, changes } = await options.recover(after, upto)
        const filledUpto = Math.min(upto, currentSeq)
        if (filledUpto <= after) break
        count += sequencer.fill(after, filledUpto, changes)
        // A local seq still publishing holds the line; its owner will move on.
        if (sequencer.watermark < filledUpto) break
      }
    } catch (err) {
      logger.warn('could not rebuild missing changes from storage; retrying', { err })
    } finally {
      isRecovering = false
    }
    if (count > 0) {
      observe.recovered?.(count)
      logger.info('rebuilt changes that no fan-out message brought', { count, watermark: sequencer.watermark })
    }
    afterChange()
  }

  /** After any progress: a seq still held back means a gap below it. */
  function afterChange(): void {
    const held = sequencer.lowestHeld()
    if (held !== undefined) suspect(held - 1)
    else if (knownTarget > sequencer.watermark) suspect(knownTarget)
  }

  async function poll(): Promise<void> {
    try {
      suspect(await options.currentSeq())
    } catch (err) {
      logger.warn('could not read the storage seq', { err })
    }
  }

  // Messages that arrive before the starting seq is known wait for it.
  let early: Message[] | undefined = []
  const accept = (message: Message) => {
    if (sequencer.addBatch(message.seq, message.changes, message.late === true)) observe.received?.(Math.max(0, Date.now() - message.at))
    afterChange()
  }
  sub.on('message', (channel: string, text: string) => {
    if (channel !== options.channel || isClosed) return
    let message: unknown
    try {
      message = JSON.parse(text)
    } catch {
      message = undefined
    }
    if (!isMessage(message)) return logger.warn('ignoring a malformed fan-out message', { bytes: text.length })
    if (message.node === node) return
    if (early) early.push(message)
    else accept(message)
  })
  let wasReady = false
  let isDown = false
  sub.on('close', () => {
    if (!wasReady || isDown || isClosed) return
    isDown = true
    logger.warn('redis subscriber disconnected; reading changes from storage until it is back', { pollMs })
  })
  sub.on('ready', () => {
    // Messages published while this subscriber was away are gone: look at the database now.
    if (wasReady) {
      isDown = false
      logger.info('redis subscriber reconnected; catching up from storage')
      void poll()
    }
    wasReady = true
  })

  try {
    await Promise.all([pub.connect(), sub.connect()].map((p) => p.catch(() => undefined)))
    const timeoutMs = options.connectTimeoutMs ?? 10_000
    await Promise.all([waitReady(pub, timeoutMs), waitReady(sub, timeoutMs)])
    // Subscribe first, then read the seq: a seq committed in between arrives and is dropped as known.
    await sub.subscribe(options.channel)
    sequencer.skipTo(await options.currentSeq())
    const waited = early
    early = undefined
    for (const message of waited) accept(message)
  } catch (e) {
    pub.disconnect()
    sub.disconnect()
    throw e
  }
  const poller = setInterval(() => void poll(), pollMs)
  poller.unref()

  return {
    publish(change) {
      const done = sequencer.addLocal(change)
      afterChange()
      return done
    },
    subscribe(handler) {
      handlers.add(handler)
      return () => void handlers.delete(handler)
    },
    isConnected: () => sub.status === 'ready',
    watermark: () => sequencer.watermark,
    async close() {
      if (isClosed) return
      sequencer.closeLocal()
      isClosed = true
      clearInterval(poller)
      clearTimeout(gapTimer)
      await Promise.allSettled([...inFlight])
      handlers.clear()
      await Promise.allSettled([pub.quit(), sub.quit()])
      pub.disconnect()
      sub.disconnect()
    },
  }
}
