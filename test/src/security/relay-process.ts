/**
 * The relay as a real child process (`apps/relay/bin/parlor-relay.mjs`), for tests that kill it:
 * started on a data dir and port, its printed URL read from stdout, killed with any signal.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const BIN = join(ROOT, 'apps', 'relay', 'bin', 'parlor-relay.mjs')

export interface RelayProcess {
  url: string
  port: number
  child: ChildProcess
  /** Everything the process wrote to stdout and stderr (its JSON-lines log). */
  output(): string
  /** Sends `signal` and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>
}

/** Starts `parlor-relay --port PORT --data DIR`; resolves once it prints the URL it listens on. */
export async function startRelayProcess(dataDir: string, port = 0, timeoutMs = 30_000): Promise<RelayProcess> {
  const child = spawn(process.execPath, [BIN, '--port', String(port), '--data', dataDir, '--log-level', 'warn'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start within ${timeoutMs} ms: ${out}`)), timeoutMs)
    const onData = (chunk: Buffer) => {
      out += chunk.toString()
      const m = /parlor-relay listening on (http:\/\/\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()))
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`relay exited (${code ?? signal}) before listening: ${out}`))
    })
  })
  // The listeners above keep draining (and recording) its output, so a chatty relay never blocks.
  return {
    url,
    port: Number(new URL(url).port),
    child,
    output: () => out,
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    },
  }
}

/** `PRAGMA integrity_check` of the relay's SQLite database (with the relay's own better-sqlite3). */
export function integrityCheck(dataDir: string): string[] {
  const require = createRequire(join(ROOT, 'packages', 'relay', 'package.json'))
  const Database = require('better-sqlite3') as new (file: string, o?: { readonly?: boolean }) => {
    pragma(s: string, o?: { simple?: boolean }): unknown
    close(): void
  }
  const db = new Database(join(dataDir, 'relay.db'))
  try {
    return (db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check)
  } finally {
    db.close()
  }
}
