/**
 * Real PostgreSQL and Redis servers for `*.pg.test.ts` / `*.redis.test.ts` files. The root test
 * command starts them once and passes their URLs in PARLOR_TEST_DATABASE_URL / PARLOR_TEST_REDIS_URL;
 * a file run on its own (`npx vitest run`) starts its own (stopped after the file). A missing server
 * binary fails the test with the install hint; nothing is skipped.
 */
import { randomBytes } from 'node:crypto'
import { afterAll } from 'vitest'
import pg from 'pg'
import { startDataServices } from '../../../../scripts/test-services.mjs'

let started: Promise<{ databaseUrl: string; redisUrl: string }> | undefined
let stopOwn: (() => Promise<void>) | undefined

afterAll(async () => {
  await stopOwn?.()
})

/** The admin URLs of the test servers (started on first use when the environment names none). */
export function testServices(): Promise<{ databaseUrl: string; redisUrl: string }> {
  const databaseUrl = process.env.PARLOR_TEST_DATABASE_URL
  const redisUrl = process.env.PARLOR_TEST_REDIS_URL
  if (databaseUrl && redisUrl) return Promise.resolve({ databaseUrl, redisUrl })
  return (started ??= startDataServices().then((s) => {
    stopOwn = s.stop
    return { databaseUrl: s.env.PARLOR_TEST_DATABASE_URL, redisUrl: s.env.PARLOR_TEST_REDIS_URL }
  }))
}

/** Creates an empty database on the test server; `drop` removes it (ending its connections). */
export async function freshDatabase(prefix = 'parlor_t'): Promise<{ url: string; drop: () => Promise<void> }> {
  const { databaseUrl } = await testServices()
  const name = `${prefix}_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: databaseUrl })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(databaseUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: databaseUrl })
      await c.connect()
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await c.end()
      }
    },
  }
}
