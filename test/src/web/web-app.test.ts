/**
 * The web app (apps/web) end to end: a real relay serving the built app, the system Chromium driven
 * by playwright-core, real IndexedDB and a real service worker. One browser and one relay for the
 * file; each test opens its own contexts (one per user, or two tabs of one) with fresh user ids.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import {
  ARTIFACTS_DIR,
  DESKTOP,
  PHONE,
  WebTest,
  commentTexts,
  createGroup,
  launchChromium,
  sendComment,
  setOptions,
  signIn,
  startWebRelay,
  tileBackground,
  uid,
  untilServiceWorkerControls,
} from './web-harness.js'

let browser: Browser
let server: Awaited<ReturnType<typeof startWebRelay>>

beforeAll(async () => {
  server = await startWebRelay()
  browser = await launchChromium()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
})

/**
 * Contexts for one test: screenshots if it fails, everything closed when it ends. (One hook does
 * both: vitest runs onTestFinished before onTestFailed, so the pages would already be closed.)
 */
function webTest(): WebTest {
  const t = new WebTest(browser, server.relay.url)
  onTestFinished(async ({ task }) => {
    if (task.result?.state === 'fail') {
      const shots = await t.screenshotAll(task.name)
      if (shots.length > 0) console.error(`[web] failure screenshots:\n  ${shots.join('\n  ')}`)
    }
    await t.close()
  })
  return t
}

async function userPage(t: WebTest, name: string, viewport = DESKTOP): Promise<{ page: Page; id: string }> {
  const ctx = await t.context(viewport)
  const page = await t.page(ctx)
  const id = uid(name.toLowerCase())
  await signIn(page, id, name)
  return { page, id }
}

const status = (page: Page) => page.getByTestId('status')
/** expect.poll with a timeout suited to a browser (vitest's default is 1 s). */
const poll = <T>(fn: () => T | Promise<T>, timeout = 5000) => expect.poll(fn, { timeout, interval: 50 })
const online = (page: Page) => status(page).getAttribute('data-online')
const pending = (page: Page) => status(page).getAttribute('data-pending')

