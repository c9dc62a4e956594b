/**
 * `POST /v1/session`: registers a user on first use (scrypt-hashed key), else checks the key; updates
 * username/avatarUrl when given and different, and then refreshes the user's participant rows in
 * every room they are in, so other members see the new name live and on catch-up.
 */
import { ParlorError, parseWith, sessionRequestSchema, type SessionResponse } from '@parlor/protocol'
import { hashUserKey, verifyUserKey, type IssuedToken } from '../auth.js'
import type { RelayChange } from '../fanout/fanout.js'
import type { StorageReader, StorageTx, UserRow } from '../storage/relay-storage.js'
import { WriteScope } from './write-scope.js'

type Write = <T>(fn: (tx: StorageTx) => Promise<{ value: T; changes: RelayChange[] }>) => Promise<T>

export async function openSession(deps: {
  read: <T>(fn: (reader: StorageReader) => Promise<T>) => Promise<T>
  write: Write
  body: unknown
  now: () => number
  issue: (userId: string) => IssuedToken
}): Promise<SessionResponse> {
  const req = parseWith(sessionRequestSchema, deps.body, 'body')
  let user = await deps.read((r) => r.getUser(req.userId))
  let isNew = false
  if (!user) {
    // Hash outside the transaction: scrypt is slow and must not hold the write lock.
    const keyHash = await hashUserKey(req.userKey)
    const t = deps.now()
    const row: UserRow = {
      userId: req.userId,
      username: req.username || req.userId,
      avatarUrl: req.avatarUrl ?? '',
      keyHash,
      createdAt: t,
      updatedAt: t,
    }
    user = await deps.write(async (tx) => {
      const raced = await tx.getUser(req.userId)
      if (raced) return { value: raced, changes: [] }
      await tx.putUser(row)
      isNew = true
      return { value: row, changes: [] }
    })
  }
  if (!isNew) {
    if (!(await verifyUserKey(req.userKey, user.keyHash))) throw new ParlorError('unauthorized', 'wrong user key')
    const username = req.username || user.username
    const avatarUrl = req.avatarUrl ?? user.avatarUrl
    if (username !== user.username || avatarUrl !== user.avatarUrl) {
      user = await deps.write((tx) => updateProfile(tx, { ...user!, username, avatarUrl, updatedAt: deps.now() }, deps.now()))
    }
  }
  const { token, expiresAt } = deps.issue(user.userId)
  return { token, expiresAt, user: { userId: user.userId, username: user.username, avatarUrl: user.avatarUrl } }
}

async function updateProfile(tx: StorageTx, user: UserRow, now: number): Promise<{ value: UserRow; changes: RelayChange[] }> {
  await tx.putUser(user)
  const scope = new WriteScope(tx, user, now)
  for (const roomId of await tx.listActiveRoomIds(user.userId)) {
    const p = await tx.getParticipant(roomId, user.userId)
    if (p) await scope.saveParticipant({ ...p, username: user.username, avatarUrl: user.avatarUrl })
  }
  return { value: user, changes: scope.changes() }
}
