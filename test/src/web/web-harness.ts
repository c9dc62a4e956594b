/**
 * Browser end-to-end harness: the built web app (apps/web/dist, rebuilt when its sources are newer),
 * a real relay serving it on 127.0.0.1, and the system Chromium driven by playwright-core.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { createRelay, type Relay } from '@parlor/relay'

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const WEB_DIR = join(ROOT, 'apps/web')
export const DIST_DIR = join(WEB_DIR, 'dist')
/** Screenshots: git-ignored (`artifacts/` in .gitignore). */
export const ARTIFACTS_DIR = join(ROOT, 'test/artifacts/web')

export const CHROMIUM_PATH = process.env.PARLOR_CHROMIUM ?? '/usr/bin/chromium'
/** The flags shared/STACK.md lists for the system Chromium on these machines. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

export const DESKTOP = { width: 1280, height: 800 }
export const PHONE = { width: 390, height: 844 }

/** Fails (never skips) when Chromium is missing, saying how to install it. */
export function assertChromium(): void {
  if (existsSync(CHROMIUM_PATH)) return
  throw new Error(
    `Chromium is not installed at ${CHROMIUM_PATH}. Install it with:\n` +
      '  apt-get update && apt-get install -y --no-install-recommends chromium\n' +
      '(`bash .ci/run` does this), or point PARLOR_CHROMIUM at a Chromium binary.',
  )
}

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0
  const s = statSync(path)
  if (!s.isDirectory()) return s.mtimeMs
  let newest = 0
  for (const e of readdirSync(path, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist' || e.name.endsWith('.test.ts')) continue
    newest = Math.max(newest, newestMtime(join(path, e.name)))
  }
  return newest
}

/** Builds apps/web into dist/ unless dist is newer than every source it is built from. */
export function ensureWebBuild(): string {
  const sources = ['index.html', 'vite.config.ts', 'package.json', 'src', 'public'].map((p) => join(WEB_DIR, p))
  sources.push(join(ROOT, 'packages/engine/src'), join(ROOT, 'packages/protocol/src'))
  const stamp = join(DIST_DIR, 'sw.js')
  const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0
  if (built > Math.max(...sources.map(newestMtime))) return DIST_DIR
  const vite = join(WEB_DIR, 'node_modules/vite/bin/vite.js')
  // NODE_ENV=production: vitest sets NODE_ENV=test, which would make Vite build a development bundle.
  const env = { ...process.env, NODE_ENV: 'production' }
  const r = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: WEB_DIR, env, encoding: 'utf8', timeout: 120_000 })
  if (r.status !== 0) throw new Error(`building apps/web failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`)
  return DIST_DIR
}

/** A relay on a free port serving the built app, with its data in a temp dir removed on close. */
export async function startWebRelay(): Promise<{ relay: Relay; close(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'parlor-web-'))
  const relay = await createRelay({ port: 0, host: '127.0.0.1', dataDir, staticDir: ensureWebBuild() })
  return {
    relay,
    close: async () => {
      await relay.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export async function launchChromium(): Promise<Browser> {
  assertChromium()
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 30_000 })
}

/** A user id unique to this run, so tests never share users. */
export function uid(name: string): string {
  return `${name}-${Math.random().toString(36).slice(2, 8)}`
}

/**
 * Browser contexts opened for one test: screenshots of every open page when the test fails (under
 * test/artifacts/web/failures), and every context closed when it finishes.
 */
export class WebTest {
  private readonly contexts: BrowserContext[] = []
  readonly errors: string[] = []

  constructor(
    private readonly browser: Browser,
    readonly baseUrl: string,
  ) {}

  async context(viewport = DESKTOP): Promise<BrowserContext> {
    const ctx = await this.browser.newContext({ viewport, baseURL: this.baseUrl })
    ctx.setDefaultTimeout(10_000)
    this.contexts.push(ctx)
    return ctx
  }

