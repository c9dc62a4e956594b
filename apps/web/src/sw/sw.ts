/**
 * The service worker: keeps the app shell (index.html and every built asset) in Cache Storage so
 * the app starts with no network; the data itself lives in the engine's IndexedDB.
 *
 * - install: precache the manifest the build prepends (`self.__PARLOR_SHELL__`), one cache per build.
 * - activate: drop the caches of older builds, take control of open pages.
 * - navigations: network first (a new deploy is picked up at once), the cached shell when the
 *   network fails or is slow.
 * - built assets: cache first (their names carry a content hash).
 * - the relay's API (`/v1/*`, `/healthz`) and other origins: never touched.
 */

// Only the parts of the ServiceWorkerGlobalScope used here (the repo's tsconfig has DOM types, not
// WebWorker ones).
interface ExtendableEvent extends Event {
  waitUntil(p: Promise<unknown>): void
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request
  respondWith(r: Response | Promise<Response>): void
}
interface SwScope {
  __PARLOR_SHELL__?: { version: string; files: string[] }
  location: Location
  skipWaiting(): Promise<void>
  clients: { claim(): Promise<void> }
  addEventListener(type: 'install' | 'activate', fn: (e: ExtendableEvent) => void): void
  addEventListener(type: 'fetch', fn: (e: FetchEvent) => void): void
}

const sw = self as unknown as SwScope
export {} // a module for the type checker; the built file is a classic script (nothing is exported)
const shell = sw.__PARLOR_SHELL__ ?? { version: 'dev', files: ['/'] }
const PREFIX = 'parlor-shell-'
const CACHE = `${PREFIX}${shell.version}`
const NAVIGATION_TIMEOUT_MS = 3000

sw.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE)
      // `cache: 'reload'` so the HTTP cache cannot hand an older build's files to a new cache.
      await cache.addAll(shell.files.map((f) => new Request(f, { cache: 'reload' })))
      await sw.skipWaiting()
    })(),
  )
})

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name)
      await sw.clients.claim()
    })(),
  )
})

sw.addEventListener('fetch', (event) => {
  const req = event.request
  if (req.method !== 'GET') return
  const url = new URL(req.url)
  if (url.origin !== sw.location.origin) return
  if (url.pathname.startsWith('/v1/') || url.pathname === '/v1' || url.pathname === '/healthz') return
  if (req.mode === 'navigate') return event.respondWith(fromNetworkFirst(req))
  event.respondWith(fromCacheFirst(req))
})

/** Network first with a timeout; the cached shell (`/`) when the network fails. */
async function fromNetworkFirst(req: Request): Promise<Response> {
  const cache = await caches.open(CACHE)
  try {
    const res = await withTimeout(fetch(req), NAVIGATION_TIMEOUT_MS)
    if (res.ok && new URL(req.url).pathname === '/') await cache.put('/', res.clone())
    if (res.ok) return res
  } catch {
    // offline or slow: the shell below
  }
  return (await cache.match('/')) ?? new Response('Parlor is offline and has not been cached yet.', { status: 503, headers: { 'content-type': 'text/plain' } })
}

/** Cache first; a miss goes to the network and keeps a copy of same-origin successes. */
async function fromCacheFirst(req: Request): Promise<Response> {
  const cache = await caches.open(CACHE)
  const hit = await cache.match(req, { ignoreSearch: true })
  if (hit) return hit
  const res = await fetch(req)
  if (res.ok && res.type === 'basic') await cache.put(req, res.clone())
  return res
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms)
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e)),
    )
  })
}
