import { html, nothing } from 'lit-html'
import { repeat } from 'lit-html/directives/repeat.js'
import type { App } from '../app.js'
import { PARTICIPANTS_PAGE, type AppState } from '../state.js'
import { avatar } from './avatar.js'

export function participantsPanel(s: AppState, app: App) {
  const room = s.room
  if (!room) return nothing
  const me = s.me!.userId
  const canManage = room.type !== 'single' && !s.removed.has(room.id)
  const pages = Math.max(1, Math.ceil(room.participantCount / PARTICIPANTS_PAGE))
  const page = s.participantsPage
  const add = async (e: SubmitEvent) => {
    e.preventDefault()
    const input = (e.target as HTMLFormElement).elements.namedItem('ids') as HTMLInputElement
    if (await app.addParticipants(input.value)) input.value = ''
  }
  return html`<aside class="panel" aria-labelledby="panel-title" data-testid="participants-panel">
    <header class="panel-head">
      <h2 id="panel-title">Participants <span class="muted">(${room.participantCount})</span></h2>
      <button class="icon" aria-label="Close participants" @click=${() => app.closePanel()}>✕</button>
    </header>
    ${s.participantsError ? html`<p class="error" role="alert">${s.participantsError}</p>` : nothing}
    <ul class="people">
      ${repeat(
        s.participants,
        (p) => p.userId,
        (p) => html`<li data-testid="participant" data-user-id=${p.userId}>
          ${avatar(p.username, p.avatarUrl, p.userId, 'sm')}
          <span class="person"><span>${p.username || p.userId}${p.userId === me ? html` <span class="tag">you</span>` : nothing}</span><span class="muted small">${p.userId}</span></span>
          ${canManage
            ? html`<button class="small" @click=${() => void app.removeParticipant(p.userId)} aria-label=${p.userId === me ? 'Leave this room' : `Remove ${p.username || p.userId}`}>
                ${p.userId === me ? 'Leave' : 'Remove'}
              </button>`
            : nothing}
        </li>`,
      )}
    </ul>
    <nav class="pager" aria-label="Participant pages">
      <button @click=${() => app.setParticipantsPage(page - 1)} ?disabled=${page <= 1}>Previous</button>
      <span aria-live="polite">Page ${page} of ${pages}</span>
      <button @click=${() => app.setParticipantsPage(page + 1)} ?disabled=${page >= pages}>Next</button>
    </nav>
    ${canManage
      ? html`<form class="add-people" @submit=${add}>
          <label for="add-ids">Add people (user ids, separated by commas)</label>
          <div class="row"><input id="add-ids" name="ids" required placeholder="bob, carol" /><button type="submit">Add</button></div>
        </form>`
      : room.type === 'single'
        ? html`<p class="muted small">A 1-on-1 chat always has exactly two people.</p>`
        : nothing}
  </aside>`
}
