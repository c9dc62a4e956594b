import { html } from 'lit-html'
import { repeat } from 'lit-html/directives/repeat.js'
import type { App } from '../app.js'
import type { Toast } from '../state.js'

export function toastsView(toasts: Toast[], app: App) {
  return html`<div class="toasts" aria-live="assertive" data-testid="toasts">
    ${repeat(
      toasts,
      (t) => t.id,
      (t) => html`<div class="toast ${t.kind}" role=${t.kind === 'error' ? 'alert' : 'status'}>
        <span>${t.text}</span><button class="icon" aria-label="Dismiss" @click=${() => app.dismissToast(t.id)}>✕</button>
      </div>`,
    )}
  </div>`
}
