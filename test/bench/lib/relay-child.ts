/**
 * One relay in its own process, for the options fan-out benchmark: `node --expose-gc --import tsx
 * relay-child.ts <kind> <port> [dataDir]`, `kind` one of
 *
 * - `y-websocket`: `@y/websocket-server` 0.1.1 as its README starts it (`HOST=… PORT=… npx
 *   y-websocket`, i.e. its `src/server.js`), no persistence configured (its default);
 * - `hocuspocus`: `@hocuspocus/server` 3.4.4 as its docs start it (`new Server({ port }).listen()`),
 *   with the documented `onLoadDocument`/`onStoreDocument` hooks backed by an in-memory map so a
 *   document survives being unloaded (as with any persistence extension);
 * - `parlor`: `createRelay` on SQLite in `dataDir`, per-socket frame limits raised (see the bench).
 *
 * It answers the parent over IPC: `{ id, cmd: 'stats' }` → heap used after a forced GC, CPU time
 * and the documents it holds in memory (Parlor: read from its `/metrics` gauge by the parent);
 * `profileStart` / `profileStop { path }` record a V8 CPU profile of this process into `path`.
 */
import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { createRequire } from 'node:module'
import { connect } from 'node:net'
import { pathToFileURL } from 'node:url'

const [kind, portArg, dataDir] = process.argv.slice(2) as [string, string, string | undefined]
const port = Number(portArg)
const HOST = '127.0.0.1'
const require = createRequire(import.meta.url)

let docsInMemory: () => number = () => -1
let close: () => Promise<void> = async () => {}

async function listening(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, HOST, () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`${kind} did not listen on ${port}`)
}

if (kind === 'y-websocket') {
  process.env.HOST = HOST
  process.env.PORT = String(port)
  const root = require.resolve('@y/websocket-server/package.json').replace(/package\.json$/, '')
  // The same module instance as the server's own `./utils.js`, for the documents it holds.
  const utils = (await import(pathToFileURL(root + 'src/utils.js').href)) as { docs: Map<string, unknown> }
  await import(pathToFileURL(root + 'src/server.js').href)
  await listening()
  docsInMemory = () => utils.docs.size
} else if (kind === 'hocuspocus') {
  const { Server } = await import('@hocuspocus/server')
  const Y = await import('yjs')
  const stored = new Map<string, Uint8Array>()
  const server = new Server({
    port,
    address: HOST,
    quiet: true,
    stopOnSignals: false,
    async onLoadDocument({ documentName, document }) {
      const state = stored.get(documentName)
      if (state) Y.applyUpdate(document, state)
      return document
    },
    async onStoreDocument({ documentName, document }) {
      stored.set(documentName, Y.encodeStateAsUpdate(document))
    },
  })
  await server.listen()
  docsInMemory = () => server.hocuspocus.getDocumentsCount()
  close = () => server.destroy()
} else if (kind === 'parlor') {
  const { createRelay } = await import('@parlor/relay')
  const relay = await createRelay({ port, host: HOST, dataDir: dataDir!, maxFramesPerSecond: 1_000_000, maxFrameBurst: 1_000_000 })
  close = () => relay.close()
} else {
  throw new Error(`unknown relay kind ${kind}`)
}

async function heapAfterGc(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) throw new Error('run with --expose-gc')
  for (let i = 0; i < 4; i++) {
    gc()
    await new Promise((r) => setImmediate(r))
  }
  return process.memoryUsage().heapUsed
}

let profiler: Session | undefined

async function profileStart(): Promise<void> {
  if (!profiler) {
    profiler = new Session()
    profiler.connect()
    await profiler.post('Profiler.enable')
    await profiler.post('Profiler.setSamplingInterval', { interval: 200 })
  }
  await profiler.post('Profiler.start')
}

async function profileStop(path: string): Promise<void> {
  if (!profiler) throw new Error('no profile started')
  const { profile } = await profiler.post('Profiler.stop')
  await writeFile(path, JSON.stringify(profile))
}

process.on('message', async (m: { id: number; cmd: string }) => {
  try {
    let value: unknown
    if (m.cmd === 'stats') value = { heapUsed: await heapAfterGc(), docs: docsInMemory() }
    else if (m.cmd === 'cpu') value = process.cpuUsage()
    else if (m.cmd === 'profileStart') value = await profileStart()
    else if (m.cmd === 'profileStop') value = await profileStop((m as { path?: string }).path!)
    else if (m.cmd === 'close') {
      await close()
      value = true
    } else throw new Error(`unknown command ${m.cmd}`)
    process.send!({ id: m.id, ok: true, value })
  } catch (e) {
    process.send!({ id: m.id, ok: false, error: String((e as Error)?.stack ?? e) })
  }
})
process.send!({ ready: true })
