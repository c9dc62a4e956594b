/** Jittered exponential backoff ("full jitter"): a random delay in [base, min(max, base·2^attempt)]. */
export interface Backoff {
  baseMs: number
  maxMs: number
}

export const defaultBackoff: Backoff = { baseMs: 100, maxMs: 10_000 }

export function backoffDelay(attempt: number, b: Backoff = defaultBackoff, random: () => number = Math.random): number {
  const cap = Math.min(b.maxMs, b.baseMs * 2 ** Math.min(attempt, 30))
  return b.baseMs + random() * (cap - b.baseMs)
}
