import type { Engine, Room } from '@parlor/engine'
import { describeError } from './errors.js'
import { parseIds } from './format.js'

export type NewRoomInput =
  | { kind: 'single'; userId: string }
  | { kind: 'group'; name: string; userIds: string[] }
  | { kind: 'channel'; uniqueId: string; name: string }

const USER_ID = /^[A-Za-z0-9._@+-]{1,128}$/
const CHANNEL_ID = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * Creates (or opens) the room the new-room dialog asks for. Resolves with the room, or with a
 * sentence saying what to fix. The engine answers at once from the local database (offline too);
 * a refusal by the relay comes later as `mutation:failed` and rolls the room back.
 */
export async function createRoom(engine: Engine, me: string, input: NewRoomInput): Promise<Room | string> {
  try {
    switch (input.kind) {
      case 'single': {
        const id = input.userId.trim()
        if (!id) return 'Enter the user id of the person to chat with.'
        if (id === me) return 'That’s your own user id: enter someone else’s.'
        if (!USER_ID.test(id)) return 'A user id is 1–128 letters, digits or . _ @ + -'
        return await engine.chatTarget(id)
      }
      case 'group': {
        const name = input.name.trim()
        if (!name) return 'Give the group a name.'
        const ids = [...new Set(input.userIds.flatMap(parseIds))].filter((id) => id !== me)
        const bad = ids.find((id) => !USER_ID.test(id))
        if (bad) return `“${bad}” is not a valid user id.`
        if (ids.length === 0) return 'Pick at least one participant.'
        if (ids.length > 100) return 'A group can start with at most 100 participants; add more later.'
        return await engine.createGroupRoom(name, ids)
      }
      case 'channel': {
        const uniqueId = input.uniqueId.trim()
        if (!CHANNEL_ID.test(uniqueId) || /^[sg]:/.test(uniqueId)) return 'A channel id is 1–128 letters, digits or . _ : - (not starting with s: or g:).'
        const name = input.name.trim()
        return await engine.getOrCreateRoomByChannel(uniqueId, name || undefined)
      }
    }
  } catch (e) {
    return describeError(e)
  }
}
