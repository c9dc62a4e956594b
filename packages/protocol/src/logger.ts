/**
 * The logging seam of engine and relay. Packages never call `console`: the app that embeds one passes a
 * {@link Logger} (the relay CLI passes a JSON-lines one) and the package adds context once with `child`.
 */

/** A structured logger: a message plus an optional context object. */
export interface Logger {
  debug(msg: string, ctx?: object): void
  info(msg: string, ctx?: object): void
  warn(msg: string, ctx?: object): void
  error(msg: string, ctx?: object): void
  /** A logger that adds `ctx` to every line it writes. */
  child(ctx: object): Logger
}

const noop = (): void => {}

/**
 * The default logger: drops everything.
 *
 * @example
 * const relay = await createRelay({ port: 0, logger: noopLogger })
 */
export const noopLogger: Logger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => noopLogger,
}
