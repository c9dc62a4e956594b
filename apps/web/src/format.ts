import type { Comment, Room } from '@parlor/engine'

const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' })
const day = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' })

/** "14:05" today, "Mar 3" before. */
export function shortTime(ms: number): string {
  const d = new Date(ms)
  return d.toDateString() === new Date().toDateString() ? time.format(d) : day.format(d)
}

export function fullTime(ms: number): string {
  return new Date(ms).toLocaleString()
}

/** Up to two letters standing for a name. */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean)
  const letters = words.length > 1 ? [words[0]![0], words[1]![0]] : [...(words[0] ?? '?')].slice(0, 2)
  return letters.join('').toUpperCase()
}

export function roomKind(room: Room): string {
  return room.type === 'single' ? '1-on-1' : room.type === 'group' ? 'Group' : 'Channel'
}

/** The room list's one-line preview of the last comment. */
export function preview(c: Comment | undefined, me: string): string {
  if (!c) return 'No messages yet'
  if (c.type === 'system_event') return c.text
  const who = c.sender.userId === me ? 'You' : c.sender.username || c.sender.userId
  return `${who}: ${c.text}`
}

/** Parses "bob, carol dave" into distinct ids. */
export function parseIds(text: string): string[] {
  return [...new Set(text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean))]
}
