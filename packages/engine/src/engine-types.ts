import type { Comment, Mutation, MutationName, ParlorError, Room, RoomOptions } from '@parlor/protocol'

export interface EngineStatus {
  online: boolean
  /** Queued mutations not yet acknowledged by the relay. */
  pending: number
  /** Creation time of the oldest queued mutation (epoch ms). */
  oldestPendingAt: number | undefined
  /** When the cache last caught up with the relay (epoch ms). */
  lastSyncAt: number | undefined
  /**
   * How the last reconnect caught up: `incremental` (only what changed since the cursor) or `full`
   * (first sync, or the relay could not serve the cursor — a rebuild of the cache).
   */
  catchUp: 'incremental' | 'full' | undefined
}

export interface EngineEvents {
  room: Room
  'room:removed': { roomId: string }
  comment: Comment
  options: { roomId: string; options: RoomOptions }
  status: EngineStatus
  'mutation:failed': { mutation: Mutation; error: ParlorError }
  [key: string]: unknown
}

/** A queued mutation as support tools and UIs see it. */
export interface PendingMutation {
  id: string
  name: MutationName
  roomId: string
  createdAt: number
  attempts: number
  lastError?: { code: string; message: string }
}

export type LiveQuery =
  | { type: 'roomList'; page?: number; limit?: number; show_participants?: boolean; show_empty?: boolean }
  | { type: 'room'; roomId: string }
  | { type: 'participants'; roomUniqueId: string; page?: number; limit?: number }