  /** A new page in `ctx` that records uncaught page errors (a test can assert there are none). */
  async page(ctx: BrowserContext): Promise<Page> {
    const page = await ctx.newPage()
    page.on('pageerror', (e) => this.errors.push(`${page.url()}: ${e.message}`))
    return page
  }

  async screenshotAll(testName: string): Promise<string[]> {
    const dir = join(ARTIFACTS_DIR, 'failures')
    mkdirSync(dir, { recursive: true })
    const safe = testName.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 80)
    const paths: string[] = []
    let n = 0
    for (const ctx of this.contexts) {
      for (const page of ctx.pages()) {
        const path = join(dir, `${safe}-${++n}.png`)
        await page.screenshot({ path, fullPage: true }).then(
          () => paths.push(path),
          () => undefined,
        )
      }
    }
    return paths
  }

  async close(): Promise<void> {
    await Promise.all(this.contexts.map((c) => c.close().catch(() => undefined)))
  }
}

/** Signs in through the form (registering the user on first use) and waits for the room list. */
export async function signIn(page: Page, userId: string, username: string): Promise<void> {
  await page.goto('/')
  await page.getByLabel('User id').fill(userId)
  await page.getByLabel('Key').fill(`${userId}-secret`)
  await page.getByLabel('Display name').fill(username)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('navigation', { name: 'Rooms' }).waitFor()
}

/** Waits until the service worker controls the page (so a reload can come from its cache). */
export async function untilServiceWorkerControls(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready
    if (navigator.serviceWorker.controller) return
    await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }))
  })
}

/** Creates a group through the "New" dialog and waits for its room view. Returns the room id. */
export async function createGroup(page: Page, name: string, userIds: string[]): Promise<string> {
  await page.getByTestId('new-room').click()
  const dialog = page.getByTestId('new-room-dialog')
  await dialog.getByRole('tab', { name: 'Group' }).click()
  await dialog.getByLabel('Group name').fill(name)
  await dialog.getByLabel(/user ids/).fill(userIds.join(', '))
  await dialog.getByTestId('create-room').click()
  const view = page.getByTestId('room-view')
  await view.getByRole('heading', { name }).waitFor()
  return (await view.getAttribute('data-room-id'))!
}

export async function sendComment(page: Page, text: string): Promise<void> {
  const box = page.getByRole('textbox', { name: /Message to/ })
  await box.fill(text)
  await box.press('Enter')
  await page.getByTestId('comments').getByText(text, { exact: true }).last().waitFor()
}

/** Sets options through the options panel (named fields, plus extra key/value rows). */
export async function setOptions(page: Page, o: { background?: string; lat?: string; lng?: string; extra?: Record<string, string> }): Promise<void> {
  const panel = page.getByTestId('options-panel')
  if (!(await panel.isVisible())) await page.getByTestId('options-button').click()
  if (o.background !== undefined) await panel.getByTestId('option-background').fill(o.background)
  if (o.lat !== undefined) await panel.getByLabel('Latitude').fill(o.lat)
  if (o.lng !== undefined) await panel.getByLabel('Longitude').fill(o.lng)
  for (const [k, v] of Object.entries(o.extra ?? {})) {
    await panel.getByRole('button', { name: '+ Add option' }).click()
    await panel.getByTestId('option-key').last().fill(k)
    await panel.getByTestId('option-value').last().fill(v)
  }
  await panel.getByTestId('save-options').click()
  await panel.getByText(/^Saved/).waitFor()
}

/** The texts of the open room's non-system comments, in screen order. */
export async function commentTexts(page: Page): Promise<string[]> {
  return page.locator('[data-testid=comment]:not(.system) .text').allTextContents()
}

/** The computed background colour of a room's tile in the room list. */
export async function tileBackground(page: Page, roomId: string): Promise<string | undefined> {
  const tile = page.locator(`[data-testid=room-tile][data-room-id="${roomId}"]`)
  if ((await tile.count()) === 0) return undefined
  return tile.evaluate((el) => getComputedStyle(el).backgroundColor)
}
