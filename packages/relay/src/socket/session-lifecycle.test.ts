import { describe, expect, it } from 'vitest'
import { CLOSE_CODES, PROTOCOL_VERSION } from '@parlor/protocol'
import { API_ROUTES, OPS_ROUTES, UPGRADE_ROUTES, relayRoutes } from '../http/http-routes.js'
import { TestSocket, startRelay, uid } from '../testing/relay-fixture.js'

const hello = (token: string) => ({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token, cursor: 0 })

describe('session lifecycle on the relay', () => {
  it('serves every listed route and nothing else', async () => {
    const relay = await startRelay()
    expect(relayRoutes()).toHaveLength(API_ROUTES.length + OPS_ROUTES.length + UPGRADE_ROUTES.length)
    for (const r of [...API_ROUTES, ...OPS_ROUTES]) {
      const res = await relay.http(r.method, r.path, r.method === 'POST' ? {} : undefined)
      expect(res.status, `${r.method} ${r.path}`).not.toBe(404)
    }
    expect((await relay.http('POST', '/v1/nothing', {})).status).toBe(404)
  })

  it('logout revokes the session: its HTTP calls and sockets are refused, other sessions of the user are not', async () => {
    const relay = await startRelay()
    const id = uid()
    const a = (await relay.signIn(id)).token
    const b = (await relay.signIn(id)).token
    const { socket } = await relay.connect(a)
    const other = (await relay.connect(b)).socket
    expect(await relay.http('POST', '/v1/logout', undefined, a)).toMatchObject({ status: 200, body: { ok: true } })
    expect((await socket.closed).code).toBe(CLOSE_CODES.unauthorized)
    expect((await relay.http('GET', '/v1/sync', undefined, a)).body.error.code).toBe('unauthorized')
    expect((await relay.http('POST', '/v1/logout', undefined, a)).body.error.code).toBe('unauthorized')
    await other.ping()
    expect((await relay.http('GET', '/v1/sync', undefined, b)).status).toBe(200)
  })

  it('refreshes a socket token with auth, refuses another user, and closes the socket when its token expires', async () => {
    const relay = await startRelay()
    const id = uid()
    await relay.signIn(id)
    const { socket } = await relay.connect(relay.relay.mintToken(id, 300))
    const short = (await relay.connect(relay.relay.mintToken(id, 450))).socket
    socket.send({ type: 'auth', token: relay.relay.mintToken(id, 60_000) })
    expect(await socket.next((f) => f.type === 'authed')).toMatchObject({ ok: true, userId: id })
    const stranger = uid()
    await relay.signIn(stranger)
    socket.send({ type: 'auth', token: relay.relay.mintToken(stranger) })
    expect(await socket.next((f) => f.type === 'authed')).toMatchObject({ ok: false, error: { code: 'forbidden' } })
    // The unrefreshed socket closes when its token expires; by then the first socket's old token has
    // expired too, and that socket still serves on its refreshed one.
    expect((await short.closed).code).toBe(CLOSE_CODES.tokenExpired)
    await socket.ping()
  })

  it('bounds the sockets of one user', async () => {
    const relay = await startRelay({ maxSocketsPerUser: 2 })
    const id = uid()
    const token = (await relay.signIn(id)).token
    await relay.connect(token)
    await relay.connect(token)
    const third = await TestSocket.open(relay.url)
    third.send(hello(token))
    expect((await third.closed).code).toBe(CLOSE_CODES.tooManySockets)
  })
})