describe('web app', () => {
  it('shows a group created by another user in the background colour they set, without reloading', async () => {
    const t = webTest()
    const bob = await userPage(t, 'Bob')
    const alice = await userPage(t, 'Alice')
    await bob.page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true))

    const roomId = await createGroup(alice.page, 'Tomato team', [bob.id])
    await setOptions(alice.page, { background: 'tomato' })

    await poll(() => tileBackground(bob.page, roomId), 5000).toBe('rgb(255, 99, 71)')
    const tile = bob.page.locator(`[data-room-id="${roomId}"]`)
    await tile.getByText('Tomato team').waitFor()
    expect(await bob.page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true)

    // Unread badge, cleared when Bob opens the room (mark-as-read when viewed).
    await sendComment(alice.page, 'first')
    await sendComment(alice.page, 'second')
    await poll(() => tile.locator('.badge').textContent()).toBe('2')
    await tile.click()
    await poll(() => commentTexts(bob.page)).toEqual(['first', 'second'])
    await poll(() => tile.locator('.badge').count()).toBe(0)
    await poll(() => alice.page.locator('[data-testid=comment]:not(.system)').last().getAttribute('data-status')).toBe('read')
    expect(t.errors).toEqual([])
  })

  it('works offline through a reload, then delivers everything to the other user once, in order', async () => {
    const t = webTest()
    const bob = await userPage(t, 'Bob')
    const alice = await userPage(t, 'Alice')
    await untilServiceWorkerControls(alice.page)
    await poll(() => online(alice.page)).toBe('true')
    const ctx = alice.page.context()

    await ctx.setOffline(true)
    await poll(() => online(alice.page)).toBe('false')
    const roomId = await createGroup(alice.page, 'Offline plans', [bob.id])
    await setOptions(alice.page, { background: 'teal', lat: '52.37', lng: '4.89', extra: { topic: 'picnic' } })
    for (const text of ['one', 'two', 'three']) await sendComment(alice.page, text)
    // createGroupRoom + updateRoom + 3 comments
    await poll(() => pending(alice.page)).toBe('5')
    await poll(() => status(alice.page).textContent()).toContain('Offline · 5 changes waiting to sync')

    // Reload with no network: the shell comes from the service worker, the data from IndexedDB.
    const response = await alice.page.reload()
    expect(response?.fromServiceWorker()).toBe(true)
    await poll(() => online(alice.page)).toBe('false')
    await poll(() => pending(alice.page)).toBe('5')
    await poll(() => tileBackground(alice.page, roomId)).toBe('rgb(0, 128, 128)')
    const view = alice.page.getByTestId('room-view')
    await view.getByRole('heading', { name: 'Offline plans' }).waitFor()
    await poll(() => commentTexts(alice.page)).toEqual(['one', 'two', 'three'])
    await poll(() => view.locator('[data-testid=comment][data-status=pending]').count()).toBe(3)
    await view.getByText('location 52.37, 4.89').waitFor()
    await alice.page.getByTestId('options-button').click()
    await poll(() => alice.page.getByTestId('option-key').inputValue()).toBe('topic')
    await poll(() => alice.page.getByTestId('option-value').inputValue()).toBe('picnic')
    // Bob has seen nothing of it.
    expect(await tileBackground(bob.page, roomId)).toBeUndefined()

    const backOnline = Date.now()
    await ctx.setOffline(false)
    const tile = bob.page.locator(`[data-testid=room-tile][data-room-id="${roomId}"]`)
    await tile.filter({ hasText: 'Alice: three' }).waitFor({ timeout: 2000 })
    const elapsed = Date.now() - backOnline
    expect(elapsed).toBeLessThan(2000)
    await poll(() => tileBackground(bob.page, roomId)).toBe('rgb(0, 128, 128)')
    await tile.click()
    await poll(() => commentTexts(bob.page)).toEqual(['one', 'two', 'three'])
    await bob.page.getByTestId('room-view').getByText('location 52.37, 4.89').waitFor()
    await poll(() => pending(alice.page)).toBe('0')
    await poll(() => online(alice.page)).toBe('true')
    await poll(() => alice.page.locator('[data-testid=comment][data-status=pending]').count()).toBe(0)
    expect(t.errors).toEqual([])
  })

  it('keeps two tabs of one user in step, with only one of them holding the socket', async () => {
    const t = webTest()
    const ctx = await t.context()
    const sockets = new Map<Page, number>()
    const track = (page: Page) => {
      sockets.set(page, 0)
      page.on('websocket', (ws) => {
        sockets.set(page, sockets.get(page)! + 1)
        ws.on('close', () => sockets.set(page, sockets.get(page)! - 1))
      })
    }
    const tab1 = await t.page(ctx)
    track(tab1)
    const me = uid('carol')
    await signIn(tab1, me, 'Carol')
    const tab2 = await t.page(ctx)
    track(tab2)
    await tab2.goto('/') // signs in by itself: same device, same saved session
    await poll(() => online(tab1)).toBe('true')
    await poll(() => online(tab2)).toBe('true')
    await poll(() => [sockets.get(tab1), sockets.get(tab2)]).toEqual([1, 0])

    // A channel joined in tab 1 shows in tab 2; a comment sent from tab 2 shows in tab 1.
    const channel = `tabs-${me}`
    await tab1.getByTestId('new-room').click()
    await tab1.getByRole('tab', { name: 'Channel' }).click()
    await tab1.getByLabel('Channel id').fill(channel)
    await tab1.getByLabel(/^Name/).fill('Tab talk')
    await tab1.getByTestId('create-room').click()
    const tile2 = tab2.locator(`[data-testid=room-tile][data-room-id="c:${channel}"]`)
    await tile2.waitFor()
    await tile2.click()
    await sendComment(tab2, 'from the second tab')
    await poll(() => commentTexts(tab1)).toEqual(['from the second tab'])
    await poll(() => tab1.locator('[data-testid=comment]:not(.system)').getAttribute('data-status')).toMatch(/sent|delivered|read/)
    await poll(() => tab2.locator('[data-testid=comment]:not(.system)').getAttribute('data-status')).toMatch(/sent|delivered|read/)
    expect(sockets.get(tab1)! + sockets.get(tab2)!).toBe(1)

    // The socket moves to the remaining tab when the one holding it closes.
    await tab1.close()
    await poll(() => sockets.get(tab2), 5000).toBe(1)
    await poll(() => online(tab2)).toBe('true')
    await sendComment(tab2, 'still here')
    await poll(() => tab2.locator('[data-testid=comment]:not(.system)').last().getAttribute('data-status')).toMatch(/sent|delivered|read/)
    expect(t.errors).toEqual([])
  })

  it('tells a removed participant in their open room view that they were removed', async () => {
    const t = webTest()
    const bob = await userPage(t, 'Bob')
    const alice = await userPage(t, 'Alice')
    const roomId = await createGroup(alice.page, 'Short stay', [bob.id])
    await sendComment(alice.page, 'welcome, Bob')
    const tile = bob.page.locator(`[data-testid=room-tile][data-room-id="${roomId}"]`)
    await tile.click()
    await poll(() => commentTexts(bob.page)).toEqual(['welcome, Bob'])
    await bob.page.getByTestId('composer').waitFor()

    await alice.page.getByTestId('participants-button').click()
    await alice.page.getByRole('button', { name: 'Remove Bob' }).click()
    await poll(() => alice.page.getByTestId('participant').count()).toBe(1)

    await poll(() => bob.page.getByTestId('removed-banner').textContent()).toContain('You were removed from this room')
    await poll(() => bob.page.getByTestId('composer').count()).toBe(0)
    await poll(() => tile.count()).toBe(0)
    expect(t.errors).toEqual([])
  })

  it('can be used with the keyboard alone', async () => {
    const t = webTest()
    const page = await t.page(await t.context())
    await page.goto('/')
    const me = uid('kim')
    await page.getByLabel('User id').focus()
    await page.keyboard.type(me)
    await page.keyboard.press('Tab')
    await page.keyboard.type(`${me}-secret`)
    await page.keyboard.press('Tab')
    await page.keyboard.type('Kim')
    await page.keyboard.press('Enter')
    await page.getByRole('navigation', { name: 'Rooms' }).waitFor()

    // Tab to "+ New", open the dialog, arrow to the Channel tab, fill it in, create.
    const newButton = page.getByTestId('new-room')
    for (let i = 0; i < 10 && !(await newButton.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press('Tab')
    await page.keyboard.press('Enter')
    await page.getByTestId('new-room-dialog').waitFor()
    await page.getByRole('tab', { name: '1-on-1' }).focus()
    await page.keyboard.press('ArrowRight')
    await page.keyboard.press('ArrowRight')
    expect(await page.getByRole('tab', { name: 'Channel' }).getAttribute('aria-selected')).toBe('true')
    await page.keyboard.press('Tab')
    await page.keyboard.type(`keys-${me}`)
    await page.keyboard.press('Enter')
    await page.getByTestId('room-view').getByRole('heading', { name: `keys-${me}` }).waitFor()

    // The composer, Enter to send; Escape closes a side panel.
    await page.getByRole('textbox', { name: /Message to/ }).focus()
    await page.keyboard.type('typed, not clicked')
    await page.keyboard.press('Enter')
    await poll(() => commentTexts(page)).toEqual(['typed, not clicked'])
    await page.getByTestId('participants-button').focus()
    await page.keyboard.press('Enter')
    await page.getByTestId('participants-panel').waitFor()
    await page.keyboard.press('Escape')
    await poll(() => page.getByTestId('participants-panel').count()).toBe(0)
    expect(t.errors).toEqual([])
  })

  it('keeps a comment the relay refused, says why, and offers to retry it', async () => {
    const t = webTest()
    const bob = await userPage(t, 'Bob')
    const alice = await userPage(t, 'Alice')
    const roomId = await createGroup(alice.page, 'Closing soon', [bob.id])
    const tile = bob.page.locator(`[data-testid=room-tile][data-room-id="${roomId}"]`)
    await tile.click()
    await bob.page.getByTestId('room-view').getByRole('heading', { name: 'Closing soon' }).waitFor()

    // Bob writes while offline; meanwhile Alice removes him; the relay refuses his comment.
    await bob.page.context().setOffline(true)
    await poll(() => online(bob.page)).toBe('false')
    await sendComment(bob.page, 'anyone here?')
    await alice.page.getByTestId('participants-button').click()
    await alice.page.getByRole('button', { name: 'Remove Bob' }).click()
    await poll(() => alice.page.getByTestId('participant').count()).toBe(1)
    await bob.page.context().setOffline(false)

    const failed = bob.page.getByTestId('failed-comment')
    await poll(() => failed.textContent()).toContain('anyone here?')
    expect(await failed.textContent()).toContain('Not sent: You don’t have access to that room (anymore).')
    await failed.getByRole('button', { name: 'Retry' }).waitFor()
    await poll(() => bob.page.getByTestId('toasts').textContent()).toContain('Sending your message failed.')
    await failed.getByRole('button', { name: 'Discard' }).click()
    await poll(() => failed.count()).toBe(0)
    expect(t.errors).toEqual([])
  })

  it('pages through participants and adds people from the panel', async () => {
    const t = webTest()
    // 24 other users exist on the relay (registered over its HTTP API), so the group has 25 people.
    const others = Array.from({ length: 24 }, (_, i) => uid(`p${String(i).padStart(2, '0')}`))
    const late = uid('late')
    for (const userId of [...others, late]) {
      const res = await fetch(`${server.relay.url}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId, userKey: 'k' }) })
      expect(res.status).toBe(200)
    }
    const alice = await userPage(t, 'Alice')
    await createGroup(alice.page, 'Crowd', others)
    await alice.page.getByTestId('participants-button').click()
    const panel = alice.page.getByTestId('participants-panel')
    await poll(() => panel.getByText(/^Page \d+ of \d+$/).textContent()).toBe('Page 1 of 2')
    await poll(() => panel.getByTestId('participant').count()).toBe(20)
    await panel.getByRole('button', { name: 'Next' }).click()
    await poll(() => panel.getByTestId('participant').count()).toBe(5)

    await panel.getByLabel(/Add people/).fill(late)
    await panel.getByRole('button', { name: 'Add', exact: true }).click()
    await poll(() => panel.getByTestId('participant').count()).toBe(6)
    await panel.locator(`[data-user-id="${late}"]`).waitFor()
    await poll(() => alice.page.getByTestId('room-view').textContent()).toContain('26 participants')
    expect(t.errors).toEqual([])
  })

  it('saves screenshots of the room list and a room on phone and desktop screens', async () => {
    const t = webTest()
    const bob = await userPage(t, 'Bob')
    const alice = await userPage(t, 'Alice')
    const roomId = await createGroup(alice.page, 'Design review', [bob.id])
    await setOptions(alice.page, { background: '#2a9d8f', lat: '48.85', lng: '2.35' })
    await alice.page.getByTestId('options-button').click() // close the panel
    await createGroup(alice.page, 'Lunch', [bob.id])
    await sendComment(alice.page, 'Pizza or salad?')
    await bob.page.locator(`[data-room-id="${roomId}"]`).click()
    await sendComment(bob.page, 'The new layout looks great on my phone.')
    await alice.page.goto(`/#/room/${encodeURIComponent(roomId)}`)
    await poll(() => commentTexts(alice.page)).toEqual(['The new layout looks great on my phone.'])
    await sendComment(alice.page, 'Thanks! Keyboard navigation works too.')

    const dir = ARTIFACTS_DIR
    mkdirSync(dir, { recursive: true })
    const shots: string[] = []
    for (const [label, size] of [
      ['desktop', DESKTOP],
      ['phone', PHONE],
    ] as const) {
      await alice.page.setViewportSize(size)
      await alice.page.goto(`/#/room/${encodeURIComponent(roomId)}`)
      await poll(() => commentTexts(alice.page)).toHaveLength(2)
      await alice.page.screenshot({ path: join(dir, `${label}-room.png`) })
      await alice.page.goto('/#/')
      await alice.page.getByTestId('room-list').waitFor()
      await alice.page.screenshot({ path: join(dir, `${label}-room-list.png`) })
      shots.push(`${label}-room.png`, `${label}-room-list.png`)
    }
    // Phone: one pane at a time (the list is hidden while a room is open).
    await alice.page.goto(`/#/room/${encodeURIComponent(roomId)}`)
    await alice.page.getByTestId('room-view').waitFor()
    expect(await alice.page.getByRole('navigation', { name: 'Rooms' }).isVisible()).toBe(false)
    expect(shots).toHaveLength(4)
    expect(t.errors).toEqual([])
  })
})
