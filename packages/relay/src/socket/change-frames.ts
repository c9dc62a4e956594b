/** Encodes a {@link RelayChange} as the `change` frame one user receives. */
import { encodeFrame, type ChangeFrame } from '@parlor/protocol'
import type { RelayChange } from '../fanout/fanout.js'

const shared = new WeakMap<RelayChange, string>()

function toFrame(change: RelayChange, participants = change.participants): ChangeFrame {
  const frame: ChangeFrame = { type: 'change', seq: change.seq, roomId: change.roomId }
  if (change.room) frame.room = change.room
  if (participants && participants.length > 0) frame.participants = participants
  if (change.comments && change.comments.length > 0) frame.comments = change.comments
  if (change.optionsUpdate !== undefined) frame.optionsUpdate = change.optionsUpdate
  return frame
}

/** The change's seq and room alone, for the socket whose ack carries its rows (see `markEcho`). */
export function bareChangeFrameText(change: RelayChange): string {
  return encodeFrame({ type: 'change', seq: change.seq, roomId: change.roomId })
}

/**
 * The frame text for `userId`, or undefined when nothing in the change is for them. Channel changes
 * carry only the recipient's own participant row (channel member lists are never pushed); other
 * changes are encoded once and shared by every recipient.
 */
export function changeFrameText(change: RelayChange, userId: string): string | undefined {
  if (change.roomId.startsWith('c:') && change.participants) {
    const mine = change.participants.filter((p) => p.userId === userId)
    if (mine.length === 0 && !change.room && !change.comments && change.optionsUpdate === undefined) return undefined
    return encodeFrame(toFrame(change, mine))
  }
  let text = shared.get(change)
  if (text === undefined) shared.set(change, (text = encodeFrame(toFrame(change))))
  return text
}
