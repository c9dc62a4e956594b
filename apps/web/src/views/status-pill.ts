import { html, nothing } from 'lit-html'
import type { EngineStatus } from '@parlor/engine'

/**
 * Online/offline and how many changes wait for the relay; announced politely to screen readers.
 * Phones show the short form of the count ("· 3 waiting"), wider screens the sentence.
 */
export function statusPill(st: Pick<EngineStatus, 'online' | 'pending'>) {
  const n = st.pending
  const long = st.online ? `syncing ${n}` : n === 1 ? '1 change waiting to sync' : `${n} changes waiting to sync`
  const short = st.online ? `syncing ${n}` : `${n} waiting`
  return html`<span class="status ${st.online ? 'online' : 'offline'}" role="status" data-testid="status" data-online=${String(st.online)} data-pending=${String(n)}
    ><span class="dot" aria-hidden="true"></span>${st.online ? 'Online' : 'Offline'}${n > 0
      ? html`<span class="long"> · ${long}</span><span class="short"> · ${short}</span>`
      : nothing}</span
  >`
}
