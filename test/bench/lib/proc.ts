/**
 * Child processes of the options fan-out benchmark: each runs a TypeScript file through tsx with an
 * IPC channel; `call(cmd, args)` sends `{ id, cmd, ...args }` and resolves with the child's answer.
 * Every call is bounded in time.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

export interface Child {
  readonly name: string
  readonly proc: ChildProcess
  call<T = unknown>(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>
  /** Asks nothing: kills the process (by its pid) and waits for its exit. */
  kill(): Promise<void>
}

const TSX = import.meta.resolve('tsx')

/** Starts `file` (relative to this directory) with `node [nodeArgs] --import tsx file ...args`; its stdout goes to our stderr. */
export async function startChild(name: string, file: string, args: string[], nodeArgs: string[] = []): Promise<Child> {
  const path = fileURLToPath(new URL(file, import.meta.url))
  const proc = spawn(process.execPath, [...nodeArgs, '--import', TSX, path, ...args], { stdio: ['ignore', 2, 'inherit', 'ipc'] })
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>()
  let next = 0
  let exited = false
  const exit = new Promise<void>((resolve) => proc.once('exit', () => {
    exited = true
    for (const p of pending.values()) p.reject(new Error(`${name} exited`))
    resolve()
  }))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 60 s`)), 60_000)
    proc.once('exit', (code) => reject(new Error(`${name} exited (${code}) while starting`)))
    proc.on('message', (m: any) => {
      if (m?.ready) {
        clearTimeout(timer)
        resolve()
        return
      }
      const p = pending.get(m?.id)
      if (!p) return
      pending.delete(m.id)
      clearTimeout(p.timer)
      if (m.ok) p.resolve(m.value)
      else p.reject(new Error(`${name}: ${m.error}`))
    })
  })
  return {
    name,
    proc,
    call(cmd, a = {}, timeoutMs = 120_000) {
      if (exited) return Promise.reject(new Error(`${name} has exited`))
      const id = ++next
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id)
          reject(new Error(`${name}: ${cmd} timed out after ${timeoutMs} ms`))
        }, timeoutMs)
        pending.set(id, { resolve, reject, timer })
        proc.send({ id, cmd, ...a })
      })
    },
    async kill() {
      if (!exited) proc.kill('SIGKILL')
      await exit
    },
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}
