/**
 * The contract every {@link RelayStorage} adapter must pass, as a vitest suite. Run it against each
 * adapter (`sqlite.test.ts` runs it on SQLite). This file imports vitest, so it is a separate entry
 * (`@parlor/relay/storage-contract`), never re-exported from the package index.
 */
import { describe, expect, it, onTestFinished } from 'vitest'
import type { CommentRecord, ParticipantRecord, RoomRecord } from '@parlor/protocol'
import type { RelayStorage, UserRow } from './relay-storage.js'

/** Opens a fresh, empty store; `reopen` closes it and opens the same data again. */
export type StorageContractFactory = () => Promise<{
  storage: RelayStorage
  reopen: () => Promise<RelayStorage>
  cleanup?: () => Promise<void>
}>

export const user = (userId: string, extra: Partial<UserRow> = {}): UserRow => ({
  userId, username: userId, avatarUrl: '', keyHash: 'scrypt$x', createdAt: 1, updatedAt: 1, ...extra,
})
export const room = (id: string, extra: Partial<RoomRecord> = {}): RoomRecord => ({
  id, uniqueId: id, type: 'group', name: 'n', avatarUrl: '', options: {}, participantCount: 0, lastComment: null,
  hasComments: false, createdAt: 1, updatedAt: 1, lastActivityAt: 1, version: 1, ...extra,
})
export const participant = (roomId: string, userId: string, extra: Partial<ParticipantRecord> = {}): ParticipantRecord => ({
  roomId, userId, username: userId, avatarUrl: '', joinedAt: 1, lastReadCommentId: 0, lastReceivedCommentId: 0,
  isRemoved: false, version: 1, ...extra,
})
export const comment = (roomId: string, id: number, extra: Partial<CommentRecord> = {}): CommentRecord => ({
  id, uniqueId: `u${id}`, roomId, sender: { userId: 'alice', username: 'Alice', avatarUrl: '' }, text: `c${id}`,
  type: 'text', timestamp: 1, seq: id, ...extra,
})

/**
 * Registers the storage contract suite.
 *
 * @example
 * runRelayStorageContract(async () => { const dir = tmp(); return { storage: await createSqliteStorage({ dataDir: dir }), reopen: … } })
 */
