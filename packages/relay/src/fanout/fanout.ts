/**
 * Live fan-out between the relay core (which publishes every committed change) and the sockets that
 * deliver changes. The in-process implementation calls subscribers directly; a Redis one would
 * publish the JSON-serializable {@link RelayChange} on a channel and call local subscribers for
 * messages from every node, so clients on different relay processes see each other's changes.
 */
import type { CommentRecord, ParticipantRecord, RoomRecord } from '@parlor/protocol'

/**
 * One committed change to one room. `participants` lists the participant rows the change wrote
 * (added, re-added, removed, renamed, read pointers), so a user who was added learns of the room and a
 * removed one learns of the removal.
 */
export interface RelayChange {
  seq: number
  roomId: string
  room?: RoomRecord
  participants?: ParticipantRecord[]
  comments?: CommentRecord[]
  /** What the change did to the room's options document: a Yjs v1 update, base64. */
  optionsUpdate?: string
}

export type ChangeHandler = (change: RelayChange) => void

/** The sockets (or other origins) whose ack carries a change's rows; see {@link markEcho}. */
const echoOrigins = new WeakMap<RelayChange, object>()

/**
 * Marks `change` as the echo of what `origin` sent: a mutation whose answer carries the same rows, or
 * an options update that is the whole change. That origin may be sent the change without them. Kept beside the change, never serialized, so a change
 * that reached this node from another one has no origin.
 */
export function markEcho(change: RelayChange, origin: object): void {
  echoOrigins.set(change, origin)
}

/** The origin `change` was marked with (see {@link markEcho}), if any. */
export function echoOrigin(change: RelayChange): object | undefined {
  return echoOrigins.get(change)
}

export interface Fanout {
  /**
   * Sends a committed change to every subscriber (of every node). Resolves once the local
   * subscribers have been called, so a caller may answer its client after its own change went out.
   * Publishers call it in seq order.
   */
  publish(change: RelayChange): Promise<void>
  /** Registers a handler for every change; returns the function that unregisters it. */
  subscribe(handler: ChangeHandler): () => void
  close(): Promise<void>
}
