import { describe, expect, it } from 'vitest'
import type { ParticipantRecord } from '@parlor/protocol'
import type { RelayChange } from '../fanout/fanout.js'
import { ConnectionRegistry, type RoutedConnection } from './connection-registry.js'

class FakeConnection implements RoutedConnection {
  readonly seen: number[] = []
  constructor(readonly userId: string) {}
  onChange(change: RelayChange): void {
    this.seen.push(change.seq)
  }
}

const row = (roomId: string, userId: string): ParticipantRecord => ({
  roomId, userId, username: userId, avatarUrl: '', joinedAt: 0, lastReadCommentId: 0, lastReceivedCommentId: 0, isRemoved: false, version: 1,
})

describe('ConnectionRegistry', () => {
  it('routes a change only to the room’s connections and to users named in its participant rows', () => {
    const registry = new ConnectionRegistry<FakeConnection>()
    const [inRoom, otherRoom, added] = [new FakeConnection('a'), new FakeConnection('b'), new FakeConnection('c')]
    registry.goLive(inRoom, ['g:1'])
    registry.goLive(otherRoom, ['g:2'])
    registry.goLive(added, [])
    registry.route({ seq: 1, roomId: 'g:1', comments: [] })
    registry.route({ seq: 2, roomId: 'g:1', participants: [row('g:1', 'c')] })
    expect(inRoom.seen).toEqual([1, 2])
    expect(otherRoom.seen).toEqual([])
    expect(added.seen).toEqual([2])
  })

  it('hands every change to syncing connections, and forgets removed ones', () => {
    const registry = new ConnectionRegistry<FakeConnection>()
    const syncing = new FakeConnection('a')
    registry.addSyncing(syncing)
    registry.route({ seq: 1, roomId: 'g:9' })
    registry.goLive(syncing, ['g:1'])
    registry.route({ seq: 2, roomId: 'g:9' })
    registry.route({ seq: 3, roomId: 'g:1' })
    registry.leaveRoom(syncing, 'g:1')
    registry.route({ seq: 4, roomId: 'g:1' })
    registry.joinRoom(syncing, 'g:1')
    registry.remove(syncing, ['g:1'])
    registry.route({ seq: 5, roomId: 'g:1', participants: [row('g:1', 'a')] })
    expect(syncing.seen).toEqual([1, 3])
    expect(registry.size()).toEqual({ users: 0, rooms: 0, syncing: 0 })
  })

  it('sends a channel read-pointer change only to that user’s connections', () => {
    const registry = new ConnectionRegistry<FakeConnection>()
    const [reader, member] = [new FakeConnection('a'), new FakeConnection('b')]
    registry.goLive(reader, ['c:news'])
    registry.goLive(member, ['c:news'])
    registry.route({ seq: 1, roomId: 'c:news', participants: [row('c:news', 'a')] })
    expect(reader.seen).toEqual([1])
    expect(member.seen).toEqual([])
  })
})
