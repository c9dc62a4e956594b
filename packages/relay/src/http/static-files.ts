/**
 * Serves a directory (the built web app) for GET/HEAD requests that match no API route. Paths are
 * confined to the directory; a path without an extension that names no file gets `index.html`, so
 * client-side routes of a single-page app load.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { extname, join, resolve, sep } from 'node:path'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
  '.map': 'application/json; charset=utf-8',
}

async function fileAt(path: string): Promise<{ path: string; size: number } | undefined> {
  try {
    const s = await stat(path)
    if (s.isFile()) return { path, size: s.size }
    if (s.isDirectory()) return fileAt(join(path, 'index.html'))
  } catch {
    // missing: undefined
  }
  return undefined
}

/** Answers the request from `dir`; false when there is nothing to serve (the caller answers 404). */
export async function serveStatic(dir: string, pathname: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const root = resolve(dir)
  let decoded: string
  try {
    decoded = decodeURIComponent(pathname)
  } catch {
    return false
  }
  if (decoded.includes('\0')) return false
  const target = resolve(root, '.' + decoded)
  if (target !== root && !target.startsWith(root + sep)) return false
  const file = (await fileAt(target)) ?? (extname(decoded) === '' ? await fileAt(join(root, 'index.html')) : undefined)
  if (!file) return false
  const type = TYPES[extname(file.path).toLowerCase()] ?? 'application/octet-stream'
  res.writeHead(200, {
    'content-type': type,
    'content-length': file.size,
    // The app shell must be revalidated so a new deploy is picked up; the service worker caches it.
    'cache-control': type.startsWith('text/html') ? 'no-cache' : 'public, max-age=300',
  })
  if (req.method === 'HEAD') {
    res.end()
    return true
  }
  await new Promise<void>((done) => {
    const stream = createReadStream(file.path)
    stream.on('error', () => {
      res.destroy()
      done()
    })
    res.on('close', () => {
      stream.destroy()
      done()
    })
    stream.pipe(res)
  })
  return true
}
