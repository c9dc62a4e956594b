import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CLOSE_CODES, singleRoomId } from '@parlor/protocol'
import { createRelay } from './create-relay.js'
import { SECRET_FILE } from './relay-secret.js'
import { TestRelay, defer, startRelay, tempDir, uid } from './testing/relay-fixture.js'

describe('createRelay', () => {
  it('listens on a free port and answers /healthz', async () => {
    const relay = await startRelay()
    expect(relay.relay.url).toBe(`http://127.0.0.1:${relay.relay.port}`)
    expect(relay.relay.port).toBeGreaterThan(0)
    expect((await relay.http('GET', '/healthz')).body).toEqual({ ok: true })
  })

  it('loses nothing across a restart on the same data dir, tokens and generated secret included', async () => {
    const dataDir = await tempDir()
    const first = await startRelay({ dataDir })
    const [a, b] = await first.users(2)
    const roomId = singleRoomId(a!.id, b!.id)
    await first.ok(a!.token, 'chatTarget', { roomId, userId: b!.id })
    const sent = await first.mutate(a!.token, 'sendComment', { roomId, uniqueId: 'u1', text: 'persisted', type: 'text' }, 'm-1')
    const { sync: before } = await first.connect(b!.token)
    await first.relay.close()
    expect((await stat(join(dataDir, SECRET_FILE))).mode & 0o777).toBe(0o600)

    const second = await startRelay({ dataDir, port: first.relay.port })
    expect(second.relay.port).toBe(first.relay.port)
    const { sync: after } = await second.connect(b!.token)
    expect(after.cursor).toBe(before.cursor)
    expect(after.rooms).toEqual(before.rooms)
    expect(after.comments.map((c) => c.text)).toContain('persisted')
    // Exactly once survives the restart too.
    expect(await second.mutate(a!.token, 'sendComment', { roomId, uniqueId: 'u2', text: 'again', type: 'text' }, 'm-1')).toEqual(sent)
    // Old passwords still work.
    expect((await second.http('POST', '/v1/session', { userId: a!.id, userKey: `key-${a!.id}` })).status).toBe(200)
  })

  it('uses a given secret, so tokens minted with it are accepted', async () => {
    const relay = await startRelay({ secret: 'configured' })
    const id = uid()
    await relay.signIn(id)
    const { sync } = await relay.connect(relay.relay.mintToken(id))
    expect(sync.userId).toBe(id)
    await expect(createRelay({ port: 0, dataDir: await tempDir(), secret: '' })).rejects.toThrow(/secret/)
  })

  it('closes sockets with goingAway, frees the port, and is idempotent', async () => {
    const relay = await startRelay()
    const [a] = await relay.users(1)
    const { socket } = await relay.connect(a!.token)
    await Promise.all([relay.relay.close(), relay.relay.close()])
    expect((await socket.closed).code).toBe(CLOSE_CODES.goingAway)
    await expect(fetch(relay.url + '/healthz')).rejects.toThrow()
    const again = await createRelay({ port: relay.relay.port, dataDir: relay.dataDir })
    defer(() => again.close())
    expect(again.port).toBe(relay.relay.port)
  })

  it('fails to start on a port in use, releasing the database', async () => {
    const relay = await startRelay()
    const dataDir = await tempDir()
    await expect(createRelay({ port: relay.relay.port, dataDir })).rejects.toThrow(/EADDRINUSE/)
    const ok = new TestRelay(await createRelay({ port: 0, dataDir }), dataDir)
    defer(() => ok.relay.close())
    expect((await ok.http('GET', '/healthz')).status).toBe(200)
  })
})
