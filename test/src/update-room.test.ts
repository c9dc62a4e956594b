import { describe, expect, it } from 'vitest'
import { nextEvent, query, rejection, session, sharedRelay, signedInMany, syncAll, uid } from './harness.js'

const relay = sharedRelay()

describe('updateRoom', () => {
  it('renames a group and changes its avatar and options for every participant after their sync', async () => {
    const [alice, bob, carol] = await signedInMany(relay(), ['alice', 'bob', 'carol'])
    const room = await alice.createGroupRoom('Before', [bob.userId, carol.userId], { options: { background: 'blue' } })
    await alice.sync()
    const updated = await alice.updateRoom({
      id: room.id,
      room_name: 'After',
      avatar_url: 'https://example.com/after.png',
      options: { background: 'red', lat: '52.52' },
    })
    expect(updated).toMatchObject({ name: 'After', avatarUrl: 'https://example.com/after.png', options: { background: 'red', lat: '52.52' } })
    expect(updated.syncState).toBe('pending')
    await alice.sync()
    await syncAll(bob, carol)
    for (const e of [alice, bob, carol]) {
      const [r] = await e.getRoomsInfo({ room_ids: [room.id] })
      expect(r, e.userId).toMatchObject({
        name: 'After',
        avatarUrl: 'https://example.com/after.png',
        options: { background: 'red', lat: '52.52' },
        syncState: 'synced',
      })
    }
    // The rename and avatar change are in the timeline as system events.
    const timeline = await bob.loadComments(room.id, { limit: 100 })
    const kinds = timeline.filter((c) => c.type === 'system_event').map((c) => (c.payload as { type?: string }).type)
    expect(kinds).toEqual(expect.arrayContaining(['create', 'change_name', 'change_avatar']))
  })

  it('updates a channel, and a member who did not edit sees it', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const uniqueId = uid('chan')
    const room = await alice.getOrCreateRoomByChannel(uniqueId, 'Channel')
    await alice.sync()
    await bob.getOrCreateRoomByChannel(uniqueId)
    await bob.sync()
    await bob.updateRoom({ id: room.id, room_name: 'Renamed channel', options: { pinned: '42' } })
    await bob.sync()
    await alice.sync()
    const [r] = await alice.getRoomsInfo({ room_unique_ids: [uniqueId] })
    expect(r).toMatchObject({ name: 'Renamed channel', options: { pinned: '42' } })
    const token = await session(relay(), alice.userId)
    const res = await query(relay(), token, { name: 'getRoomById', args: { roomId: room.id } })
    expect(res.body.room).toMatchObject({ name: 'Renamed channel', options: { pinned: '42' } })
  })

  it('accepts the name/avatarUrl aliases', async () => {
    const [alice] = await signedInMany(relay(), ['alice'])
    const room = await alice.createGroupRoom('Alias', [])
    const r = await alice.updateRoom({ id: room.id, name: 'Aliased', avatarUrl: 'https://example.com/x.png' } as never)
    expect(r).toMatchObject({ name: 'Aliased', avatarUrl: 'https://example.com/x.png' })
    await alice.sync()
    const [synced] = await alice.getRoomsInfo({ room_ids: [room.id] })
    expect(synced).toMatchObject({ name: 'Aliased', syncState: 'synced' })
  })

  it('rejects a 1-on-1 room at once with unsupported_room_type, online or offline', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const room = await alice.chatTarget(bob.userId)
    await alice.sync()
    const err = await rejection(alice.updateRoom({ id: room.id, room_name: 'Nope' }))
    expect(err).toMatchObject({ name: 'ParlorError', code: 'unsupported_room_type' })
    await alice.disconnect()
    const offline = await rejection(alice.updateRoom({ id: room.id, options: { a: 'b' } }))
    expect(offline).toMatchObject({ code: 'unsupported_room_type' })
    expect(alice.status().pending).toBe(0)
    alice.connect()
    await alice.sync()
    const [r] = await alice.getRoomsInfo({ room_ids: [room.id] })
    expect(r?.name).not.toBe('Nope')
  })

  it('replaces the options map: keys absent from the new map are deleted', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const room = await alice.createGroupRoom('Opts', [bob.userId], { options: { a: '1', b: '2', c: '3' } })
    await alice.sync()
    const r = await alice.updateRoom({ id: room.id, options: { a: '1', c: 'three' } })
    expect(r.options).toEqual({ a: '1', c: 'three' })
    await alice.sync()
    await bob.sync()
    const [seen] = await bob.getRoomsInfo({ room_ids: [room.id] })
    expect(seen?.options).toEqual({ a: '1', c: 'three' })
    // Updating without options leaves them alone.
    await alice.updateRoom({ id: room.id, room_name: 'Opts 2' })
    await alice.sync()
    await bob.sync()
    const [again] = await bob.getRoomsInfo({ room_ids: [room.id] })
    expect(again).toMatchObject({ name: 'Opts 2', options: { a: '1', c: 'three' } })
  })

  it('keeps a concurrent edit of another key by another user', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const room = await alice.createGroupRoom('Both edit', [bob.userId], { options: { a: '1', b: '2', c: '3' } })
    await alice.sync()
    await bob.sync()
    await alice.disconnect()
    await bob.disconnect()
    // Both start from {a,b,c}: alice changes a and deletes c, bob changes b.
    await alice.updateRoom({ id: room.id, options: { a: 'alice', b: '2' } })
    await bob.updateRoom({ id: room.id, options: { a: '1', b: 'bob', c: '3' } })
    alice.connect()
    bob.connect()
    await syncAll(alice, bob)
    await syncAll(alice, bob)
    const want = { a: 'alice', b: 'bob' }
    for (const e of [alice, bob]) {
      const [r] = await e.getRoomsInfo({ room_ids: [room.id] })
      expect(r?.options, e.userId).toEqual(want)
    }
    const token = await session(relay(), bob.userId)
    const res = await query(relay(), token, { name: 'getRoomById', args: { roomId: room.id } })
    expect(res.body.room.options).toEqual(want)
  })

  it('rolls back an update the relay refuses and reports mutation:failed', async () => {
    const [alice, bob] = await signedInMany(relay(), ['alice', 'bob'])
    const room = await alice.createGroupRoom('Kick', [bob.userId])
    await syncAll(alice, bob)
    await bob.disconnect()
    await bob.updateRoom({ id: room.id, room_name: 'Bob was here' })
    await alice.removeParticipantsFromGroup(room.id, [bob.userId])
    await alice.sync()
    const failed = nextEvent(bob, 'mutation:failed', (p: any) => p?.mutation?.name === 'updateRoom')
    bob.connect()
    expect((await failed).error).toMatchObject({ code: 'forbidden' })
    await bob.sync()
    const [r] = await bob.getRoomsInfo({ room_ids: [room.id], show_removed: true })
    expect(r?.name).toBe('Kick')
    await alice.sync()
    const [a] = await alice.getRoomsInfo({ room_ids: [room.id] })
    expect(a?.name).toBe('Kick')
  })
})
