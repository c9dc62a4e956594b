/**
 * A token bucket: `ratePerSecond` tokens refill continuously up to `burst`; each frame takes one.
 * Bounds the work one socket can ask of the relay.
 */
export class TokenBucket {
  private tokens: number
  private updatedAt: number

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst
    this.updatedAt = now()
  }

  /** Takes a token if there is one. */
  take(): boolean {
    const t = this.now()
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.updatedAt) / 1000) * this.ratePerSecond)
    this.updatedAt = t
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  /** Milliseconds until the next token. */
  retryAfterMs(): number {
    return Math.max(1, Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000))
  }
}
