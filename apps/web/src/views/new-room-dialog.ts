import { html, nothing } from 'lit-html'
import { ref } from 'lit-html/directives/ref.js'
import type { App } from '../app.js'
import type { NewRoomKind } from '../state.js'
import type { AppState } from '../state.js'

const KINDS: Array<[NewRoomKind, string]> = [
  ['single', '1-on-1'],
  ['group', 'Group'],
  ['channel', 'Channel'],
]

/** The "New room" dialog: a native modal <dialog> (focus trap and Escape come with it). */
export function newRoomDialog(s: AppState, app: App) {
  const d = s.newRoom
  if (!d) return nothing
  const open = (el: Element | undefined) => {
    const dialog = el as HTMLDialogElement | undefined
    // ref runs while the template is still being put in place: open once it is in the document.
    queueMicrotask(() => {
      if (dialog?.isConnected && !dialog.open) dialog.showModal()
    })
  }
  const submit = (e: SubmitEvent) => {
    e.preventDefault()
    const f = new FormData(e.target as HTMLFormElement)
    const get = (k: string) => String(f.get(k) ?? '')
    if (d.kind === 'single') void app.submitNewRoom({ kind: 'single', userId: get('userId') })
    else if (d.kind === 'group') void app.submitNewRoom({ kind: 'group', name: get('name'), userIds: [...f.getAll('pick').map(String), get('others')] })
    else void app.submitNewRoom({ kind: 'channel', uniqueId: get('uniqueId'), name: get('name') })
  }
  const tabKey = (e: KeyboardEvent) => {
    const i = KINDS.findIndex(([k]) => k === d.kind)
    const next = e.key === 'ArrowRight' ? (i + 1) % KINDS.length : e.key === 'ArrowLeft' ? (i + KINDS.length - 1) % KINDS.length : -1
    if (next < 0) return
    e.preventDefault()
    app.setNewRoom({ kind: KINDS[next]![0] })
    queueMicrotask(() => (document.getElementById(`tab-${KINDS[next]![0]}`) as HTMLElement | null)?.focus())
  }
  return html`<dialog class="new-room" aria-labelledby="new-room-title" ${ref(open)} @close=${() => app.closeNewRoom()} data-testid="new-room-dialog">
    <form @submit=${submit}>
      <h2 id="new-room-title">New room</h2>
      <div class="tabs" role="tablist" aria-label="Kind of room" @keydown=${tabKey}>
        ${KINDS.map(
          ([k, label]) => html`<button type="button" role="tab" id="tab-${k}" aria-selected=${String(d.kind === k)} tabindex=${d.kind === k ? 0 : -1} @click=${() => app.setNewRoom({ kind: k })}>${label}</button>`,
        )}
      </div>
      <div role="tabpanel" aria-labelledby="tab-${d.kind}">${fields(d.kind, d.contacts, d.picks, app)}</div>
      ${d.error ? html`<p class="error" role="alert">${d.error}</p>` : nothing}
      <div class="row end">
        <button type="button" @click=${(e: Event) => (e.target as HTMLElement).closest('dialog')?.close()}>Cancel</button>
        <button class="primary" type="submit" ?disabled=${d.busy} data-testid="create-room">${d.kind === 'channel' ? 'Join or create' : d.kind === 'single' ? 'Start chat' : 'Create group'}</button>
      </div>
    </form>
  </dialog>`
}

function fields(kind: NewRoomKind, contacts: NonNullable<AppState['newRoom']>['contacts'], picks: string[], app: App) {
  switch (kind) {
    case 'single':
      return html`<label>User id of the person <input name="userId" required autofocus autocomplete="off" list="contacts" /></label>
        <datalist id="contacts">${contacts.map((c) => html`<option value=${c.userId}>${c.username}</option>`)}</datalist>
        <p class="muted small">Works offline: the chat starts at once and syncs later.</p>`
    case 'group':
      return html`<label>Group name <input name="name" required autofocus maxlength="200" /></label>
        ${contacts.length > 0
          ? html`<fieldset class="picks">
              <legend>People you know</legend>
              ${contacts.map(
                (c) => html`<label class="check"
                  ><input type="checkbox" name="pick" value=${c.userId} .checked=${picks.includes(c.userId)}
                    @change=${(e: Event) => app.setNewRoom({ picks: (e.target as HTMLInputElement).checked ? [...picks, c.userId] : picks.filter((p) => p !== c.userId) })} />
                  ${c.username || c.userId} <span class="muted small">${c.userId}</span></label
                >`,
              )}
            </fieldset>`
          : nothing}
        <label>${contacts.length > 0 ? 'Others' : 'Participants'} (user ids, separated by commas) <input name="others" autocomplete="off" placeholder="bob, carol" /></label>`
    case 'channel':
      return html`<label>Channel id <input name="uniqueId" required autofocus pattern="[A-Za-z0-9._:\\-]{1,128}" title="1–128 letters, digits or . _ : -" placeholder="team-news" /></label>
        <label>Name <span class="muted">(optional; sets the name if you create it)</span><input name="name" maxlength="200" /></label>
        <p class="muted small">Everyone who opens the same id lands in the same channel.</p>`
  }
}
