import type { RoomOptions } from '@parlor/engine'
import type { OptionsDraft, RoomWithComments } from './state.js'

/** Keys the options editor has dedicated fields for; every other key is an editable row. */
const NAMED = new Set(['background', 'lat', 'lng'])

export function draftFromRoom(room: RoomWithComments): OptionsDraft {
  const o = room.options
  return {
    roomId: room.id,
    name: room.name,
    background: o.background ?? '',
    lat: o.lat ?? '',
    lng: o.lng ?? '',
    rows: Object.entries(o)
      .filter(([k]) => !NAMED.has(k))
      .map(([key, value]) => ({ key, value })),
  }
}

/** The options map the draft describes (empty fields leave the key out), or what to fix. */
export function optionsFromDraft(d: OptionsDraft): RoomOptions | string {
  const out: RoomOptions = {}
  const bg = d.background.trim()
  if (bg) {
    if (!CSS.supports('color', bg)) return `“${bg}” is not a colour (try a name like “teal” or a code like #1e90ff).`
    out.background = bg
  }
  for (const [key, raw, min, max, label] of [
    ['lat', d.lat, -90, 90, 'Latitude'],
    ['lng', d.lng, -180, 180, 'Longitude'],
  ] as const) {
    const v = raw.trim()
    if (!v) continue
    const n = Number(v)
    if (!Number.isFinite(n) || n < min || n > max) return `${label} must be a number from ${min} to ${max}.`
    out[key] = v
  }
  for (const { key, value } of d.rows) {
    const k = key.trim()
    if (!k) continue
    if (NAMED.has(k)) return `Use the ${k} field above for “${k}”.`
    if (Object.hasOwn(out, k)) return `The key “${k}” appears twice.`
    out[k] = value
  }
  return out
}
