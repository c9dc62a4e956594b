import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, onTestFinished } from 'vitest'

const BIN = fileURLToPath(new URL('../bin/parlor-relay.mjs', import.meta.url))

/** Runs the real CLI (bin → tsx → main.ts) in a fresh temp cwd, with no PARLOR_* from outside. */
function startCli(args: string[]) {
  const cwd = mkdtempSync(join(tmpdir(), 'parlor-cli-'))
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PARLOR_')))
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const lines = createInterface({ input: child.stdout! })
  lines.on('line', (l) => (stdout += l + '\n'))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
    rmSync(cwd, { recursive: true, force: true })
  })
  return { child, cwd, lines, exited, output: () => ({ stdout, stderr }) }
}

function waitForUrl(child: ChildProcess, lines: ReturnType<typeof createInterface>): Promise<string> {
  return new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      const m = /^parlor-relay listening on (http:\/\/\S+)$/.exec(line)
      if (m) resolve(m[1]!)
    })
    child.on('exit', (code) => reject(new Error(`CLI exited with ${code} before printing its URL`)))
  })
}

describe('parlor-relay CLI', () => {
  it('prints --help and exits 0', async () => {
    const cli = startCli(['--help'])
    expect(await cli.exited).toBe(0)
    expect(cli.output().stdout).toContain('--port <n>')
    expect(cli.output().stdout).toContain('PARLOR_LOG_LEVEL')
  })

  it('exits 2 with a message for a bad flag value', async () => {
    const cli = startCli(['--port', 'eighty'])
    expect(await cli.exited).toBe(2)
    expect(cli.output().stderr).toContain('--port must be an integer')
  })

  it('starts on port 0, answers /healthz, and exits 0 on SIGTERM', { timeout: 60_000 }, async () => {
    const cli = startCli(['--port', '0', '--data', 'db', '--log-level', 'debug'])
    const url = await waitForUrl(cli.child, cli.lines).catch((e: Error) => {
      throw new Error(`${e.message}\n${cli.output().stdout}\n${cli.output().stderr}`)
    })
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(url).not.toMatch(/:0$/)

    const res = await fetch(`${url}/healthz`)
    expect(res.status).toBe(200)

    cli.child.kill('SIGTERM')
    expect(await cli.exited).toBe(0)
    // Every stdout line other than the URL line is a JSON log entry.
    const logLines = cli.output().stdout.split('\n').filter((l) => l && !l.startsWith('parlor-relay listening on'))
    for (const line of logLines) expect(() => JSON.parse(line)).not.toThrow()
    expect(logLines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toContain('stopped')
  })
})
