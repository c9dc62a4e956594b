/**
 * A cluster of real relay processes: the CLI (`apps/relay/bin/parlor-relay.mjs --port 0
 * --database-url … --redis-url …`) started N times on one fresh PostgreSQL database and one Redis,
 * each reached at the URL it prints. Engines get every node's URL, their home node first, so they
 * spread over the nodes and fail over to the next one. Everything is stopped (SIGTERM, then SIGKILL)
 * and the database dropped when the test or file ends.
 */
// First import: its afterAll (stopping servers this file started itself) must be registered before
// the harness's, so that it runs after it (after-hooks run in reverse order), once nodes are stopped.
import { freshDatabase, testServices } from './services.js'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import WebSocket from 'ws'
import { createEngine } from '@parlor/engine'
import { defer, keyOf, uid, type Engine } from '../harness.js'

const BIN = fileURLToPath(new URL('../../../apps/relay/bin/parlor-relay.mjs', import.meta.url))

export interface RelayNode {
  readonly index: number
  readonly url: string
  readonly child: ChildProcess
  /** stdout (JSON log lines) and stderr so far, for failure messages. */
  output(): string
  /** Sends `signal` and waits for the process to exit; resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
  readonly exited: Promise<number | null>
}

/** Starts one relay process; resolves once it printed the URL it listens on. */
export async function startNode(index: number, args: string[]): Promise<RelayNode> {
  const cwd = mkdtempSync(join(tmpdir(), 'parlor-node-'))
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PARLOR_')))
  const child = spawn(process.execPath, [BIN, '--port', '0', '--host', '127.0.0.1', ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  void exited.then(() => rmSync(cwd, { recursive: true, force: true }))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay ${index} printed no URL within 20 s:\n${out}`)), 20_000)
    createInterface({ input: child.stdout! }).on('line', (line) => {
      out += line + '\n'
      const m = /^parlor-relay listening on (http:\/\/\S+)$/.exec(line)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`relay ${index} exited with ${code} before listening:\n${out}`))
    })
  })
  const node: RelayNode = {
    index,
    url,
    child,
    exited,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
  defer(async () => {
    await node.stop()
  })
  return node
}

export interface Cluster {
  readonly nodes: RelayNode[]
  readonly databaseUrl: string
  readonly redisUrl: string
  /** Every node's URL, node `home` first, then the others in ring order (the engine's failover order). */
  urls(home: number): string[]
  /** A fresh engine (own fake IndexedDB) signed in as a new user, homed on node `home`. */
  engine(home: number, prefix?: string): Promise<ScaleEngine>
}

export type ScaleEngine = Engine & { userId: string; home: number }

/**
 * Starts `n` relay processes on a fresh database and the test Redis. Call it inside a test or a
 * `beforeAll`: everything is stopped when that test or file ends.
 */
export async function startCluster(n: number, opts: { logLevel?: string; redisUrl?: string } = {}): Promise<Cluster> {
  const redisUrl = opts.redisUrl ?? (await testServices()).redisUrl
  const db = await freshDatabase()
  defer(db.drop)
  const args = ['--database-url', db.url, '--redis-url', redisUrl, '--log-level', opts.logLevel ?? 'warn']
  // The first node migrates alone; the others start together (they would wait on the migration lock).
  const nodes = [await startNode(0, args)]
  nodes.push(...(await Promise.all(Array.from({ length: n - 1 }, (_, i) => startNode(i + 1, args)))))
  const urls = (home: number) => nodes.map((_, i) => nodes[(home + i) % nodes.length]!.url)
  return {
    nodes,
    databaseUrl: db.url,
    redisUrl,
    urls,
    async engine(home, prefix = 'u') {
      const userId = uid(prefix)
      const engine = createEngine({
        relayUrl: urls(home),
        dbName: `scale-${userId}`,
        indexedDB: new IDBFactory(),
        IDBKeyRange,
        WebSocket: WebSocket as never,
        backoff: { baseMs: 20, maxMs: 300 },
      })
      let isClosed = false
      defer(async () => {
        if (isClosed) return
        isClosed = true
        await engine.close()
      })
      await engine.setUser(userId, keyOf(userId), `User ${userId}`)
      return Object.assign(engine, { userId, home })
    },
  }
}
