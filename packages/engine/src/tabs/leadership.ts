/**
 * Which of the engines sharing one IndexedDB database (the tabs of one PWA) runs the socket and
 * the outbox: exactly one at a time. Two implementations, chosen at the edge by
 * {@link chooseLeadership}: Web Locks where the platform has them, else a lease row in the database.
 */
export interface Leadership {
  readonly isLeader: boolean
  /** Starts competing; `onChange` is called with every gain or loss of leadership. */
  start(onChange: (isLeader: boolean) => void): void
  /** Stops competing and hands leadership over (resolves once released). */
  stop(): Promise<void>
  /** Another tab says the leader left: try to take over now rather than at the next renewal. */
  nudge(): void
}
