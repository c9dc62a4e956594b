/**
 * Protocol-level clients of the options fan-out benchmark: bare websockets that do each relay's
 * handshake and nothing more (no Yjs document for subscribers), so the relay is measured rather
 * than the clients.
 *
 * - `y-websocket`: one document per socket at `<base>/<name>`; y-protocols sync messages.
 * - `parlor-yjs`: Parlor's y-websocket-compatible endpoint `<base>/yjs/<roomId>?token=…`, the same.
 * - `hocuspocus`: every message prefixed with the document name; an auth message per document, then
 *   sync; several documents may share one socket (multiplexing).
 * - `parlor-engine`: Parlor's engine socket `<base>/v1/socket`: `hello`, then `sync` frames for every
 *   room of the user (one socket for all rooms); options changes go up as `updateOptions` mutations
 *   and come down as `change.optionsUpdate` (base64 Yjs updates in JSON).
 *
 * Updates carry a timestamp in the value they set: `@` and 19 digits of `process.hrtime.bigint()`
 * (monotonic, shared by the processes of one host), 20 characters like the benchmark's values.
 * Writers pre-generate their updates with a placeholder and write the stamp into the bytes at send
 * time (same length, so the encoding stays valid).
 */
import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { fromBase64, toBase64 } from 'lib0/buffer'
import { PROTOCOL_VERSION, readOptions, setOption } from '@parlor/protocol'

export type Wire = 'y-websocket' | 'hocuspocus' | 'parlor-yjs' | 'parlor-engine'

export interface SocketSpec {
  wire: Wire
  /** ws://host:port */
  base: string
  /** Document names (Parlor: room ids) this socket serves: one, except hocuspocus mux and parlor-engine. */
  docs: string[]
  /** Parlor: a session token. */
  token?: string
}

/** Options as in ANCHORS.md: 10 keys of 10 characters with 20-character values. */
export const KEYS = Array.from({ length: 10 }, (_, k) => `option-k${k}`.padEnd(10, 'x').slice(0, 10))
export const OPTIONS = Object.fromEntries(KEYS.map((k, i) => [k, `value ${i}`.padEnd(20, '.').slice(0, 20)]))

const STAMP_LENGTH = 20
const PLACEHOLDER = '@' + '0'.repeat(STAMP_LENGTH - 1)
const PLACEHOLDER_BYTES = Buffer.from(PLACEHOLDER)
const AT = 0x40

export const stampBytes = (t: bigint): Buffer => Buffer.from('@' + t.toString().padStart(STAMP_LENGTH - 1, '0'))

/** Calls `fn` with every stamp in `buf` (`@` followed by 19 ASCII digits). */
export function scanStamps(buf: Uint8Array, fn: (stamp: bigint) => void): void {
  const end = buf.length - STAMP_LENGTH
  outer: for (let i = 0; i <= end; i++) {
    if (buf[i] !== AT) continue
    let v = 0n
    for (let j = 1; j < STAMP_LENGTH; j++) {
      const c = buf[i + j]!
      if (c < 0x30 || c > 0x39) continue outer
      v = v * 10n + BigInt(c - 0x30)
    }
    if (v !== 0n) fn(v)
    i += STAMP_LENGTH - 1
  }
}

const EMPTY_SV = Y.encodeStateVector(new Y.Doc())
const processTag = randomBytes(6).toString('hex')
let mutationCounter = 0

/** A Yjs options document as the relay of `wire` stores it: a Y.Map for the anchors, Parlor's LWW array. */
function isParlor(wire: Wire): boolean {
  return wire === 'parlor-yjs' || wire === 'parlor-engine'
}

function yMessage(type: number, payload: Uint8Array, docName?: string): Uint8Array {
  return encoding.encode((e) => {
    if (docName !== undefined) encoding.writeVarString(e, docName)
    encoding.writeVarUint(e, 0)
    encoding.writeVarUint(e, type)
    encoding.writeVarUint8Array(e, payload)
  })
}

/**
 * One bare socket. `onStamp(doc, stamp, arrival)` for every stamp in an update frame received;
 * `onState(doc, update)` for the document a sync brings (writers apply it).
 */
