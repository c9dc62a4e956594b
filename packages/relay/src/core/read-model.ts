/** Reads: the three queries, the socket catch-up and the room-scoped sync sent to an added user. */
import {
  LIMITS,
  parseWith,
  querySchema,
  roomIdFromUniqueId,
  type MemberRoomRecord,
  type ParticipantRecord,
  type QueryValues,
  type RoomRecord,
  type SyncFrame,
} from '@parlor/protocol'
import type { StorageReader } from '../storage/relay-storage.js'
import { fitSyncFrame } from './fit-sync-frame.js'
import { SyncFrameWriter, type EncodedSyncFrame, type SyncFrameHead } from './sync-frame-writer.js'
import { requireReadable, requireRoom } from './guards.js'
import { OptionsDocs, type StoredOptionsDoc } from './options-docs.js'

/**
 * `room` with its options document attached (`optionsState`) when the reader needs it: always with
 * `since` undefined, else when the document changed after `since`.
 */
async function withOptionsState(
  reader: StorageReader,
  docs: OptionsDocs,
  room: MemberRoomRecord,
  since?: number,
): Promise<MemberRoomRecord> {
  return withState(room, await docs.load(reader, room), since)
}

/** {@link withOptionsState} with the document loaded already. */
function withState(room: MemberRoomRecord, doc: StoredOptionsDoc, since?: number): MemberRoomRecord {
  const state = OptionsDocs.encode(doc)
  if (state === undefined || (since !== undefined && doc.seq <= since)) return room
  return { ...room, optionsState: state }
}

/**
 * A room as `me` sees it: with their unread count and removal flag. A removed user sees the room as
 * it was when they left (a newer lastComment is withheld) and no unread comments.
 */
export async function memberRoom(reader: StorageReader, room: RoomRecord, me: ParticipantRecord | undefined): Promise<MemberRoomRecord> {
  const unreadCount = me && !me.isRemoved ? await reader.countUnread(room.id, me.userId, me.lastReadCommentId) : 0
  return seenBy(room, me, unreadCount)
}

/** {@link memberRoom} with the unread count read already. */
function seenBy(room: RoomRecord, me: ParticipantRecord | undefined, unreadCount: number): MemberRoomRecord {
  if (!me) return { ...room, unreadCount: 0, isRemoved: false }
  if (me.isRemoved) {
    const lastComment = room.lastComment && room.lastComment.seq <= me.version ? room.lastComment : null
    return { ...room, lastComment, unreadCount: 0, isRemoved: true }
  }
  return { ...room, unreadCount, isRemoved: false }
}

/** Runs a validated query for `userId`; throws `validation`, `not_found` or `forbidden`. */
export async function runQuery(reader: StorageReader, userId: string, body: unknown, docs: OptionsDocs): Promise<QueryValues[keyof QueryValues]> {
  const query = parseWith(querySchema, body, 'query')
  switch (query.name) {
    case 'getRoomById': {
      const room = await requireRoom(reader, query.args.roomId)
      const me = await requireReadable(reader, room, userId)
      const comments = await reader.listComments(room.id, { limit: LIMITS.roomComments })
      // A channel's list can be long: page it with getParticipants.
      const participants = room.type === 'channel' ? [] : await reader.listParticipants(room.id)
      const isParticipant = !!me && !me.isRemoved
      // The options document goes to those who may read it (a removed member sees the room as it was).
      const seen = await memberRoom(reader, room, me)
      return { room: me?.isRemoved ? seen : await withOptionsState(reader, docs, seen), comments, participants, isParticipant }
    }
    case 'getParticipants': {
      const { roomUniqueId, page, limit } = query.args
      const room = await requireRoom(reader, roomIdFromUniqueId(roomUniqueId))
      await requireReadable(reader, room, userId)
      return { participants: await reader.listParticipants(room.id, { offset: (page - 1) * limit, limit }) }
    }
    case 'loadComments': {
      const room = await requireRoom(reader, query.args.roomId)
      await requireReadable(reader, room, userId)
      const opts = query.args.before === undefined ? { limit: query.args.limit } : { limit: query.args.limit, beforeId: query.args.before }
      return { comments: await reader.listComments(room.id, opts) }
    }
  }
}

/** A catch-up and the rooms the user is an active participant of (to index the connection by). */
export interface CatchUp {
  frame: SyncFrame
  activeRoomIds: string[]
}

/** A catch-up written as frames while it is read (see {@link streamCatchUp}). */
export interface StreamedCatchUp {
  /** The seq the catch-up is complete up to (every frame's cursor). */
  cursor: number
  activeRoomIds: string[]
}

/**
 * Everything that changed for `userId` after `cursor` (PROTOCOL.md, socket step 2), as one frame
 * (HTTP sends it as one body). A cursor of 0 or one ahead of the relay or of another database
 * (`epoch`) gives a full sync. For channels only the user's own participant row is sent.
 */
