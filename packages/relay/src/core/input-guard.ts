/**
 * A check on parsed JSON before schema validation. `JSON.parse` turns a `"__proto__"` key into an own
 * property, which zod's record parsing then drops silently (it assigns the prototype instead), so a
 * reserved option key would pass as a no-op. Refusing such keys anywhere in the input keeps
 * "bad input gets a clear error" true and prototype games away from the relay.
 */
import { ParlorError } from '@parlor/protocol'

/** Throws `validation` if any object in `value` has an own `__proto__` key. */
export function rejectProtoKeys(value: unknown): void {
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (typeof v !== 'object' || v === null) continue
    if (Array.isArray(v)) {
      for (const item of v) stack.push(item)
      continue
    }
    if (Object.hasOwn(v, '__proto__')) throw new ParlorError('validation', '"__proto__" is not allowed as a key')
    for (const item of Object.values(v)) stack.push(item)
  }
}