export class ProtoSocket {
  readonly ws: WebSocket
  readonly synced: Promise<void>
  /** Documents whose sync brought content (a non-empty update). */
  statesSeen = 0
  private readonly index = new Map<string, number>()
  private unsynced: Set<string>
  private resolveSynced!: () => void

  constructor(
    readonly spec: SocketSpec,
    private readonly onStamp: ((doc: number, stamp: bigint, at: bigint) => void) | undefined,
    private readonly onState: ((doc: number, update: Uint8Array) => void) | undefined,
  ) {
    spec.docs.forEach((d, i) => this.index.set(d, i))
    this.unsynced = new Set(spec.docs)
    let rejectSynced!: (e: Error) => void
    this.synced = new Promise<void>((resolve, reject) => {
      this.resolveSynced = resolve
      rejectSynced = reject
    })
    this.synced.catch(() => {})
    const url =
      spec.wire === 'y-websocket' ? `${spec.base}/${spec.docs[0]}`
      : spec.wire === 'parlor-yjs' ? `${spec.base}/yjs/${encodeURIComponent(spec.docs[0]!)}?token=${spec.token}`
      : spec.wire === 'parlor-engine' ? `${spec.base}/v1/socket`
      : spec.base
    this.ws = new WebSocket(url, { perMessageDeflate: false })
    this.ws.binaryType = 'nodebuffer'
    this.ws.on('open', () => this.handshake())
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      const at = process.hrtime.bigint()
      try {
        this.receive(data, isBinary, at)
      } catch (e) {
        rejectSynced(e as Error)
      }
    })
    this.ws.on('error', (e) => rejectSynced(e))
    this.ws.on('close', (code, reason) => rejectSynced(new Error(`${spec.wire} socket closed ${code} ${reason}`)))
  }

  private handshake(): void {
    const { wire, docs } = this.spec
    if (wire === 'y-websocket' || wire === 'parlor-yjs') this.ws.send(yMessage(0, EMPTY_SV))
    else if (wire === 'hocuspocus') {
      for (const name of docs) {
        this.ws.send(encoding.encode((e) => {
          encoding.writeVarString(e, name)
          encoding.writeVarUint(e, 2) // Auth
          encoding.writeVarUint(e, 0) // Token
          encoding.writeVarString(e, '')
        }))
        this.ws.send(yMessage(0, EMPTY_SV, name))
      }
    } else this.ws.send(JSON.stringify({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token: this.spec.token, cursor: 0 }))
  }

  private doneSyncing(name: string): void {
    if (this.unsynced.delete(name) && this.unsynced.size === 0) this.resolveSynced()
  }

  private receive(data: Buffer, isBinary: boolean, at: bigint): void {
    const { wire } = this.spec
    if (wire === 'parlor-engine') {
      if (isBinary) return
      const text = data.toString()
      if (text.startsWith('{"type":"change"')) {
        if (!this.onStamp || !text.includes('"optionsUpdate"')) return
        const frame = JSON.parse(text) as { roomId: string; optionsUpdate?: string }
        const doc = this.index.get(frame.roomId)
        if (doc !== undefined && frame.optionsUpdate) scanStamps(fromBase64(frame.optionsUpdate), (s) => this.onStamp!(doc, s, at))
      } else if (text.startsWith('{"type":"sync"')) {
        const frame = JSON.parse(text) as { more?: boolean; rooms: { id: string; optionsState?: string }[] }
        for (const room of frame.rooms) {
          const doc = this.index.get(room.id)
          if (doc === undefined || !room.optionsState) continue
          this.statesSeen++
          this.onState?.(doc, fromBase64(room.optionsState))
        }
        if (!frame.more) for (const name of this.spec.docs) this.doneSyncing(name)
      } else if (text.startsWith('{"type":"error"')) {
        throw new Error(`relay error frame: ${text.slice(0, 300)}`)
      } else if (text.startsWith('{"type":"ack"') && text.includes('"ok":false')) {
        throw new Error(`mutation refused: ${text.slice(0, 300)}`)
      }
      return
    }
    const d = decoding.createDecoder(data)
    const name = wire === 'hocuspocus' ? decoding.readVarString(d) : this.spec.docs[0]!
    const doc = this.index.get(name)
    if (doc === undefined) return
    const type = decoding.readVarUint(d)
    if (wire === 'hocuspocus' && type === 2) {
      // Auth: 2 = authenticated, 1 = permission denied.
      if (decoding.readVarUint(d) === 1) throw new Error(`hocuspocus refused ${name}`)
      return
    }
    if (type !== 0 && type !== 4) return
    const sub = decoding.readVarUint(d)
    if (sub === 1) {
      const update = decoding.readVarUint8Array(d)
      if (update.length > 2) this.statesSeen++
      this.onState?.(doc, update)
      this.doneSyncing(name)
    } else if (sub === 2 && this.onStamp) {
      scanStamps(decoding.readVarUint8Array(d), (s) => this.onStamp!(doc, s, at))
    }
  }

  /** Sends one document update the way this wire carries it. */
  sendUpdate(doc: number, update: Uint8Array): void {
    const { wire, docs } = this.spec
    if (wire === 'parlor-engine') {
      this.ws.send(JSON.stringify({
        type: 'mutate',
        mutations: [{ id: `b-${processTag}-${++mutationCounter}`, name: 'updateOptions', args: { roomId: docs[doc], update: toBase64(update) }, createdAt: Date.now() }],
      }))
    } else this.ws.send(yMessage(2, update, wire === 'hocuspocus' ? docs[doc] : undefined))
  }

  close(): void {
    this.ws.removeAllListeners('close')
    this.ws.on('error', () => {})
    this.ws.terminate()
  }
}

