/**
 * Calls `fn` when the platform reports that the network is back (browsers' `online` event), so a
 * reconnect need not sit out its backoff. Where there is no such signal (Node), it does nothing.
 */
export function onNetworkBack(fn: () => void): () => void {
  const target = globalThis as { addEventListener?: (type: string, fn: () => void) => void; removeEventListener?: (type: string, fn: () => void) => void }
  if (typeof target.addEventListener !== 'function') return () => {}
  target.addEventListener('online', fn)
  return () => target.removeEventListener?.('online', fn)
}
