import { describe, expect, it } from 'vitest'
import { CLOSE_CODES, PROTOCOL_VERSION } from '@parlor/protocol'
import { startRelay, TestSocket } from './testing/relay-fixture.js'

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

  it('exposes the outbox depths engines report in hello and report frames, for live sockets only', async () => {
    const relay = await startRelay()
    const [alice, bob, carol] = await relay.users(3)
    const gauges = async () => {
      const text = await (await fetch(`${relay.url}/metrics`)).text()
      const read = (name: string) => Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1])
      return { sum: read('parlor_engine_outbox_depth_sum'), max: read('parlor_engine_outbox_depth_max'), nonEmpty: read('parlor_engine_outbox_nonempty') }
    }
    expect(await gauges()).toEqual({ sum: 0, max: 0, nonEmpty: 0 })

    // hello carries the depth at connect; an engine that says nothing counts as 0.
    const a = await TestSocket.open(relay.url)
    a.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token: alice!.token, cursor: 0, pending: 4 })
    await a.next((f) => f.type === 'sync')
    const { socket: b } = await relay.connect(bob!.token)
    const { socket: c } = await relay.connect(carol!.token)
    expect(await gauges()).toEqual({ sum: 4, max: 4, nonEmpty: 1 })

    // report frames replace the socket's last value; they are not answered (the pong comes first).
    b.send({ type: 'report', pending: 7 })
    c.send({ type: 'report', pending: 2 })
    await Promise.all([b.ping(), c.ping()])
    expect(b.drain().map((f) => f.type)).toEqual(['pong'])
    expect(await gauges()).toEqual({ sum: 13, max: 7, nonEmpty: 3 })

    b.send({ type: 'report', pending: 0 })
    a.send({ type: 'report', pending: 1 })
    await Promise.all([a.ping(), b.ping()])
    expect(await gauges()).toEqual({ sum: 3, max: 2, nonEmpty: 2 })

    // A bad report is refused and changes nothing.
    c.send({ type: 'report', pending: -5 })
    expect((await c.next((f) => f.type === 'error')) as { error: { code: string } }).toMatchObject({ error: { code: 'validation' } })
    c.send({ type: 'report', pending: 3, extra: true })
    expect((await c.next((f) => f.type === 'error')) as { error: { code: string } }).toMatchObject({ error: { code: 'validation' } })
    expect(await gauges()).toEqual({ sum: 3, max: 2, nonEmpty: 2 })

    // A closed socket's depth leaves the totals.
    c.ws.close()
    await c.closed
    await expect.poll(gauges).toEqual({ sum: 1, max: 1, nonEmpty: 1 })
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
