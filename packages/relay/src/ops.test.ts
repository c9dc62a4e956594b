import { describe, expect, it } from 'vitest'
import { CLOSE_CODES } from '@parlor/protocol'
import { startRelay } from './testing/relay-fixture.js'

describe('operations endpoints (SQLite relay)', () => {
  it('answers /healthz (liveness) and /readyz (readiness) with the backends it uses', async () => {
    const relay = await startRelay()
    expect((await relay.http('GET', '/healthz')).status).toBe(200)
    const ready = await relay.http('GET', '/readyz')
    expect(ready.status).toBe(200)
    expect(ready.body).toMatchObject({ ok: true, storage: 'sqlite', fanout: 'in-process', draining: false })
  })

  it('exposes connections, rooms loaded, mutations and errors by code on /metrics', async () => {
    const relay = await startRelay()
    const [alice, bob] = await relay.users(2)
    const { socket } = await relay.connect(alice!.token)
    expect((await socket.mutate('createGroupRoom', { roomId: 'g:metrics1', name: 'n', userIds: [bob!.id] })).ok).toBe(true)
    const refused = await relay.mutate(bob!.token, 'updateRoom', { roomId: 'g:nope', name: 'x' })
    expect(refused.ok).toBe(false)
    expect((await relay.query('bad-token', 'getRoomById', { roomId: 'g:metrics1' })).status).toBe(401)

    const res = await fetch(`${relay.url}/metrics`)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    const text = await res.text()
    expect(text).toMatch(/^parlor_connections 1$/m)
    expect(text).toMatch(/^parlor_rooms_loaded 1$/m)
    expect(text).toMatch(/^parlor_mutations_total\{name="createGroupRoom",result="ok"\} 1$/m)
    expect(text).toMatch(/^parlor_mutations_total\{name="updateRoom",result="not_found"\} 1$/m)
    expect(text).toMatch(/^parlor_errors_total\{code="not_found",where="mutation"\} 1$/m)
    expect(text).toMatch(/^parlor_errors_total\{code="unauthorized",where="auth"\} 1$/m)
    expect(text).toMatch(/^parlor_http_responses_total\{status="401"\} 1$/m)
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m)
    expect(text).toMatch(/^parlor_options_docs_loaded \d+$/m)

    socket.ws.close()
    await socket.closed
    await expect.poll(async () => (await (await fetch(`${relay.url}/metrics`)).text()).match(/^parlor_connections (\d+)$/m)?.[1]).toBe('0')
  })

  it('closes sockets with goingAway when it drains, so engines move to another node', async () => {
    const relay = await startRelay()
    const [alice] = await relay.users(1)
    const { socket } = await relay.connect(alice!.token)
    const closing = relay.relay.close()
    expect((await socket.closed).code).toBe(CLOSE_CODES.goingAway)
    await closing
  })
})
