import { ParlorError } from './errors.js'
import { LIMITS, utf8Length } from './limits.js'
import type { RoomOptions } from './model.js'

/** A change to a room's options: a value sets the key, `null` deletes it (JSON merge patch). */
export type OptionsPatch = Record<string, string | null>

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

/** Checks one key/value against the per-entry limits; throws `validation`. */
export function checkOptionEntry(key: string, value: string | null): void {
  if (key.length === 0 || utf8Length(key) > LIMITS.maxOptionKeyBytes) {
    throw new ParlorError('validation', `option key must be 1–${LIMITS.maxOptionKeyBytes} bytes`)
  }
  if (FORBIDDEN_KEYS.has(key)) throw new ParlorError('validation', `option key "${key}" is reserved`)
  if (value !== null && utf8Length(value) > LIMITS.maxOptionValueBytes) {
    throw new ParlorError('validation', `option "${key}" is longer than ${LIMITS.maxOptionValueBytes} bytes`)
  }
}

/** Checks a whole options map against SPEC §3 limits; throws `limit_exceeded` or `validation`. */
export function checkOptions(options: RoomOptions): void {
  const keys = Object.keys(options)
  if (keys.length > LIMITS.maxOptionKeys) {
    throw new ParlorError('limit_exceeded', `a room holds at most ${LIMITS.maxOptionKeys} options`)
  }
  for (const k of keys) {
    const v = options[k]
    if (typeof v !== 'string') throw new ParlorError('validation', `option "${k}" must be a string`)
    checkOptionEntry(k, v)
  }
  if (utf8Length(JSON.stringify(options)) > LIMITS.maxOptionsBytes) {
    throw new ParlorError('limit_exceeded', `options may take at most ${LIMITS.maxOptionsBytes} bytes`)
  }
}

/** The patch that turns `from` into `to` (keys absent from `to` are deleted). */
export function diffOptions(from: RoomOptions, to: RoomOptions): OptionsPatch {
  const patch: OptionsPatch = {}
  for (const k of Object.keys(from)) if (!Object.hasOwn(to, k)) patch[k] = null
  for (const [k, v] of Object.entries(to)) if (from[k] !== v) patch[k] = v
  return patch
}

/** Applies a patch to a copy of `options`, key by key, and checks the result's limits. */
export function applyOptionsPatch(options: RoomOptions, patch: OptionsPatch): RoomOptions {
  const next: RoomOptions = { ...options }
  for (const [k, v] of Object.entries(patch)) {
    checkOptionEntry(k, v)
    if (v === null) delete next[k]
    else next[k] = v
  }
  checkOptions(next)
  return next
}
