import { LIMITS, ParlorError, type RoomOptions } from '@parlor/protocol'

/**
 * Parameter normalisation for the seed SDK's call shapes: snake_case names with camelCase aliases,
 * and the `{ avatarURL, options }` wrapper (options possibly a JSON string) for room creation.
 */
export interface RoomExtras {
  avatarUrl?: string
  options?: RoomOptions
}

/** Accepts an options map, or the seed wrapper `{ avatarURL?, avatarUrl?, options?: map | JSON }`. */
export function roomExtras(input: unknown): RoomExtras {
  if (input === undefined || input === null) return {}
  if (typeof input !== 'object' || Array.isArray(input)) throw new ParlorError('validation', 'options must be an object')
  const o = input as Record<string, unknown>
  const isWrapper =
    Object.keys(o).length > 0 &&
    Object.keys(o).every((k) => ['avatarURL', 'avatarUrl', 'options', 'distinctId'].includes(k)) &&
    (o.options === undefined || typeof o.options === 'object' || typeof o.options === 'string')
  if (!isWrapper) return { options: stringMap(o) }
  const out: RoomExtras = {}
  const avatar = o.avatarUrl ?? o.avatarURL
  if (avatar !== undefined) {
    if (typeof avatar !== 'string') throw new ParlorError('validation', 'avatarURL must be a string')
    out.avatarUrl = avatar
  }
  if (o.options !== undefined) out.options = stringMap(typeof o.options === 'string' ? parseJsonOptions(o.options) : o.options)
  return out
}

function parseJsonOptions(s: string): unknown {
  try {
    return JSON.parse(s)
  } catch (e) {
    throw new ParlorError('validation', 'options is not valid JSON', { cause: e })
  }
}

/** Options values must be strings (SPEC §3). */
export function stringMap(input: unknown): RoomOptions {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new ParlorError('validation', 'options must be an object')
  const out: RoomOptions = {}
  for (const [k, v] of Object.entries(input)) {
    if (typeof v !== 'string') throw new ParlorError('validation', `option "${k}" must be a string`)
    out[k] = v
  }
  return out
}

/** Reads a parameter by its snake_case name or camelCase alias. */
export function pick<T>(o: object | undefined, snake: string, camel: string, fallback: T): T {
  const r = o as Record<string, unknown> | undefined
  const v = r?.[snake] ?? r?.[camel]
  return v === undefined ? fallback : (v as T)
}

export function checkPage(page: unknown, limit: unknown, maxLimit: number): { page: number; limit: number } {
  if (!Number.isInteger(page) || (page as number) < 1) throw new ParlorError('validation', 'page must be an integer ≥ 1')
  if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > maxLimit) {
    throw new ParlorError('validation', `limit must be an integer from 1 to ${maxLimit}`)
  }
  return { page: page as number, limit: limit as number }
}

export function checkBool(v: unknown, name: string): boolean {
  if (typeof v !== 'boolean') throw new ParlorError('validation', `${name} must be a boolean`)
  return v
}

export function checkIdList(v: unknown, name: string, max: number = LIMITS.maxUserIdsPerCall): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new ParlorError('validation', `${name} must be an array of strings`)
  if (v.length > max) throw new ParlorError('validation', `${name}: at most ${max} ids per call`)
  return v as string[]
}

export interface RoomListParams {
  page?: number
  limit?: number
  show_participants?: boolean
  show_empty?: boolean
  showParticipants?: boolean
  showEmpty?: boolean
}

export interface RoomsInfoParams {
  room_ids?: string[]
  room_unique_ids?: string[]
  show_participants?: boolean
  show_removed?: boolean
  roomIds?: string[]
  roomUniqueIds?: string[]
  showParticipants?: boolean
  showRemoved?: boolean
}

export interface UpdateRoomParams {
  id: string
  room_name?: string
  avatar_url?: string
  options?: RoomOptions
  name?: string
  roomName?: string
  avatarUrl?: string
}
