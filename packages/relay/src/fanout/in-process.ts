import { noopLogger, type Logger } from '../logger.js'
import type { ChangeHandler, Fanout, RelayChange } from './fanout.js'

/**
 * The default fan-out, for a single relay process: `publish` calls every subscriber synchronously,
 * in order. A throwing subscriber is logged and does not stop the others.
 *
 * @example
 * const fanout = createInProcessFanout()
 * const off = fanout.subscribe((change) => console.log(change.seq))
 */
export function createInProcessFanout(options: { logger?: Logger } = {}): Fanout {
  const logger = options.logger ?? noopLogger
  const handlers = new Set<ChangeHandler>()
  return {
    async publish(change: RelayChange) {
      for (const handler of [...handlers]) {
        try {
          handler(change)
        } catch (err) {
          logger.error('fan-out subscriber failed', { err, seq: change.seq, roomId: change.roomId })
        }
      }
    },
    subscribe(handler) {
      handlers.add(handler)
      return () => void handlers.delete(handler)
    },
    async close() {
      handlers.clear()
    },
  }
}
