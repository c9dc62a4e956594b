import { html, nothing } from 'lit-html'
import { repeat } from 'lit-html/directives/repeat.js'
import { styleMap } from 'lit-html/directives/style-map.js'
import type { Comment } from '@parlor/engine'
import type { App } from '../app.js'
import { normalizeColor, textOn } from '../color.js'
import { fullTime, roomKind, shortTime } from '../format.js'
import type { AppState, FailedComment, RoomWithComments } from '../state.js'
import { avatar } from './avatar.js'

export function roomView(s: AppState, app: App) {
  if (!s.roomId) {
    return html`<main id="main" class="room empty" tabindex="-1"><p class="muted">Pick a room, or start one with “New”.</p></main>`
  }
  const room = s.room
  if (!room) {
    return html`<main id="main" class="room empty" tabindex="-1">
      <a class="back" href="#/">← Rooms</a>
      <p class=${s.roomMissing ? 'error' : 'muted'} role=${s.roomMissing ? 'alert' : 'status'}>${s.roomMissing ?? 'Opening the room…'}</p>
    </main>`
  }
  const removed = s.removed.has(room.id)
  const accent = normalizeColor(room.options.background)
  const failed = s.failed.filter((f) => f.roomId === room.id)
  const comments = [...s.older, ...room.comments]
  const lat = room.options.lat
  const lng = room.options.lng
  return html`<main id="main" class="room" tabindex="-1" aria-labelledby="room-title" data-testid="room-view" data-room-id=${room.id}>
    <header class="room-head" style=${styleMap(accent ? { background: accent, color: textOn(accent) } : {})}>
      <a class="back" href="#/" aria-label="Back to rooms">←</a>
      ${avatar(room.name, room.avatarUrl, room.id)}
      <div class="room-title">
        <h2 id="room-title">${room.name || room.uniqueId}</h2>
        <span class="room-sub">${roomKind(room)}${room.type !== 'single' ? ` · ${room.participantCount} ${room.participantCount === 1 ? 'participant' : 'participants'}` : ''}${lat && lng ? ` · location ${lat}, ${lng}` : ''}${room.syncState === 'pending' ? ' · waiting to sync' : ''}</span>
      </div>
      <div class="room-actions">
        <button aria-pressed=${String(s.panel === 'participants')} @click=${() => app.togglePanel('participants')} data-testid="participants-button">Participants</button>
        <button aria-pressed=${String(s.panel === 'options')} @click=${() => app.togglePanel('options')} data-testid="options-button">Options</button>
      </div>
    </header>
    ${removed
      ? html`<p class="banner error" role="alert" data-testid="removed-banner">You were removed from this room. You can still read what was said, but you can’t send messages here anymore.</p>`
      : nothing}
    <ol class="comments" aria-label="Messages" data-testid="comments">
      ${s.hasOlder
        ? html`<li class="older"><button @click=${() => void app.loadOlder()} ?disabled=${s.loadingOlder}>${s.loadingOlder ? 'Loading…' : 'Load earlier messages'}</button></li>`
        : nothing}
      ${repeat(
        comments,
        (c) => c.uniqueId,
        (c) => commentView(c, s.me!.userId, s.status.online),
      )}
      ${failed.map((f) => failedView(f, app))}
      ${comments.length === 0 && failed.length === 0 ? html`<li class="muted pad">No messages yet. Say hello!</li>` : nothing}
    </ol>
    ${removed ? nothing : composer(room, app)}
  </main>`
}

function commentView(c: Comment, me: string, online: boolean) {
  if (c.type === 'system_event') {
    return html`<li class="system" data-testid="comment" data-status=${c.status}><span>${c.text}</span> <time datetime=${new Date(c.timestamp).toISOString()}>${shortTime(c.timestamp)}</time></li>`
  }
  const mine = c.sender.userId === me
  const status =
    c.status === 'pending'
      ? online
        ? 'Sending…'
        : 'Waiting for connection'
      : c.status === 'read'
        ? 'Read'
        : c.status === 'delivered'
          ? 'Delivered'
          : c.status === 'failed'
            ? 'Not sent'
            : 'Sent'
  return html`<li class="comment ${mine ? 'mine' : ''} ${c.status}" data-testid="comment" data-status=${c.status} data-unique-id=${c.uniqueId}>
    ${mine ? nothing : html`<span class="sender">${c.sender.username || c.sender.userId}</span>`}
    <p class="text">${c.text}</p>
    <span class="meta"
      ><time datetime=${new Date(c.timestamp).toISOString()} title=${fullTime(c.timestamp)}>${shortTime(c.timestamp)}</time>${mine
        ? html` · <span class="state">${status}</span>`
        : nothing}</span
    >
  </li>`
}

function failedView(f: FailedComment, app: App) {
  return html`<li class="comment mine failed" data-testid="failed-comment" role="group" aria-label="Message not sent">
    <p class="text">${f.text}</p>
    <span class="meta error">Not sent: ${f.reason}</span>
    <span class="failed-actions">
      <button @click=${() => void app.retry(f)}>Retry</button>
      <button @click=${() => app.discard(f)}>Discard</button>
    </span>
  </li>`
}

function composer(room: RoomWithComments, app: App) {
  const submit = async (e: SubmitEvent) => {
    e.preventDefault()
    const form = e.target as HTMLFormElement
    const box = form.elements.namedItem('text') as HTMLTextAreaElement
    const text = box.value
    if (!text.trim()) return
    box.value = ''
    if (!(await app.send(text))) box.value = text
    box.focus()
  }
  const keydown = (e: KeyboardEvent) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault()
      ;(e.target as HTMLTextAreaElement).form?.requestSubmit()
    }
  }
  return html`<form class="composer" @submit=${submit} data-testid="composer">
    <label class="sr-only" for="composer-text">Message to ${room.name}</label>
    <textarea id="composer-text" name="text" rows="1" placeholder="Write a message…  (Enter sends, Shift+Enter adds a line)" maxlength="16000" @keydown=${keydown}></textarea>
    <button class="primary" type="submit">Send</button>
  </form>`
}
