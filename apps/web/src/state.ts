import type { Comment, EngineStatus, Participant, Room, UserProfile } from '@parlor/engine'

export type RoomWithComments = Room & { comments: Comment[] }
export type Panel = 'participants' | 'options'
export type NewRoomKind = 'single' | 'group' | 'channel'

/** A comment the relay refused: the engine rolled it back; the app keeps it so it can be retried. */
export interface FailedComment {
  mutationId: string
  roomId: string
  uniqueId: string
  text: string
  reason: string
  at: number
}

export interface Toast {
  id: number
  text: string
  kind: 'error' | 'info'
}

/** One extra option row of the options editor (keys other than background/lat/lng). */
export interface OptionRow {
  key: string
  value: string
}

export interface OptionsDraft {
  roomId: string
  name: string
  background: string
  lat: string
  lng: string
  rows: OptionRow[]
  error?: string
  saved?: boolean
}

export interface AppState {
  phase: 'signed-out' | 'signing-in' | 'ready'
  signInError?: string
  /** Prefills the sign-in form. */
  lastUserId?: string
  me?: UserProfile
  /** What the status pill shows (engine.status() and its 'status' event). */
  status: Pick<EngineStatus, 'online' | 'pending'>

  rooms: Room[]
  roomsLoaded: boolean
  roomPages: number
  hasMoreRooms: boolean

  /** The open room (from the URL hash). */
  roomId?: string
  room?: RoomWithComments
  roomMissing?: string
  /** Comments older than the live window, loaded on demand (oldest first). */
  older: Comment[]
  hasOlder: boolean
  loadingOlder: boolean
  /** Rooms the user was removed from (the open room view says so). */
  removed: Set<string>
  failed: FailedComment[]

  panel?: Panel
  participants: Participant[]
  participantsPage: number
  participantsError?: string
  options?: OptionsDraft

  newRoom?: { kind: NewRoomKind; picks: string[]; contacts: UserProfile[]; error?: string; busy?: boolean }
  toasts: Toast[]
}

export const PARTICIPANTS_PAGE = 20
export const ROOMS_PAGE = 50

export function initialState(): AppState {
  return {
    phase: 'signing-in',
    status: { online: false, pending: 0 },
    rooms: [],
    roomsLoaded: false,
    roomPages: 1,
    hasMoreRooms: false,
    older: [],
    hasOlder: false,
    loadingOlder: false,
    removed: new Set(),
    failed: [],
    participants: [],
    participantsPage: 1,
    toasts: [],
  }
}
