import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineConfig, type Plugin } from 'vite'

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url))

/**
 * Builds the service worker as its own entry (`dist/sw.js`, a fixed name at the site root so its
 * scope is the whole app) and prepends the precache manifest: every other emitted file plus `/`,
 * and a version derived from their names and contents, so a new build installs a new cache.
 */
function serviceWorker(): Plugin {
  let publicDir = ''
  return {
    name: 'parlor-service-worker',
    apply: 'build',
    configResolved(config) {
      publicDir = config.publicDir
    },
    generateBundle(_options, bundle) {
      const sw = Object.values(bundle).find((f) => f.type === 'chunk' && f.name === 'sw')
      if (!sw || sw.type !== 'chunk') this.error('the sw entry is missing from the bundle')
      const files = Object.keys(bundle)
        .filter((name) => name !== sw.fileName && !name.endsWith('.map'))
        .sort()
      const hash = createHash('sha256')
      for (const name of files) {
        const f = bundle[name]!
        hash.update(name).update(f.type === 'chunk' ? f.code : typeof f.source === 'string' ? f.source : Buffer.from(f.source))
      }
      // public/ is copied beside the bundle, not part of it.
      const copied = publicDir ? readdirSync(publicDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()) : []
      const publicFiles = copied.map((e) => join(e.parentPath, e.name).slice(publicDir.length + 1).split('\\').join('/')).sort()
      for (const name of publicFiles) hash.update(name).update(readFileSync(join(publicDir, name)))
      const urls = [...files.filter((n) => n !== 'index.html'), ...publicFiles].map((n) => `/${n}`)
      const manifest = { version: hash.digest('hex').slice(0, 12), files: ['/', ...urls] }
      sw.code = `self.__PARLOR_SHELL__ = ${JSON.stringify(manifest)};\n${sw.code}`
    },
  }
}

export default defineConfig({
  // The relay serves dist/ at its root.
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    rollupOptions: {
      input: { index: here('./index.html'), sw: here('./src/sw/sw.ts') },
      output: {
        entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js'),
      },
    },
  },
  plugins: [serviceWorker()],
  server: {
    // `pnpm --filter @parlor/web dev` next to a relay on :8787 (`pnpm start`).
    proxy: { '/v1': { target: 'http://127.0.0.1:8787', ws: true }, '/healthz': 'http://127.0.0.1:8787' },
  },
})
