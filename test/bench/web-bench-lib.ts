/**
 * Shared set-up of the browser benchmarks: a relay serving the built web app, rooms seeded over the
 * relay's HTTP API, and a Chromium page signed in as the bench user whose IndexedDB has caught up.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { groupRoomId, type Mutation } from '@parlor/protocol'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DESKTOP, ensureWebBuild, launchChromium, startWebRelay } from '../src/web/web-harness.js'
import { startRelayProcess } from '../src/security/relay-process.js'
import { post } from './lib/http.js'

export const USER = 'web-bench-alice'
export const PEER = 'web-bench-bob'
const KEY = 'web-bench-key'

export const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!
  return { median: at(0.5), p95: at(0.95), min: s[0]!, max: s.at(-1)!, n: s.length }
}
export const ms = (x: number) => `${x.toFixed(1)} ms`


/** Functions the init script puts on `window` of the bench page. */
export interface PageHelpers {
  rawRoomCount(): Promise<number>
  rawOpen(): Promise<IDBDatabase>
  rawRoomPage(db: IDBDatabase, limit: number): Promise<unknown[]>
  parlor: { engine: { sync(): Promise<void>; loadRoomList(p: { limit: number }): Promise<unknown[]> } }
}

export interface Bench {
  url: string
  browser: Browser
  context: BrowserContext
  page: Page
  /** Creates rooms `from`..`to`-1 (groups of the bench user and a peer, one comment each) on the relay. */
  seed(from: number, to: number): Promise<number>
  /** Waits until the page's engine has caught up with the relay and its IndexedDB holds `rooms` rooms. */
  caughtUp(rooms: number): Promise<number>
  close(): Promise<void>
}

/**
 * `relayProcess`: the relay runs in a process of its own (as deployed) instead of in this one, where
 * Playwright's client shares its event loop and CPU.
 */
export async function openBench(opts: { relayProcess?: boolean } = {}): Promise<Bench> {
  const server = opts.relayProcess ? await relayOwnProcess() : await inThisProcess()
  const url = server.url
  const { token } = await post(url, '/v1/session', { userId: USER, userKey: KEY, username: 'Alice' })
  await post(url, '/v1/session', { userId: PEER, userKey: KEY, username: 'Bob' })
  const browser = await launchChromium()
  const context = await browser.newContext({ viewport: DESKTOP, baseURL: url })
  // The app signs in by itself with saved credentials (as after any earlier sign-in on the device).
  await context.addInitScript(
    ([userId, userKey]) => localStorage.setItem('parlor:credentials', JSON.stringify({ userId, userKey, username: 'Alice' })),
    [USER, KEY] as const,
  )
  // Page helpers reading the engine's database directly (the benchmarks' floor and progress checks).
  // A string, not a function: tsx's transform would add helpers (`__name`) the page does not have.
  await context.addInitScript(`
    const parlorDbName = ${JSON.stringify(`parlor:${USER}`)}
    window.rawOpen = () => new Promise((resolve, reject) => {
      const r = indexedDB.open(parlorDbName)
      r.onsuccess = () => resolve(r.result)
      r.onerror = () => reject(r.error)
    })
    window.rawRoomCount = async () => {
      const db = await window.rawOpen()
      try {
        if (!db.objectStoreNames.contains('rooms')) return 0
        return await new Promise((resolve, reject) => {
          const q = db.transaction('rooms').objectStore('rooms').count()
          q.onsuccess = () => resolve(q.result)
          q.onerror = () => reject(q.error)
        })
      } finally { db.close() }
    }
    // The newest 'limit' rooms with comments: a plain cursor over the engine's own index.
    window.rawRoomPage = (db, limit) => new Promise((resolve, reject) => {
      const out = []
      const index = db.transaction('rooms').objectStore('rooms').index('[removedKey+hasCommentsKey+lastActivityAt]')
      const q = index.openCursor(IDBKeyRange.bound([0, 1, -Infinity], [0, 1, Infinity]), 'prev')
      q.onsuccess = () => {
        const c = q.result
        if (!c || out.length >= limit) return resolve(out)
        out.push(c.value)
        c.continue()
      }
      q.onerror = () => reject(q.error)
    })
  `)
  const page = await context.newPage()
  page.setDefaultTimeout(300_000)
  await page.goto('/')
  await page.waitForFunction(() => performance.getEntriesByName('parlor:room-list-rendered').length > 0)
  return {
    url,
    browser,
    context,
    page,
    async seed(from, to) {
      const t = performance.now()
      for (let i = from; i < to; i += 50) {
        const mutations: Mutation[] = []
        for (let j = i; j < Math.min(to, i + 50); j++) {
          const roomId = groupRoomId(`webbench${j}`)
          mutations.push({ id: `room-${j}`, name: 'createGroupRoom', args: { roomId, name: `Room ${j}`, userIds: [PEER], options: { background: `hsl(${(j * 37) % 360} 60% 85%)` } }, createdAt: Date.now() } as Mutation)
          mutations.push({ id: `comment-${j}`, name: 'sendComment', args: { roomId, uniqueId: `c-${j}`, text: `Message in room ${j}`, type: 'text' }, createdAt: Date.now() } as Mutation)
        }
        await post(url, '/v1/mutations', { mutations }, token)
      }
      return performance.now() - t
    },
    async caughtUp(rooms) {
      const t = performance.now()
      await page.waitForFunction(() => performance.getEntriesByName('parlor:signed-in').length > 0)
      await page.evaluate(() => (window as unknown as PageHelpers).parlor.engine.sync())
      await page.waitForFunction(async (n) => (await (window as unknown as PageHelpers).rawRoomCount()) >= n, rooms, { polling: 200 })
      return performance.now() - t
    },
    async close() {
      await browser.close()
      await server.close()
    },
  }
}

async function inThisProcess(): Promise<{ url: string; close(): Promise<void> }> {
  const server = await startWebRelay()
  return { url: server.relay.url, close: server.close }
}

/** `parlor-relay` serving the built web app (its default static directory) on a fresh data directory. */
async function relayOwnProcess(): Promise<{ url: string; close(): Promise<void> }> {
  ensureWebBuild()
  const dataDir = await mkdtemp(join(tmpdir(), 'parlor-web-bench-'))
  const relay = await startRelayProcess(dataDir)
  return {
    url: relay.url,
    close: async () => {
      await relay.kill('SIGTERM')
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}
