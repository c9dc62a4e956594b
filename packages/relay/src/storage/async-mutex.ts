/**
 * A FIFO async mutex: `run(fn)` starts `fn` once every earlier `run` has settled. Used to serialize
 * transactions on SQLite's single connection, and the relay core's commit-then-publish step.
 */
export interface AsyncMutex {
  run<T>(fn: () => Promise<T>): Promise<T>
  /** Resolves once everything queued so far has settled. */
  idle(): Promise<void>
}

export function createAsyncMutex(): AsyncMutex {
  let tail: Promise<unknown> = Promise.resolve()
  return {
    run<T>(fn: () => Promise<T>): Promise<T> {
      const result = tail.then(fn)
      // The chain must continue after a failure, without leaving an unhandled rejection behind.
      tail = result.catch(() => undefined)
      return result
    },
    idle: () => tail.then(() => undefined),
  }
}
