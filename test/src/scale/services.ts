/**
 * The PostgreSQL and Redis servers of the scale tests: the root test command starts them once and
 * passes their URLs (PARLOR_TEST_DATABASE_URL, PARLOR_TEST_REDIS_URL); a file run on its own
 * (`npx vitest run src/scale`) starts its own, stopped after the file. A missing binary fails the
 * file with the install hint; nothing is skipped.
 */
import { randomBytes } from 'node:crypto'
import { afterAll } from 'vitest'
import pg from 'pg'
import { startDataServices } from '../../../scripts/test-services.mjs'

let own: Promise<{ databaseUrl: string; redisUrl: string; stop: () => Promise<void> }> | undefined

afterAll(async () => {
  if (own) await (await own).stop()
})

export async function testServices(): Promise<{ databaseUrl: string; redisUrl: string }> {
  const databaseUrl = process.env.PARLOR_TEST_DATABASE_URL
  const redisUrl = process.env.PARLOR_TEST_REDIS_URL
  if (databaseUrl && redisUrl) return { databaseUrl, redisUrl }
  own ??= startDataServices().then((s) => ({
    databaseUrl: s.env.PARLOR_TEST_DATABASE_URL,
    redisUrl: s.env.PARLOR_TEST_REDIS_URL,
    stop: s.stop,
  }))
  return own
}

/** A new empty database on the test server, and a function that drops it. */
export async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const { databaseUrl } = await testServices()
  const name = `parlor_scale_${randomBytes(6).toString('hex')}`
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: databaseUrl })
    await c.connect()
    try {
      await c.query(sql)
    } finally {
      await c.end()
    }
  }
  await admin(`CREATE DATABASE ${name}`)
  const url = new URL(databaseUrl)
  url.pathname = `/${name}`
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) }
}

/** Runs one query on `url` and returns its rows. */
export async function sql<T = Record<string, unknown>>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    return (await c.query(text, values)).rows as T[]
  } finally {
    await c.end()
  }
}
