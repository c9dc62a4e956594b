#!/usr/bin/env node
// The root test command (`pnpm test`): starts the services the tests need, runs `vitest run` over
// every project listed in the root vitest.config.ts, and closes with the line CI reads:
//   N passed, N failed[, N skipped]
// computed from vitest's JSON report. Exits non-zero if anything failed, vitest itself failed, or no
// test ran at all. Extra arguments go to vitest (`pnpm test -- --project parlor-relay`).
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startDataServices } from './test-services.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const VITEST = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs')

/**
 * Starts what the tests need outside the test process and says how to reach it: a throwaway
 * PostgreSQL cluster and a Redis server (scripts/test-services.mjs), each on a free loopback port in
 * a temp dir, stopped by pid in `stop`. A missing binary fails the run with an install hint (never
 * skipping). Tests find them through the returned env (PARLOR_TEST_DATABASE_URL, PARLOR_TEST_REDIS_URL).
 * @returns {Promise<{ env: Record<string, string>, stop: () => Promise<void> }>}
 */
async function startServices() {
  /** @type {Array<() => Promise<void>>} stop functions, run in reverse order of start */
  const stops = []
  const env = {}
  const stop = async () => {
    for (const s of stops.reverse()) {
      try {
        await s()
      } catch (err) {
        console.error('[test] stopping a service failed:', err)
      }
    }
  }
  try {
    const started = Date.now()
    const data = await startDataServices()
    stops.push(data.stop)
    Object.assign(env, data.env)
    console.log(`[test] PostgreSQL ${data.env.PARLOR_TEST_DATABASE_URL} and Redis ${data.env.PARLOR_TEST_REDIS_URL} up in ${Date.now() - started} ms`)
  } catch (err) {
    await stop()
    throw err
  }
  return { env, stop }
}

/**
 * Runs vitest with the default reporter on the terminal and the JSON reporter into `jsonFile`.
 * @returns {Promise<number>} vitest's exit code (1 if it died by a signal)
 */
function runVitest(args, env, jsonFile) {
  const argv = [VITEST, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${jsonFile}`, ...args]
  const child = spawn(process.execPath, argv, { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] })
  const forward = (signal) => child.kill(signal)
  process.on('SIGINT', forward)
  process.on('SIGTERM', forward)
  return new Promise((resolve) => {
    child.on('error', (err) => {
      console.error('[test] could not start vitest:', err)
      resolve(1)
    })
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward)
      process.off('SIGTERM', forward)
      resolve(code ?? (signal ? 1 : 0))
    })
  })
}

/**
 * Counts from vitest's JSON report. A test file that failed without a failing test (it did not
 * load, or a hook threw) counts as one failure, so it cannot hide behind "0 failed".
 */
function summarize(report) {
  const passed = report.numPassedTests ?? 0
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
  let failed = report.numFailedTests ?? 0
  for (const file of report.testResults ?? []) {
    const failedInFile = (file.assertionResults ?? []).filter((a) => a.status === 'failed').length
    if (file.status === 'failed' && failedInFile === 0) failed += 1
  }
  return { passed, failed, skipped }
}

async function main() {
  if (!existsSync(VITEST)) {
    console.error(`[test] ${VITEST} is missing: run \`npx -y pnpm@12.4.2 install\` first`)
    console.log('0 passed, 0 failed')
    return 1
  }
  const args = process.argv.slice(2)
  if (args[0] === '--') args.shift()

  const tmp = mkdtempSync(join(tmpdir(), 'parlor-test-'))
  const jsonFile = join(tmp, 'vitest-report.json')
  let services
  let exitCode
  let servicesFailed = false
  try {
    services = await startServices()
    exitCode = await runVitest(args, { ...process.env, ...services.env }, jsonFile)
  } catch (err) {
    // A service that cannot start fails the run (with its install hint) instead of skipping tests.
    console.error(`[test] ${err.message}`)
    exitCode = 1
    servicesFailed = true
  } finally {
    await services?.stop()
  }

  // Services that did not start count as one failure, so the summary line cannot read "0 failed".
  let counts = { passed: 0, failed: servicesFailed ? 1 : 0, skipped: 0 }
  try {
    if (!servicesFailed) counts = summarize(JSON.parse(readFileSync(jsonFile, 'utf8')))
  } catch (err) {
    console.error(`[test] no readable JSON report from vitest (${err.message})`)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }

  const ran = counts.passed + counts.failed
  if (ran === 0) console.error('[test] no test ran')
  else if (exitCode !== 0 && counts.failed === 0) {
    console.error(`[test] vitest exited with code ${exitCode} although no test failed (errors outside tests?)`)
  }
  const skipped = counts.skipped > 0 ? `, ${counts.skipped} skipped` : ''
  console.log(`${counts.passed} passed, ${counts.failed} failed${skipped}`)
  return exitCode !== 0 || counts.failed > 0 || ran === 0 ? 1 : 0
}

process.exitCode = await main()
