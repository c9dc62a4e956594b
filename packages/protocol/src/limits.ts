/**
 * Every bound Parlor enforces, in one place, so engine and relay check the same numbers.
 * A limit is checked at the edge where data enters (a call, a frame, a body); one past it is
 * a `validation` (or `payload_too_large`) error that changes nothing.
 */
export const LIMITS = {
  /** User ids accepted by one call (createGroupRoom, add/removeParticipants). */
  maxUserIdsPerCall: 100,
  /** Participants a group room can hold, creator included. */
  maxGroupParticipants: 1000,
  /** Largest `limit` of loadRoomList. */
  maxRoomListLimit: 100,
  /** Largest `limit` of getParticipants. */
  maxParticipantsLimit: 100,
  /** Largest `limit` of loadComments. */
  maxCommentsLimit: 100,
  /** Comments getRoomById returns (the newest, oldest first). */
  roomComments: 20,
  /** Rooms one getRoomsInfo call may name (ids and unique ids together). */
  maxRoomsPerRequest: 100,
  /** Options: keys per room, bytes per key, bytes per value, bytes of the whole map as JSON. */
  maxOptionKeys: 64,
  maxOptionKeyBytes: 64,
  maxOptionValueBytes: 1024,
  maxOptionsBytes: 8 * 1024,
  /** Bytes of one options update (a Yjs v1 update), and of a whole options document as stored. */
  maxOptionsUpdateBytes: 64 * 1024,
  maxOptionsDocBytes: 64 * 1024,
  /** Comment text in UTF-8 bytes, and its `extras`/`payload` as JSON. */
  maxCommentTextBytes: 16 * 1024,
  maxCommentExtrasBytes: 4 * 1024,
  /** Room names and URLs, in characters. */
  maxNameLength: 200,
  maxUrlLength: 2048,
  /** Usernames, in characters. */
  maxUsernameLength: 200,
  /** User keys (passwords), in characters. */
  maxUserKeyLength: 1024,
  /** Ids: user ids, channel unique ids, mutation ids and comment unique ids, in characters. */
  maxIdLength: 128,
  /** Mutations in one `mutate` frame or HTTP body. */
  maxMutationsPerFrame: 250,
  /** Bytes of one websocket frame. */
  maxFrameBytes: 512 * 1024,
  /** Bytes of one HTTP request body (a body carries what a frame does, so the same bound). */
  maxBodyBytes: 512 * 1024,
  /** Sockets one user may hold open on one relay node (devices, plus slack for half-open ones). */
  maxSocketsPerUser: 32,
  /** Frames per second one socket may send, sustained, and the burst it may send at once. */
  maxFramesPerSecond: 200,
  maxFrameBurst: 400,
  /** How long a new socket may take to send `hello`, in milliseconds (relay option `helloTimeoutMs`). */
  helloTimeoutMs: 10_000,
  /** Interval of the relay's websocket pings; a socket that has not answered the previous one is dropped. */
  heartbeatIntervalMs: 30_000,
  /** HTTP: time to receive a request's headers; the whole request; an idle keep-alive connection. */
  httpHeadersTimeoutMs: 10_000,
  httpRequestTimeoutMs: 30_000,
  httpIdleTimeoutMs: 5_000,
  /** Characters of a session token (in `hello`, `auth` and `Authorization`). */
  maxTokenLength: 4096,
  /** Bytes queued for one socket past which the relay drops a reader too slow to keep up (it reconnects and catches up). */
  maxSocketBufferedBytes: 32 * 1024 * 1024,
  /** Engines report a changed outbox depth (`report` frame) at most this often. */
  outboxReportIntervalMs: 1_000,
  /** How long a socket closed for flooding (`CLOSE_CODES.rateLimited`) should wait before reconnecting. */
  rateLimitRetryAfterMs: 1_000,
} as const

/** User ids: 1–128 characters of `A–Z a–z 0–9 . _ @ + -` (no `:`, which room ids use as separator). */
export const USER_ID_PATTERN = /^[A-Za-z0-9._@+-]{1,128}$/

/** Channel unique ids: 1–128 characters of `A–Z a–z 0–9 . _ : -` (SPEC §2). */
export const CHANNEL_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/

/** Client-made ids (mutation ids, comment unique ids, group nanoids). */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9._:~-]{1,128}$/

/** Base64 text (standard alphabet, padded), as Yjs updates travel in JSON frames. */
export const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Byte length of a string in UTF-8, without allocating. */
export function utf8Length(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4
      i++
    } else n += 3
  }
  return n
}
