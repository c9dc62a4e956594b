import { html, nothing } from 'lit-html'
import type { App } from '../app.js'
import type { AppState } from '../state.js'
import { newRoomDialog } from './new-room-dialog.js'
import { optionsPanel } from './options-panel.js'
import { participantsPanel } from './participants-panel.js'
import { roomListView } from './room-list.js'
import { roomView } from './room-view.js'
import { signInView } from './sign-in.js'
import { statusPill } from './status-pill.js'
import { toastsView } from './toasts.js'

export function appView(s: AppState, app: App) {
  if (s.phase !== 'ready') return html`${signInView(s, app)}${toastsView(s.toasts, app)}`
  const me = s.me!
  return html`<a class="skip" href="#main">Skip to the conversation</a>
    <header class="topbar">
      <h1><img src="/icon.svg" alt="" width="24" height="24" /> Parlor</h1>
      ${statusPill(s.status)}
      <span class="me" title=${me.userId}>${me.username || me.userId}</span>
      <button class="quiet" @click=${() => void app.signOut()}>Sign out</button>
    </header>
    <div class="layout ${s.roomId ? 'has-room' : ''} ${s.panel ? 'has-panel' : ''}">
      ${roomListView(s, app)} ${roomView(s, app)}
      ${s.panel === 'participants' ? participantsPanel(s, app) : s.panel === 'options' ? optionsPanel(s, app) : nothing}
    </div>
    ${newRoomDialog(s, app)} ${toastsView(s.toasts, app)}`
}
