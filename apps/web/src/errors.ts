import { isParlorError, type ErrorCode, type Mutation } from '@parlor/engine'

/** What each engine error code means to a person using the app. */
const MESSAGES: Record<ErrorCode, string> = {
  validation: 'That doesn’t look right. Please check what you entered.',
  bad_frame: 'The app and the server didn’t understand each other. Reloading the page may help.',
  unauthorized: 'Your user id or key is wrong.',
  token_expired: 'Your session has expired. Please sign in again.',
  forbidden: 'You don’t have access to that room (anymore).',
  not_found: 'That room doesn’t exist, or you are not in it.',
  unknown_user: 'There is no user with that id.',
  unsupported_room_type: 'That can’t be done in a 1-on-1 chat.',
  limit_exceeded: 'That’s more than Parlor allows at once.',
  conflict: 'Someone else changed this at the same time. Please try again.',
  payload_too_large: 'That’s too big to send.',
  protocol_version: 'This app is out of date. Reload the page to update it.',
  rate_limited: 'Slow down a little: too many changes at once. Parlor will retry.',
  offline: 'You’re offline, and this needs the server. Try again when you’re back online.',
  unavailable: 'The server isn’t available right now. Parlor will keep trying.',
  timeout: 'The server took too long to answer. Please try again.',
  closed: 'The app was signed out or closed.',
  internal: 'Something went wrong on our side. Please try again.',
}

/** What a failed change was, in words: "Sending your message", "Creating the group", … */
const ACTIONS: Record<Mutation['name'], string> = {
  chatTarget: 'Starting the chat',
  createGroupRoom: 'Creating the group',
  getOrCreateChannel: 'Joining the channel',
  updateRoom: 'Saving the room’s settings',
  addParticipants: 'Adding participants',
  removeParticipants: 'Removing participants',
  sendComment: 'Sending your message',
  markAsRead: 'Marking the room as read',
  updateOptions: 'Saving the room’s options',
}

/** A sentence for any thrown value; engine errors by code, the rest generically. */
export function describeError(e: unknown): string {
  if (isParlorError(e)) return MESSAGES[e.code] ?? MESSAGES.internal
  return 'Something went wrong. Please try again.'
}

/** A sentence for a change the server refused: "Sending your message failed: …". */
export function describeFailure(mutationName: Mutation['name'], e: unknown): string {
  const action = ACTIONS[mutationName]
  return `${action} failed. ${describeError(e)}`
}
