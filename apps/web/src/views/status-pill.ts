import { html } from 'lit-html'
import type { EngineStatus } from '@parlor/engine'

/** Online/offline and how many changes wait for the relay; announced politely to screen readers. */
export function statusPill(st: Pick<EngineStatus, 'online' | 'pending'>) {
  const waiting = st.pending === 1 ? '1 change waiting to sync' : `${st.pending} changes waiting to sync`
  const text = st.online ? (st.pending > 0 ? `Online · syncing ${st.pending}` : 'Online') : st.pending > 0 ? `Offline · ${waiting}` : 'Offline'
  return html`<span class="status ${st.online ? 'online' : 'offline'}" role="status" data-testid="status" data-online=${String(st.online)} data-pending=${String(st.pending)}
    ><span class="dot" aria-hidden="true"></span>${text}</span
  >`
}
