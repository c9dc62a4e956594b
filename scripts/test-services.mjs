// Real services for the tests: a throwaway PostgreSQL cluster and a Redis server, each on a free
// loopback port in its own temp dir, stopped by pid. Used by scripts/test.mjs (once per run, URLs
// passed to vitest as PARLOR_TEST_DATABASE_URL / PARLOR_TEST_REDIS_URL) and by test files run on
// their own (`npx vitest run src/scale`), which start their own when those variables are absent.
// A missing binary is an error that says how to install it: tests that need a server never skip.
import { execFileSync, spawn } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const PG_HINT =
  'PostgreSQL 15 server binaries (initdb, pg_ctl) were not found in PATH or /usr/lib/postgresql/*/bin. ' +
  'Install them: apt-get install -y --no-install-recommends postgresql-15 (CI: .ci/run does this).'
const REDIS_HINT =
  'redis-server was not found in PATH. Install it: apt-get install -y --no-install-recommends redis-server ' +
  '(CI: .ci/run does this).'

/** A free TCP port on 127.0.0.1 (the OS picks it; the tiny reuse race is retried by the callers). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

function findOnPath(name) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name)
  }
  return undefined
}

/** The directory holding initdb/pg_ctl: PATH first, then Debian's versioned dirs (15 preferred). */
export function findPgBin() {
  const onPath = findOnPath('initdb')
  if (onPath && findOnPath('pg_ctl')) return join(onPath, '..')
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root).sort((a, b) => (a === '15' ? -1 : b === '15' ? 1 : Number(b) - Number(a)))
  for (const v of versions) {
    const bin = join(root, v, 'bin')
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin
  }
  return undefined
}

/** PostgreSQL refuses to run as root: as root, run its tools as the `postgres` user via runuser. */
function pgUser() {
  if (process.getuid?.() !== 0) return undefined
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    return { name: 'postgres', uid, gid }
  } catch {
    throw new Error('running as root needs a `postgres` system user for the test cluster (it comes with the postgresql-15 package)')
  }
}

function runAs(user, cmd, args, opts = {}) {
  const [file, argv] = user ? ['runuser', ['-u', user.name, '--', cmd, ...args]] : [cmd, args]
  return execFileSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts })
}

function isAlive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function waitGone(pid, timeoutMs) {
  const until = Date.now() + timeoutMs
  while (isAlive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  return !isAlive(pid)
}

/**
 * Starts a throwaway PostgreSQL cluster (trust auth, user `postgres`, fsync off) on a free port.
 * @returns {Promise<{ url: string, pid: number, dir: string, stop: () => Promise<void> }>}
 */
export async function startPostgres() {
  const bin = findPgBin()
  if (!bin) throw new Error(PG_HINT)
  const user = pgUser()
  const dir = mkdtempSync(join(tmpdir(), 'parlor-pg-'))
  if (user) chownSync(dir, user.uid, user.gid)
  const data = join(dir, 'data')
  try {
    runAs(user, join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'])
  } catch (e) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`initdb failed: ${e.stderr ?? e.message}`)
  }
  let lastError
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    const opts = [
      '-c listen_addresses=127.0.0.1', `-p ${port}`, `-k ${dir}`, '-c fsync=off', '-c synchronous_commit=off',
      '-c full_page_writes=off', '-c max_connections=300', '-c shared_buffers=64MB',
    ].join(' ')
    try {
      runAs(user, join(bin, 'pg_ctl'), ['-D', data, '-w', '-t', '30', '-l', join(dir, 'log'), '-o', opts, 'start'])
    } catch (e) {
      lastError = new Error(`pg_ctl start failed: ${e.stderr ?? e.message}\n${safeRead(join(dir, 'log')).slice(-2000)}`)
      continue
    }
    const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0])
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      pid,
      dir,
      stop: async () => {
        // SIGQUIT: immediate shutdown; the cluster is thrown away.
        if (isAlive(pid)) process.kill(pid, 'SIGQUIT')
        if (!(await waitGone(pid, 10_000)) && isAlive(pid)) process.kill(pid, 'SIGKILL')
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  rmSync(dir, { recursive: true, force: true })
  throw lastError
}

function safeRead(path) {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

function ping(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    let buf = ''
    s.on('connect', () => s.write('PING\r\n'))
    s.on('data', (d) => {
      buf += d
      if (buf.includes('\r\n')) {
        s.destroy()
        resolve(buf.startsWith('+PONG'))
      }
    })
    s.on('error', () => resolve(false))
  })
}

/**
 * Starts a Redis server (no persistence) as a child process, on `port` or a free one.
 * @param {{ port?: number }} [options]
 * @returns {Promise<{ url: string, pid: number, stop: () => Promise<void> }>}
 */
export async function startRedis(options = {}) {
  const bin = findOnPath('redis-server') ?? (existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : undefined)
  if (!bin) throw new Error(REDIS_HINT)
  let lastError
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = options.port ?? (await freePort())
    const dir = mkdtempSync(join(tmpdir(), 'parlor-redis-'))
    const child = spawn(
      bin,
      ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    const exited = new Promise((resolve) => child.once('exit', () => resolve(true)))
    const until = Date.now() + 10_000
    let up = false
    while (!up && child.exitCode === null && Date.now() < until) {
      up = await ping(port)
      if (!up) await new Promise((r) => setTimeout(r, 20))
    }
    if (up) {
      return {
        url: `redis://127.0.0.1:${port}`,
        pid: child.pid,
        stop: async () => {
          if (child.exitCode === null) child.kill('SIGKILL')
          await exited
          rmSync(dir, { recursive: true, force: true })
        },
      }
    }
    if (child.exitCode === null) child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
    lastError = new Error(`redis-server did not start on port ${port}: ${output.slice(-1000)}`)
  }
  throw lastError
}

/**
 * Starts PostgreSQL and Redis together.
 * @returns {Promise<{ env: Record<string, string>, stop: () => Promise<void> }>}
 */
export async function startDataServices() {
  const [pg, redis] = await Promise.allSettled([startPostgres(), startRedis()])
  const started = [pg, redis].filter((r) => r.status === 'fulfilled').map((r) => r.value)
  const failed = [pg, redis].filter((r) => r.status === 'rejected').map((r) => r.reason)
  const stop = async () => {
    for (const s of started.reverse()) await s.stop()
  }
  if (failed.length > 0) {
    await stop()
    throw new Error(failed.map((e) => e.message).join('\n'))
  }
  return {
    env: { PARLOR_TEST_DATABASE_URL: pg.value.url, PARLOR_TEST_REDIS_URL: redis.value.url },
    stop,
  }
}
