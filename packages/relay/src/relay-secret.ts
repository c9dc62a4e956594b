/**
 * The relay's token-signing secret when none is configured: generated once and kept in the data
 * directory (mode 0600), so tokens survive restarts.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export const SECRET_FILE = 'relay-secret'

export async function loadOrCreateSecret(dataDir: string): Promise<string> {
  const path = join(dataDir, SECRET_FILE)
  await mkdir(dataDir, { recursive: true })
  try {
    const existing = (await readFile(path, 'utf8')).trim()
    if (existing.length > 0) return existing
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
  const secret = randomBytes(32).toString('base64url')
  try {
    // 'wx': if another process created it meanwhile, use theirs.
    await writeFile(path, secret + '\n', { mode: 0o600, flag: 'wx' })
    return secret
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    return (await readFile(path, 'utf8')).trim()
  }
}
