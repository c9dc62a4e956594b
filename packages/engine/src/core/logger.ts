/** The logging seam, shared with the relay: defined in @parlor/protocol. */
export { noopLogger, type Logger } from '@parlor/protocol'
