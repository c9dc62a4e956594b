/**
 * Parsing of a batch of mutations (a `mutate` frame or a `POST /v1/mutations` body). The envelope
 * must be well-formed and every item must carry a valid id; past that, an item whose name or
 * arguments are invalid becomes a stored `validation` result for its id rather than refusing the
 * whole batch, so one bad mutation cannot wedge an engine's outbox.
 */
import { LIMITS, ParlorError, clientIdSchema, mutationSchema, parseWith, type Mutation } from '@parlor/protocol'

/** One item of a batch: a valid mutation, or its id and why it is invalid. */
export type BatchItem = { id: string; mutation: Mutation } | { id: string; error: ParlorError }

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * @param raw the parsed JSON of the frame or body
 * @param envelopeKeys the keys the envelope may have (`type` and `mutations` for a frame)
 * @throws ParlorError `validation` when the envelope or an item's id is malformed
 */
export function parseMutationBatch(raw: unknown, envelopeKeys: readonly string[]): BatchItem[] {
  if (!isPlainObject(raw)) throw new ParlorError('validation', 'expected an object with "mutations"')
  const extra = Object.keys(raw).find((k) => !envelopeKeys.includes(k))
  if (extra !== undefined) throw new ParlorError('validation', `unknown field "${extra}"`)
  const list = raw.mutations
  if (!Array.isArray(list) || list.length === 0) throw new ParlorError('validation', 'mutations: expected a non-empty array')
  if (list.length > LIMITS.maxMutationsPerFrame) {
    throw new ParlorError('validation', `mutations: at most ${LIMITS.maxMutationsPerFrame} per batch`)
  }
  return list.map((item, i) => {
    const id = parseWith(clientIdSchema, isPlainObject(item) ? item.id : undefined, `mutations.${i}.id`)
    try {
      return { id, mutation: parseWith(mutationSchema, item, `mutations.${i}`) }
    } catch (e) {
      return { id, error: e as ParlorError }
    }
  })
}