export function runRelayStorageContract(factory: StorageContractFactory, name = 'RelayStorage contract'): void {
  async function open() {
    const made = await factory()
    let current = made.storage
    onTestFinished(async () => {
      await current.close()
      await made.cleanup?.()
    })
    return {
      storage: () => current,
      reopen: async () => (current = await made.reopen()),
    }
  }

  describe(name, () => {
    it('round-trips users, rooms, participants and comments', async () => {
      const s = (await open()).storage()
      const r = room('g:1', { options: { a: '1' }, hasComments: true, lastComment: comment('g:1', 3, { payload: { k: [1] } }) })
      await s.transaction(async (tx) => {
        await tx.putUser(user('alice', { username: 'Alice' }))
        await tx.putRoom(r)
        await tx.putParticipant(participant('g:1', 'alice', { isRemoved: true, lastReadCommentId: 2 }))
        await tx.insertComment(comment('g:1', 1, { payload: { t: 'x' }, extras: { e: true } }))
        await tx.insertComment(comment('g:1', 2))
      })
      await s.read(async (rd) => {
        expect(await rd.getUser('alice')).toEqual(user('alice', { username: 'Alice' }))
        expect(await rd.getUser('nobody')).toBeUndefined()
        expect(await rd.getRoom('g:1')).toEqual(r)
        expect(await rd.getRoom('g:none')).toBeUndefined()
        expect(await rd.getParticipant('g:1', 'alice')).toEqual(participant('g:1', 'alice', { isRemoved: true, lastReadCommentId: 2 }))
        expect(await rd.getCommentByUniqueId('g:1', 'u1')).toEqual(comment('g:1', 1, { payload: { t: 'x' }, extras: { e: true } }))
        const plain = await rd.getCommentByUniqueId('g:1', 'u2')
        expect(plain).toEqual(comment('g:1', 2))
        expect(plain).not.toHaveProperty('payload')
      })
    })

    it('replaces users, rooms and participants on put', async () => {
      const s = (await open()).storage()
      await s.transaction(async (tx) => {
        await tx.putUser(user('a'))
        await tx.putUser(user('a', { username: 'A2' }))
        await tx.putRoom(room('g:1'))
        await tx.putRoom(room('g:1', { name: 'renamed', version: 2 }))
        await tx.putParticipant(participant('g:1', 'a'))
        await tx.putParticipant(participant('g:1', 'a', { version: 5 }))
      })
      await s.read(async (rd) => {
        expect((await rd.getUser('a'))?.username).toBe('A2')
        expect((await rd.getRoom('g:1'))?.name).toBe('renamed')
        expect((await rd.getParticipant('g:1', 'a'))?.version).toBe(5)
      })
    })

    it('takes increasing seq values, one per call, starting after 0', async () => {
      const s = (await open()).storage()
      expect(await s.read((rd) => rd.currentSeq())).toBe(0)
      const taken = await s.transaction(async (tx) => [await tx.nextSeq(), await tx.nextSeq()])
      expect(taken).toEqual([1, 2])
      expect(await s.transaction((tx) => tx.nextSeq())).toBe(3)
      expect(await s.read((rd) => rd.currentSeq())).toBe(3)
    })

    it('stores where the counter got to with setSeq, and goes on from there', async () => {
      const s = (await open()).storage()
      const inside = await s.transaction(async (tx) => {
        await tx.nextSeq()
        await tx.setSeq(5)
        return tx.currentSeq()
      })
      expect(inside).toBe(5)
      expect(await s.read((rd) => rd.currentSeq())).toBe(5)
      expect(await s.transaction((tx) => tx.nextSeq())).toBe(6)
      await expect(
        s.transaction(async (tx) => {
          await tx.nextSeq()
          await tx.setSeq(9)
          throw new Error('boom')
        }),
      ).rejects.toThrow('boom')
      expect(await s.read((rd) => rd.currentSeq())).toBe(6)
    })

    it('rolls a transaction back when its function throws, seq included, and rethrows', async () => {
      const s = (await open()).storage()
      const boom = new Error('boom')
      await expect(
        s.transaction(async (tx) => {
          await tx.nextSeq()
          await tx.putUser(user('ghost'))
          await tx.putRoom(room('g:ghost'))
          await tx.insertComment(comment('g:ghost', 1))
          await tx.putMutationResult('ghost', 'm1', { mutationId: 'm1', ok: true, value: {} })
          throw boom
        }),
      ).rejects.toBe(boom)
      await s.read(async (rd) => {
        expect(await rd.currentSeq()).toBe(0)
        expect(await rd.getUser('ghost')).toBeUndefined()
        expect(await rd.getRoom('g:ghost')).toBeUndefined()
        expect(await rd.getCommentByUniqueId('g:ghost', 'u1')).toBeUndefined()
        expect(await rd.getMutationResult('ghost', 'm1')).toBeUndefined()
      })
      // The store is usable afterwards.
      expect(await s.transaction((tx) => tx.nextSeq())).toBe(1)
    })

    it('undoes a savepoint that throws (seq included) and keeps the rest of the transaction', async () => {
      const s = (await open()).storage()
      const boom = new Error('boom')
      const outcome = await s.transaction(async (tx) => {
        await tx.putUser(user('kept'))
        const kept = await tx.savepoint(async () => {
          await tx.insertComment(comment('g:1', 1))
          return tx.nextSeq()
        })
        await expect(
          tx.savepoint(async () => {
            await tx.nextSeq()
            await tx.putRoom(room('g:undone'))
            await tx.insertComment(comment('g:1', 2, { uniqueId: 'u2' }))
            // Nested: undone with its parent even though it succeeded.
            await tx.savepoint(() => tx.putMutationResult('kept', 'm1', { mutationId: 'm1', ok: true, value: {} }))
            throw boom
          }),
        ).rejects.toBe(boom)
        // A statement that fails inside a savepoint does not poison the transaction (PostgreSQL).
        await expect(tx.savepoint(() => tx.insertComment(comment('g:1', 1)))).rejects.toThrow()
        return { kept, after: await tx.nextSeq() }
      })
      expect(outcome).toEqual({ kept: 1, after: 2 })
      await s.read(async (rd) => {
        expect(await rd.currentSeq()).toBe(2)
        expect(await rd.getUser('kept')).toBeDefined()
        expect(await rd.getRoom('g:undone')).toBeUndefined()
        expect(await rd.getCommentByUniqueId('g:1', 'u1')).toBeDefined()
        expect(await rd.getCommentByUniqueId('g:1', 'u2')).toBeUndefined()
        expect(await rd.getMutationResult('kept', 'm1')).toBeUndefined()
      })
    })

    it('undoes nested savepoints alike whether or not a statement ran inside them before', async () => {
      const s = (await open()).storage()
      const boom = new Error('boom')
      await s.transaction(async (tx) => {
        // Nothing ran inside, or only a read: nothing to undo.
        await expect(tx.savepoint(async () => Promise.reject(boom))).rejects.toBe(boom)
        await expect(tx.savepoint(async () => (await tx.getRoom('g:x'), Promise.reject(boom)))).rejects.toBe(boom)
        // Nothing ran in the outer one until its inner one wrote: both undone with the outer.
        await expect(tx.savepoint(async () => (await tx.savepoint(() => tx.putRoom(room('g:inner'))), Promise.reject(boom)))).rejects.toBe(boom)
        // The inner one undone alone, the outer kept.
        await tx.savepoint(async () => {
          await expect(tx.savepoint(async () => (await tx.putRoom(room('g:gone')), Promise.reject(boom)))).rejects.toBe(boom)
          await tx.putRoom(room('g:kept'))
        })
        // Statements issued together inside one savepoint.
        await tx.savepoint(async () => void (await Promise.all([tx.putRoom(room('g:p1')), tx.putRoom(room('g:p2')), tx.getRoom('g:kept')])))
        // A statement that fails first thing inside a savepoint does not poison the transaction.
        await tx.insertComment(comment('g:1', 1))
        await expect(tx.savepoint(() => tx.insertComment(comment('g:1', 1)))).rejects.toThrow()
        await tx.putRoom(room('g:after'))
      })
      const ids = ['g:inner', 'g:gone', 'g:kept', 'g:p1', 'g:p2', 'g:after']
      const present = await s.read(async (rd) => Promise.all(ids.map(async (id) => (await rd.getRoom(id)) !== undefined)))
      expect(present).toEqual([false, false, true, true, true, true])
    })

    it('serializes concurrent transactions (no lost updates)', async () => {
      const s = (await open()).storage()
      await s.transaction((tx) => tx.putRoom(room('g:1', { participantCount: 0 })))
      await Promise.all(
        Array.from({ length: 20 }, () =>
          s.transaction(async (tx) => {
            const r = (await tx.getRoom('g:1'))!
            await new Promise((done) => setTimeout(done, 0))
            await tx.putRoom({ ...r, participantCount: r.participantCount + 1 })
          }),
        ),
      )
      expect((await s.read((rd) => rd.getRoom('g:1')))?.participantCount).toBe(20)
    })

    it('refuses a transaction handle used after the transaction ended', async () => {
      const s = (await open()).storage()
      let leaked: { getUser(id: string): Promise<unknown> } | undefined
      await s.transaction(async (tx) => {
        leaked = tx
      })
      await expect(async () => leaked!.getUser('a')).rejects.toThrow()
    })

    it('stores each mutation result once per user and mutation id', async () => {
      const s = (await open()).storage()
      const ok = { mutationId: 'm1', ok: true as const, value: { removedUserIds: ['b'] } }
      const failed = { mutationId: 'm1', ok: false as const, error: { code: 'forbidden' as const, message: 'no' } }
      await s.transaction((tx) => tx.putMutationResult('alice', 'm1', ok))
      await s.transaction((tx) => tx.putMutationResult('bob', 'm1', failed))
      await expect(s.transaction((tx) => tx.putMutationResult('alice', 'm1', failed))).rejects.toThrow()
      await s.read(async (rd) => {
        expect(await rd.getMutationResult('alice', 'm1')).toEqual(ok)
        expect(await rd.getMutationResult('bob', 'm1')).toEqual(failed)
        expect(await rd.getMutationResult('alice', 'm2')).toBeUndefined()
      })
    })

    it('keeps comment ids and unique ids unique within a room', async () => {
      const s = (await open()).storage()
      await s.transaction((tx) => tx.insertComment(comment('g:1', 1)))
      await expect(s.transaction((tx) => tx.insertComment(comment('g:1', 1, { uniqueId: 'other' })))).rejects.toThrow()
      await expect(s.transaction((tx) => tx.insertComment(comment('g:1', 2, { uniqueId: 'u1' })))).rejects.toThrow()
      await s.transaction((tx) => tx.insertComment(comment('g:2', 1)))
    })

    it('pages comments newest-first selection, oldest-first order, with before and since', async () => {
      const s = (await open()).storage()
      await s.transaction(async (tx) => {
        for (let i = 1; i <= 30; i++) await tx.insertComment(comment('g:1', i, { seq: 100 + i }))
        await tx.insertComment(comment('g:2', 1))
      })
      await s.read(async (rd) => {
        const ids = async (o: Parameters<typeof rd.listComments>[1]) => (await rd.listComments('g:1', o)).map((c) => c.id)
        expect(await ids({ limit: 3 })).toEqual([28, 29, 30])
        expect(await ids({ limit: 3, beforeId: 5 })).toEqual([2, 3, 4])
        expect(await ids({ limit: 10, beforeId: 3 })).toEqual([1, 2])
        expect(await ids({ limit: 20, sinceSeq: 127 })).toEqual([28, 29, 30])
        expect(await ids({ limit: 5, beforeId: 1 })).toEqual([])
      })
    })

    it('counts unread comments: after the pointer, by others, not system events', async () => {
      const s = (await open()).storage()
      const bob = { userId: 'bob', username: 'Bob', avatarUrl: '' }
      await s.transaction(async (tx) => {
        await tx.insertComment(comment('g:1', 1))
        await tx.insertComment(comment('g:1', 2, { sender: bob }))
        await tx.insertComment(comment('g:1', 3, { type: 'system_event' }))
        await tx.insertComment(comment('g:1', 4))
        await tx.insertComment(comment('g:1', 5, { type: 'custom' }))
      })
      await s.read(async (rd) => {
        expect(await rd.countUnread('g:1', 'bob', 0)).toBe(3)
        expect(await rd.countUnread('g:1', 'bob', 4)).toBe(1)
        expect(await rd.countUnread('g:1', 'alice', 0)).toBe(1)
        expect(await rd.countUnread('g:1', 'carol', 0)).toBe(4)
      })
    })

    it('lists participants in (joinedAt, userId) order, pages them, filters removed and by version', async () => {
      const s = (await open()).storage()
      await s.transaction(async (tx) => {
        await tx.putParticipant(participant('g:1', 'c', { joinedAt: 1, version: 3 }))
        await tx.putParticipant(participant('g:1', 'a', { joinedAt: 2, version: 4 }))
        await tx.putParticipant(participant('g:1', 'b', { joinedAt: 1, version: 5, isRemoved: true }))
        await tx.putParticipant(participant('g:1', 'd', { joinedAt: 1, version: 6 }))
        await tx.putParticipant(participant('g:2', 'a'))
      })
      await s.read(async (rd) => {
        const ids = async (o?: Parameters<typeof rd.listParticipants>[1]) => (await rd.listParticipants('g:1', o)).map((p) => p.userId)
        expect(await ids()).toEqual(['c', 'd', 'a'])
        expect(await ids({ includeRemoved: true })).toEqual(['b', 'c', 'd', 'a'])
        expect(await ids({ offset: 1, limit: 1 })).toEqual(['d'])
        expect(await ids({ offset: 3, limit: 10 })).toEqual([])
        expect(await ids({ includeRemoved: true, sinceVersion: 4 })).toEqual(['b', 'd'])
        expect(await rd.countParticipants('g:1')).toBe(3)
        expect(await rd.countParticipants('g:none')).toBe(0)
      })
    })

    it('writes and looks up many comments and mutation results at once as one at a time', async () => {
      const s = (await open()).storage()
      const result = (id: string) => ({ mutationId: id, ok: true as const, value: { comment: comment('g:1', 1) } })
      await s.transaction(async (tx) => {
        await tx.insertComments([comment('g:1', 1, { uniqueId: 'a' }), comment('g:1', 2, { uniqueId: 'b', payload: { k: 1 } }), comment('g:2', 1, { uniqueId: 'a' })])
        await tx.insertComments([])
        await tx.putMutationResults([{ userId: 'alice', mutationId: 'm1', result: result('m1') }, { userId: 'bob', mutationId: 'm1', result: result('m1') }])
        await tx.putMutationResults([])
      })
      await s.read(async (rd) => {
        expect((await rd.listComments('g:1', { limit: 5 })).map((c) => c.uniqueId)).toEqual(['a', 'b'])
        expect(await rd.getCommentByUniqueId('g:1', 'b')).toEqual(comment('g:1', 2, { uniqueId: 'b', payload: { k: 1 } }))
        const keys = [{ roomId: 'g:1', uniqueId: 'b' }, { roomId: 'g:1', uniqueId: 'none' }, { roomId: 'g:2', uniqueId: 'a' }]
        const found = await rd.getCommentsByUniqueIds(keys)
        expect(found.sort((x, y) => x.roomId.localeCompare(y.roomId))).toEqual([await rd.getCommentByUniqueId('g:1', 'b'), await rd.getCommentByUniqueId('g:2', 'a')])
        expect(await rd.getMutationResults('alice', ['m1', 'm2'])).toEqual(new Map([['m1', result('m1')]]))
        expect(await rd.getMutationResults('carol', ['m1'])).toEqual(new Map())
      })
      // Unique as one at a time: a repeated key fails the write.
      await expect(s.transaction((tx) => tx.insertComments([comment('g:1', 3, { uniqueId: 'a' })]))).rejects.toThrow()
      await expect(s.transaction((tx) => tx.putMutationResults([{ userId: 'alice', mutationId: 'm1', result: result('m1') }]))).rejects.toThrow()
      expect((await s.read((rd) => rd.listComments('g:1', { limit: 5 }))).map((c) => c.id)).toEqual([1, 2])
    })

    it('reads many rooms at once as it reads each room', async () => {
      const s = (await open()).storage()
      const bob = { userId: 'bob', username: 'Bob', avatarUrl: '' }
      await s.transaction(async (tx) => {
        // g:1: many comments (more than the limit), members in a join order unlike their ids; g:2:
        // a removed member and a system event; g:3: nothing at all.
        for (let i = 1; i <= 12; i++) await tx.insertComment(comment('g:1', i, { seq: 10 + i, sender: i % 3 === 0 ? bob : comment('g:1', 0).sender }))
        await tx.insertComment(comment('g:2', 1, { type: 'system_event', seq: 30 }))
        await tx.insertComment(comment('g:2', 2, { sender: bob, seq: 31 }))
        await tx.putParticipant(participant('g:1', 'zed', { joinedAt: 1, version: 4 }))
        await tx.putParticipant(participant('g:1', 'amy', { joinedAt: 2, version: 6 }))
        await tx.putParticipant(participant('g:1', 'bob', { joinedAt: 1, version: 8 }))
        await tx.putParticipant(participant('g:2', 'bob', { version: 5, isRemoved: true }))
        await tx.putParticipant(participant('g:2', 'cat', { version: 7 }))
        for (const roomId of ['g:1', 'g:2']) await tx.appendOptionsUpdate(roomId, 3, new Uint8Array([roomId.length, 1]))
        await tx.appendOptionsUpdate('g:1', 4, new Uint8Array([2]))
      })
      const ids = ['g:1', 'g:2', 'g:3']
      await s.read(async (rd) => {
        const each = async <T>(read: (id: string) => Promise<T[]>) => new Map((await Promise.all(ids.map(async (id) => [id, await read(id)] as const))).filter(([, v]) => v.length > 0))
        for (const since of [0, 5, 7]) {
          expect(await rd.listParticipantsOfRooms(ids, since)).toEqual(await each((id) => rd.listParticipants(id, { includeRemoved: true, sinceVersion: since })))
        }
        for (const o of [{ limit: 5 }, { limit: 20, sinceSeq: 20 }, { limit: 1, sinceSeq: 0 }]) {
          expect(await rd.listCommentsOfRooms(ids, o)).toEqual(await each((id) => rd.listComments(id, o)))
        }
        const pointers = [{ roomId: 'g:1', afterId: 4 }, { roomId: 'g:2', afterId: 0 }, { roomId: 'g:3', afterId: 0 }]
        for (const who of ['alice', 'bob']) {
          const counts = new Map(await Promise.all(pointers.map(async (p) => [p.roomId, await rd.countUnread(p.roomId, who, p.afterId)] as const)))
          expect(await rd.countUnreadOfRooms(who, pointers)).toEqual(counts)
        }
        const [first] = await rd.listOptionsUpdates('g:1')
        const after = [{ roomId: 'g:1', afterId: first!.id }, { roomId: 'g:2', afterId: 0 }, { roomId: 'g:3', afterId: 0 }]
        const rows = new Map((await Promise.all(after.map(async (a) => [a.roomId, await rd.listOptionsUpdates(a.roomId, a.afterId)] as const))).filter(([, v]) => v.length > 0))
        expect(await rd.listOptionsUpdatesOfRooms(after)).toEqual(rows)
        expect(await rd.listParticipantsOfRooms([], 0)).toEqual(new Map())
      })
    })

    it('lists a user’s memberships changed since a version, and active room ids', async () => {
      const s = (await open()).storage()
      await s.transaction(async (tx) => {
        // g:old: nothing newer than 5. g:room: room row newer. g:other: another member's row newer.
        // c:chan: another member newer, but channels ignore others' rows. g:gone: removed at 7.
        for (const [id, version] of [['g:old', 5], ['g:room', 9], ['g:other', 5], ['c:chan', 5], ['g:gone', 5]] as const) {
          await tx.putRoom(room(id, { version, type: id.startsWith('c:') ? 'channel' : 'group' }))
          await tx.putParticipant(participant(id, 'me', { version: 2, isRemoved: id === 'g:gone' }))
        }
        await tx.putParticipant(participant('g:other', 'you', { version: 8 }))
        await tx.putParticipant(participant('c:chan', 'you', { version: 8 }))
        await tx.putParticipant(participant('g:gone', 'me', { version: 7, isRemoved: true }))
      })
      await s.read(async (rd) => {
        const since = async (v: number) => (await rd.listMemberships('me', v)).map((m) => m.room.id)
        expect(await since(5)).toEqual(['g:gone', 'g:other', 'g:room'])
        expect(await since(0)).toEqual(['c:chan', 'g:gone', 'g:old', 'g:other', 'g:room'])
        expect(await since(9)).toEqual([])
        const [gone] = await rd.listMemberships('me', 6)
        expect(gone?.me).toEqual(participant('g:gone', 'me', { version: 7, isRemoved: true }))
        expect(gone?.room.id).toBe('g:gone')
        expect((await rd.listActiveRoomIds('me')).sort()).toEqual(['c:chan', 'g:old', 'g:other', 'g:room'])
        expect(await rd.listActiveRoomIds('nobody')).toEqual([])
      })
    })

    it('records revoked sessions once, keeps them across reopen, and prunes those that expired', async () => {
      const h = await open()
      const row = { sessionId: 's1', userId: 'alice', expiresAt: 1_000, revokedAt: 10 }
      await h.storage().transaction((tx) => tx.revokeSession(row))
      await h.storage().transaction((tx) => tx.revokeSession(row))
      await h.storage().read(async (rd) => {
        expect(await rd.isSessionRevoked('s1')).toBe(true)
        expect(await rd.isSessionRevoked('s2')).toBe(false)
      })
      await h.storage().close()
      const s = await h.reopen()
      expect(await s.read((rd) => rd.isSessionRevoked('s1'))).toBe(true)
      // A revocation made after s1's token expired prunes s1: its tokens are refused as expired anyway.
      await s.transaction((tx) => tx.revokeSession({ sessionId: 's2', userId: 'bob', expiresAt: 5_000, revokedAt: 2_000 }))
      expect(await s.read(async (rd) => [await rd.isSessionRevoked('s1'), await rd.isSessionRevoked('s2')])).toEqual([false, true])
    })

    it('appends options updates per room in id order, lists those after an id, and replaces them on compaction', async () => {
      const h = await open()
      const s = h.storage()
      const bytes = (...b: number[]) => new Uint8Array(b)
      const [a1, b1, a2] = await s.transaction(async (tx) => [
        await tx.appendOptionsUpdate('g:a', 3, bytes(1, 2, 3)),
        await tx.appendOptionsUpdate('g:b', 3, bytes(9)),
        await tx.appendOptionsUpdate('g:a', 4, bytes(0, 255)),
      ])
      expect(a1).toBeLessThan(b1!)
      expect(b1).toBeLessThan(a2!)
      await s.read(async (rd) => {
        const rows = await rd.listOptionsUpdates('g:a')
        expect(rows.map((r) => [r.id, r.seq, [...r.update]])).toEqual([[a1, 3, [1, 2, 3]], [a2, 4, [0, 255]]])
        expect(rows[0]!.update).toBeInstanceOf(Uint8Array)
        expect((await rd.listOptionsUpdates('g:a', a1)).map((r) => r.id)).toEqual([a2])
        expect(await rd.listOptionsUpdates('g:none')).toEqual([])
      })
      // A rolled-back append leaves nothing; compaction keeps one row with a new, higher id.
      await expect(s.transaction(async (tx) => {
        await tx.appendOptionsUpdate('g:a', 5, bytes(7))
        throw new Error('boom')
      })).rejects.toThrow('boom')
      const merged = await s.transaction((tx) => tx.replaceOptionsUpdates('g:a', 4, bytes(42)))
      expect(merged).toBeGreaterThan(a2!)
      await s.read(async (rd) => {
        expect((await rd.listOptionsUpdates('g:a')).map((r) => [r.id, r.seq, [...r.update]])).toEqual([[merged, 4, [42]]])
        expect((await rd.listOptionsUpdates('g:b')).map((r) => r.id)).toEqual([b1])
      })
      // Ids are never reused, even after the newest rows are deleted and the store reopened.
      const b2 = await s.transaction((tx) => tx.replaceOptionsUpdates('g:b', 5, bytes(8)))
      expect(b2).toBeGreaterThan(merged)
      // The room holding the largest id compacted again: its new row still takes an id never used.
      const b3 = await s.transaction((tx) => tx.replaceOptionsUpdates('g:b', 5, bytes(8, 8)))
      expect(b3).toBeGreaterThan(b2)
      expect((await s.read((rd) => rd.listOptionsUpdates('g:b'))).map((r) => [r.id, [...r.update]])).toEqual([[b3, [8, 8]]])
      await s.close()
      const again = await h.reopen()
      const next = await again.transaction((tx) => tx.appendOptionsUpdate('g:c', 6, bytes(1)))
      expect(next).toBeGreaterThan(b3)
      expect((await again.read((rd) => rd.listOptionsUpdates('g:a'))).map((r) => [...r.update])).toEqual([[42]])
    })

    it('keeps everything after close and reopen', async () => {
      const h = await open()
      await h.storage().transaction(async (tx) => {
        await tx.nextSeq()
        await tx.putUser(user('alice'))
        await tx.putRoom(room('g:1'))
        await tx.putParticipant(participant('g:1', 'alice'))
        await tx.insertComment(comment('g:1', 1))
        await tx.putMutationResult('alice', 'm1', { mutationId: 'm1', ok: true, value: {} })
      })
      await h.storage().close()
      const s = await h.reopen()
      await s.read(async (rd) => {
        expect(await rd.currentSeq()).toBe(1)
        expect(await rd.getUser('alice')).toEqual(user('alice'))
        expect(await rd.getRoom('g:1')).toEqual(room('g:1'))
        expect(await rd.getParticipant('g:1', 'alice')).toEqual(participant('g:1', 'alice'))
        expect(await rd.listComments('g:1', { limit: 5 })).toEqual([comment('g:1', 1)])
        expect(await rd.getMutationResult('alice', 'm1')).toEqual({ mutationId: 'm1', ok: true, value: {} })
      })
      expect(await s.transaction((tx) => tx.nextSeq())).toBe(2)
    })
  })
}