/** One document a writer writes: its local Yjs copy and its pre-generated updates. */
export class WriterDoc {
  readonly doc = new Y.Doc()
  private readonly queue: { bytes: Uint8Array; offset: number }[] = []
  private head = 0
  private n = 0

  constructor(
    readonly socket: ProtoSocket,
    readonly index: number,
  ) {}

  get name(): string {
    return this.socket.spec.docs[this.index]!
  }

  private get parlor(): boolean {
    return isParlor(this.socket.spec.wire)
  }

  private capture(fn: () => void): Uint8Array {
    const parts: Uint8Array[] = []
    const on = (u: Uint8Array) => void parts.push(u)
    this.doc.on('update', on)
    try {
      this.doc.transact(fn)
    } finally {
      this.doc.off('update', on)
    }
    return parts.length === 1 ? parts[0]! : Y.mergeUpdates(parts)
  }

  hasOptions(): boolean {
    return this.parlor ? Object.keys(readOptions(this.doc)).length >= KEYS.length : this.doc.getMap('options').size >= KEYS.length
  }

  /** Writes the 10 options (one update), for a document that has none yet. */
  seed(): void {
    const update = this.capture(() => {
      for (const [k, v] of Object.entries(OPTIONS)) {
        if (this.parlor) setOption(this.doc, k, v)
        else this.doc.getMap('options').set(k, v)
      }
    })
    this.socket.sendUpdate(this.index, update)
  }

  /** Pre-generates `count` one-key updates (keys in turn) carrying the placeholder stamp. */
  generate(count: number): void {
    if (this.head > 0) {
      this.queue.splice(0, this.head)
      this.head = 0
    }
    for (let i = 0; i < count; i++) {
      const key = KEYS[this.n++ % KEYS.length]!
      const bytes = this.capture(() => {
        if (this.parlor) setOption(this.doc, key, PLACEHOLDER)
        else this.doc.getMap('options').set(key, PLACEHOLDER)
      })
      const offset = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(PLACEHOLDER_BYTES)
      if (offset < 0) throw new Error('placeholder not found in the update')
      this.queue.push({ bytes, offset })
    }
  }

  get available(): number {
    return this.queue.length - this.head
  }

  /** Sends the next pre-generated update stamped with the current time; returns the stamp. */
  sendNext(): bigint {
    const next = this.queue[this.head++]
    if (!next) throw new Error('no pre-generated update left')
    const t = process.hrtime.bigint()
    next.bytes.set(stampBytes(t), next.offset)
    this.socket.sendUpdate(this.index, next.bytes)
    return t
  }
}
