// Types of test-services.mjs, for the TypeScript tests that start their own servers.
export interface StartedService {
  url: string
  pid: number
  stop(): Promise<void>
}
export function freePort(): Promise<number>
export function findPgBin(): string | undefined
export function startPostgres(): Promise<StartedService & { dir: string }>
export function startRedis(options?: { port?: number }): Promise<StartedService>
export function startDataServices(): Promise<{
  env: { PARLOR_TEST_DATABASE_URL: string; PARLOR_TEST_REDIS_URL: string }
  stop(): Promise<void>
}>
