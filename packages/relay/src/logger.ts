/** The logging seam, shared with the engine: defined in @parlor/protocol. */
export { noopLogger, type Logger } from '@parlor/protocol'
