import { CLOSE_CODES, LIMITS, decodeDownFrame, encodeFrame, retryAfterFromReason, type DownFrame, type UpFrame } from '@parlor/protocol'
import { backoffDelay, defaultBackoff, type Backoff } from '../core/backoff.js'
import type { Logger } from '../core/logger.js'

/** The part of the WebSocket API the engine uses (browsers' WebSocket and the `ws` package fit). */
export interface SocketLike {
  readonly readyState: number
  onopen: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  onclose: ((ev: { code: number; reason: string }) => void) | null
  onerror: ((ev: unknown) => void) | null
  send(data: string): void
  close(code?: number, reason?: string): void
}
export type WebSocketCtor = new (url: string) => SocketLike

export interface ConnectionOptions {
  urls: readonly string[]
  WebSocket: WebSocketCtor
  /** Builds the hello frame (fresh token and cursor); undefined when there is no session yet. */
  hello(): Promise<UpFrame | undefined>
  /**
   * Handles frames strictly in arrival order, in batches: every frame that arrived while the
   * previous batch was being handled comes in the next one (so a burst costs few transactions).
   */
  onFrames(frames: DownFrame[]): Promise<void>
  /**
   * Whether an ack is expected soon (a mutate frame is in flight). Changes that arrive then are
   * mostly the echo of that frame's own mutations, sent just before its ack: they wait for it (at
   * most ACK_WAIT_MS), so that changes and ack are written in one transaction rather than two.
   */
  awaitsAck?(): boolean
  onOpen(): void
  onClose(code: number, reason: string): void
  logger: Logger
  backoff?: Backoff
}

const OPEN = 1
/** The longest live changes wait for the ack of a frame in flight (see `awaitsAck`). */
const ACK_WAIT_MS = 30

/**
 * One websocket to the relay for every room, reconnecting with jittered exponential backoff and
 * moving to the next relay URL after a failure (failover between relay nodes).
 */
export class Connection {
  private socket: SocketLike | undefined
  private attempt = 0
  private urlIndex = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private wanted = false
  private queue: Promise<void> = Promise.resolve()
  private inbox: DownFrame[] = []
  /** Resolves the wait for an ack (see `awaitsAck`) when one arrives. */
  private ackArrived: (() => void) | undefined
  /** The relay asked for a pause before the next attempt (closed for flooding, with retryAfterMs). */
  private minDelayMs = 0

  constructor(private readonly opts: ConnectionOptions) {}

  get isOpen(): boolean {
    return this.socket?.readyState === OPEN
  }

  start(): void {
    if (this.wanted) return
    this.wanted = true
    this.attempt = 0
    void this.open()
  }

  /** The platform says the network is back: try now instead of at the end of the backoff. */
  retryNow(): void {
    if (!this.wanted || this.socket) return
    clearTimeout(this.timer)
    this.attempt = 0
    void this.open()
  }

  /** Closes the socket and stops reconnecting; resolves once queued frames are handled. */
  async stop(): Promise<void> {
    this.wanted = false
    clearTimeout(this.timer)
    const s = this.socket
    this.socket = undefined
    if (s) {
      s.onclose = null
      s.onmessage = null
      s.close(1000, 'closed by the engine')
      this.opts.onClose(1000, 'closed by the engine')
    }
    await this.queue
  }

  /** Sends a frame if the socket is open; false otherwise (the caller retries after reconnect). */
  send(frame: UpFrame): boolean {
    if (!this.socket || this.socket.readyState !== OPEN) return false
    this.socket.send(encodeFrame(frame))
    return true
  }

  /** Drops the current socket and reconnects soon (e.g. after a token refresh). */
  reconnect(): void {
    this.socket?.close(1000, 'reconnecting')
  }

  private async open(): Promise<void> {
    if (!this.wanted) return
    const hello = await this.opts.hello().catch((e: unknown) => {
      this.opts.logger.warn('could not prepare hello', { error: String(e) })
      return undefined
    })
    if (!this.wanted) return
    if (!hello) return this.retry()
    const base = this.opts.urls[this.urlIndex % this.opts.urls.length]!
    const url = new URL('/v1/socket', base)
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
    let socket: SocketLike
    try {
      socket = new this.opts.WebSocket(url.toString())
    } catch (e) {
      this.opts.logger.warn('socket constructor failed', { error: String(e) })
      return this.retry()
    }
    this.socket = socket
    socket.onopen = () => {
      socket.send(encodeFrame(hello))
      this.opts.onOpen()
    }
    socket.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return
      let frame: DownFrame
      try {
        frame = decodeDownFrame(ev.data)
      } catch (e) {
        this.opts.logger.warn('dropping an invalid frame from the relay', { error: String(e) })
        return
      }
      if (frame.type === 'sync') this.attempt = 0
      this.inbox.push(frame)
      if (frame.type === 'ack') this.ackArrived?.()
      if (this.inbox.length > 1) return
      // Handled from the next task on: frames that came together (a browser delivers each as a task
      // of its own) are handled together, in one batch.
      this.queue = this.queue.then(nextTask).then(async () => {
        if (this.inbox.every((f) => f.type === 'change') && this.opts.awaitsAck?.()) await this.ackOrTimeout()
        const batch = this.inbox
        this.inbox = []
        await this.opts
          .onFrames(batch)
          .catch((e: unknown) => this.opts.logger.error('frame handler failed', { error: e instanceof Error ? (e.stack ?? e.message) : String(e) }))
      })
    }
    socket.onerror = () => {}
    socket.onclose = (ev) => {
      if (this.socket !== socket) return
      this.socket = undefined
      this.opts.onClose(ev.code, ev.reason)
      if (ev.code !== 1000 || this.wanted) this.urlIndex += ev.code === CLOSE_CODES.goingAway || ev.code === 1006 ? 1 : 0
      if (ev.code === CLOSE_CODES.rateLimited) this.minDelayMs = retryAfterFromReason(ev.reason) ?? LIMITS.rateLimitRetryAfterMs
      this.retry()
    }
  }

  /** Resolves when an ack arrives, or after ACK_WAIT_MS. */
  private ackOrTimeout(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.ackArrived?.(), ACK_WAIT_MS)
      this.ackArrived = () => {
        clearTimeout(timer)
        this.ackArrived = undefined
        resolve()
      }
    })
  }

  private retry(): void {
    if (!this.wanted) return
    // Never sooner than the relay asked for (it closed us for flooding), else jittered backoff.
    const delay = Math.max(this.minDelayMs, backoffDelay(this.attempt++, this.opts.backoff ?? defaultBackoff))
    this.minDelayMs = 0
    clearTimeout(this.timer)
    this.timer = setTimeout(() => void this.open(), delay)
  }
}

/** Resolves in a later task (after the tasks already queued, such as other socket messages). */
function nextTask(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown; scheduler?: { postTask?: (f: () => void) => Promise<unknown> } }
  return new Promise((resolve) => {
    if (g.setImmediate) g.setImmediate(resolve)
    else if (g.scheduler?.postTask) void g.scheduler.postTask(resolve)
    else setTimeout(resolve, 0)
  })
}
