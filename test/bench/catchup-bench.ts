/**
 * Catch-up benchmark, printed, not CI-timed: a full catch-up (`hello` with cursor 0) of one user in
 * 1,000 rooms, read through the relay core on SQLite and on PostgreSQL (a throwaway cluster on this
 * machine, as the tests start it). Each room: the user and one other member, 10 options, 5 comments.
 *
 * Baseline in the same run: the same core on the same database, with the batched reads of many rooms
 * (`StorageReader.*OfRooms`) answered by the per-room reads, one call per room: how a catch-up read
 * before it read its rooms in batches. Over a network each call is a round trip.
 *
 * Run: `cd test && npx tsx bench/catchup-bench.ts [rooms=1000] [rounds=7]` (needs the PostgreSQL 15
 * server binaries, as the tests do).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Mutation } from '@parlor/protocol'
import { createInProcessFanout, createPostgresStorage, createSqliteStorage, noopLogger, type RelayStorage, type StorageReader } from '@parlor/relay'
// The core is not part of the package's API: the catch-up it reads is what this measures.
import { createRelayCore } from '../../packages/relay/src/core/relay-core.js'
import { startPostgres } from '../../scripts/test-services.mjs'
import { OPTIONS } from './lib/wire.js'

const ROOMS = Number(process.argv[2] ?? 1000)
const ROUNDS = Number(process.argv[3] ?? 7)
const COMMENTS_PER_ROOM = 5
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`)

/** `reader` whose reads of many rooms are its reads of each room, one call per room. */
function perRoom(reader: StorageReader): StorageReader {
  const each = async <R, T>(rooms: readonly R[], idOf: (r: R) => string, read: (r: R) => Promise<T[]>) => {
    const found = new Map<string, T[]>()
    for (const r of rooms) {
      const list = await read(r)
      if (list.length > 0) found.set(idOf(r), list)
    }
    return found
  }
  return Object.assign(Object.create(reader) as StorageReader, {
    listParticipantsOfRooms: (ids: readonly string[], since: number) =>
      each(ids, (id) => id, (id) => reader.listParticipants(id, { includeRemoved: true, sinceVersion: since })),
    listCommentsOfRooms: (ids: readonly string[], o: { limit: number; sinceSeq?: number }) => each(ids, (id) => id, (id) => reader.listComments(id, o)),
    countUnreadOfRooms: async (userId: string, rooms: readonly { roomId: string; afterId: number }[]) => {
      const counts = new Map<string, number>()
      for (const r of rooms) counts.set(r.roomId, await reader.countUnread(r.roomId, userId, r.afterId))
      return counts
    },
    listOptionsUpdatesOfRooms: (rooms: readonly { roomId: string; afterId: number }[]) =>
      each(rooms, (r) => r.roomId, (r) => reader.listOptionsUpdates(r.roomId, r.afterId)),
  })
}

const coreOn = (storage: RelayStorage) => createRelayCore({ storage, fanout: createInProcessFanout(), logger: noopLogger, secret: 'bench', tokenTtlMs: 60_000 })

/** Users `owner` and `reader`; `ROOMS` rooms of both, each with options and comments. */
async function seed(storage: RelayStorage): Promise<void> {
  await storage.transaction(async (tx) => {
    for (const userId of ['owner', 'reader']) await tx.putUser({ userId, username: userId, avatarUrl: '', keyHash: 'x', createdAt: 0, updatedAt: 0 })
  })
  const core = coreOn(storage)
  const apply = async (mutations: Mutation[]) => {
    for (let i = 0; i < mutations.length; i += 250) {
      const results = await core.applyMutations('owner', mutations.slice(i, i + 250))
      if (results.some((r) => !r.ok)) throw new Error(`seeding refused: ${JSON.stringify(results.find((r) => !r.ok))}`)
    }
  }
  const ids = Array.from({ length: ROOMS }, (_, i) => `g:room-${i}`)
  let n = 0
  const mutation = (name: Mutation['name'], args: unknown) => ({ id: `seed-${++n}`, name, args, createdAt: 0 }) as Mutation
  await apply(ids.map((roomId) => mutation('createGroupRoom', { roomId, name: roomId, userIds: ['reader'], options: OPTIONS })))
  await apply(ids.flatMap((roomId) => Array.from({ length: COMMENTS_PER_ROOM }, (_, k) => mutation('sendComment', { roomId, uniqueId: `c${k}`, text: `comment ${k} of ${roomId}`, type: 'text' }))))
  await core.close()
}

/** Median and range of `ROUNDS` full catch-ups of `reader` (after one unmeasured). */
async function measure(storage: RelayStorage): Promise<number[]> {
  const core = coreOn(storage)
  const times: number[] = []
  for (let round = 0; round <= ROUNDS; round++) {
    const t0 = performance.now()
    const { frame } = await core.catchUp('reader', 0)
    if (round > 0) times.push(performance.now() - t0)
    // Each room's comments and the system event that created it.
    if (frame.rooms.length !== ROOMS || frame.comments.length !== ROOMS * (COMMENTS_PER_ROOM + 1)) throw new Error(`catch-up of ${frame.rooms.length} rooms, ${frame.comments.length} comments`)
  }
  await core.close()
  return times.sort((a, b) => a - b)
}

const fmt = (xs: number[]) => `${xs[xs.length >> 1]!.toFixed(1)} ms [${xs[0]!.toFixed(1)}–${xs.at(-1)!.toFixed(1)}]`

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'parlor-catchup-bench-'))
  const pg = await startPostgres()
  const lines: string[] = []
  try {
    const adapters: [string, () => Promise<RelayStorage>][] = [
      ['SQLite', () => createSqliteStorage({ dataDir: dir })],
      ['PostgreSQL', () => createPostgresStorage({ url: pg.url })],
    ]
    for (const [name, open] of adapters) {
      const storage = await open()
      log(`${name}: seeding ${ROOMS} rooms`)
      await seed(storage)
      // Interleaved, so that both see the same machine.
      const batched: number[] = []
      const baseline: number[] = []
      for (let k = 0; k < 2; k++) {
        log(`${name}: batched reads, pass ${k + 1}`)
        batched.push(...(await measure(storage)))
        log(`${name}: a read per room, pass ${k + 1}`)
        baseline.push(...(await measure({ ...storage, read: (fn) => storage.read((r) => fn(perRoom(r))) })))
      }
      batched.sort((a, b) => a - b)
      baseline.sort((a, b) => a - b)
      const ratio = baseline[baseline.length >> 1]! / batched[batched.length >> 1]!
      lines.push(`${name.padEnd(11)} batched ${fmt(batched).padEnd(26)} a read per room ${fmt(baseline).padEnd(26)} ${ratio.toFixed(1)}× faster`)
      await storage.close()
    }
  } finally {
    await pg.stop()
    await rm(dir, { recursive: true, force: true })
  }
  console.log(`\nFull catch-up of ${ROOMS} rooms (${COMMENTS_PER_ROOM} comments, 2 members, 10 options each) through the relay core, ${ROUNDS * 2} rounds each, median [min–max]:`)
  for (const line of lines) console.log(line)
}

await main()