export async function catchUp(reader: StorageReader, userId: string, cursor: number, epoch: number | undefined, docs: OptionsDocs): Promise<CatchUp> {
  let frame!: SyncFrame
  const { activeRoomIds } = await readCatchUp(reader, userId, cursor, epoch, docs, (head) => {
    frame = { ...head, rooms: [], participants: [], comments: [] }
    return {
      add: (room, participants, comments) => {
        frame.rooms.push(room)
        frame.participants.push(...participants)
        frame.comments.push(...comments)
      },
      end: () => {},
    }
  })
  return { frame, activeRoomIds }
}

/**
 * The same catch-up as {@link catchUp}, handed to `emit` as frames engines accept (a socket's), each
 * as soon as it is full: the engine stores the first rooms while the next are read.
 */
export async function streamCatchUp(
  reader: StorageReader,
  userId: string,
  cursor: number,
  epoch: number | undefined,
  docs: OptionsDocs,
  emit: (frame: EncodedSyncFrame) => void,
): Promise<StreamedCatchUp> {
  return readCatchUp(reader, userId, cursor, epoch, docs, (head) => new SyncFrameWriter(head, emit))
}

type CatchUpSink = Pick<SyncFrameWriter, 'add' | 'end'>

/**
 * Rooms a catch-up reads together: each read covers this many rooms (a few queries per batch, not
 * per room, which over a network is a round trip each), about a frame's worth.
 */
const CATCH_UP_ROOMS_PER_READ = 250

async function readCatchUp(
  reader: StorageReader,
  userId: string,
  cursor: number,
  epoch: number | undefined,
  docs: OptionsDocs,
  sinkFor: (head: SyncFrameHead) => CatchUpSink,
): Promise<StreamedCatchUp> {
  const [current, relayEpoch] = [await reader.currentSeq(), await reader.epoch()]
  const isFull = cursor <= 0 || cursor > current || (epoch !== undefined && epoch !== relayEpoch)
  const since = isFull ? 0 : cursor
  const out = sinkFor({ type: 'sync', userId, cursor: current, isFull, epoch: relayEpoch })
  const memberships = await reader.listMemberships(userId, since)
  for (let i = 0; i < memberships.length; i += CATCH_UP_ROOMS_PER_READ) {
    const chunk = memberships.slice(i, i + CATCH_UP_ROOMS_PER_READ)
    const active = chunk.filter(({ me }) => !me.isRemoved)
    const activeIds = active.map(({ room }) => room.id)
    const unread = await reader.countUnreadOfRooms(userId, active.map(({ room, me }) => ({ roomId: room.id, afterId: me.lastReadCommentId })))
    const groupIds = active.filter(({ room }) => room.type !== 'channel').map(({ room }) => room.id)
    const participants = await reader.listParticipantsOfRooms(groupIds, since)
    const comments = await reader.listCommentsOfRooms(activeIds, { limit: LIMITS.roomComments, sinceSeq: since })
    const optionsDocs = await docs.loadMany(reader, active.map(({ room }) => room))
    for (const { room, me } of chunk) {
      if (me.isRemoved) {
        // After their removal, a room's changes are none of the removed user's business.
        if (me.version > since) out.add(seenBy(room, me, 0), [me], [])
        continue
      }
      // Options documents only of rooms whose options changed after the cursor: unchanged rooms cost nothing.
      const seen = withState(seenBy(room, me, unread.get(room.id) ?? 0), optionsDocs.get(room.id)!, isFull ? undefined : since)
      const rows = room.type !== 'channel' ? (participants.get(room.id) ?? []) : me.version > since ? [me] : []
      out.add(seen, rows, comments.get(room.id) ?? [])
    }
  }
  out.end()
  return { cursor: current, activeRoomIds: await reader.listActiveRoomIds(userId) }
}

/**
 * The room-scoped sync a connection receives when its user becomes a participant of `roomId`: the
 * room, all its participants (only the user's own row for channels) and its newest comments.
 * `cursor` is the seq of the change that added the user (never the snapshot's, so an engine that
 * stores it as its cursor cannot skip other rooms' changes). Undefined if the user has no row there.
 */
export async function roomSync(
  reader: StorageReader,
  userId: string,
  roomId: string,
  cursor: number,
  docs: OptionsDocs,
): Promise<{ frame: SyncFrame; isActive: boolean; snapshotSeq: number } | undefined> {
  const room = await reader.getRoom(roomId)
  const me = room && (await reader.getParticipant(roomId, userId))
  if (!room || !me) return undefined
  const isActive = !me.isRemoved
  const seen = await memberRoom(reader, room, me)
  const frame: SyncFrame = { type: 'sync', userId, cursor, isFull: false, rooms: [isActive ? await withOptionsState(reader, docs, seen) : seen], participants: [me], comments: [] }
  if (isActive) {
    if (room.type !== 'channel') frame.participants = await reader.listParticipants(roomId, { includeRemoved: true })
    frame.comments = await reader.listComments(roomId, { limit: LIMITS.roomComments })
  }
  return { frame: fitSyncFrame(frame).frame, isActive, snapshotSeq: await reader.currentSeq() }
}
