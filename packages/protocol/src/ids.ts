import { CHANNEL_ID_PATTERN, USER_ID_PATTERN } from './limits.js'

declare const brand: unique symbol
type Brand<T, B extends string> = T & { readonly [brand]: B }

export type UserId = Brand<string, 'UserId'>
export type RoomId = Brand<string, 'RoomId'>
export type MutationId = Brand<string, 'MutationId'>

/**
 * Room ids are known offline (SPEC "Identity without round trips"), so no provisional id ever
 * needs remapping:
 * - 1-on-1: `s:` + the two user ids sorted, joined by `:` (user ids cannot contain `:`);
 * - channel: `c:` + its unique id;
 * - group: `g:` + a nanoid made by the creating client.
 * A room's `uniqueId` is its channel id for channels and its room id otherwise; channel unique ids
 * may not start with `s:` or `g:`, so unique ids never collide across room types.
 */
export function singleRoomId(a: string, b: string): RoomId {
  const [x, y] = a < b ? [a, b] : [b, a]
  return `s:${x}:${y}` as RoomId
}

export function channelRoomId(uniqueId: string): RoomId {
  return `c:${uniqueId}` as RoomId
}

export function groupRoomId(nanoid: string): RoomId {
  return `g:${nanoid}` as RoomId
}

export function isUserId(s: unknown): s is UserId {
  return typeof s === 'string' && USER_ID_PATTERN.test(s)
}

export function isChannelUniqueId(s: unknown): s is string {
  return typeof s === 'string' && CHANNEL_ID_PATTERN.test(s) && !/^[sg]:/.test(s)
}

/** The room id a unique id names (channel unique ids map to `c:…`; other unique ids are room ids). */
export function roomIdFromUniqueId(uniqueId: string): RoomId {
  return (/^[sg]:/.test(uniqueId) ? uniqueId : channelRoomId(uniqueId)) as RoomId
}

/** The room type encoded in a room id, or undefined for a malformed id. */
export function roomTypeOf(roomId: string): RoomType | undefined {
  if (roomId.startsWith('s:')) return 'single'
  if (roomId.startsWith('g:')) return 'group'
  if (roomId.startsWith('c:')) return 'channel'
  return undefined
}

export type RoomType = 'single' | 'group' | 'channel'
