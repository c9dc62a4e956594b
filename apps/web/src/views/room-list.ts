import { html, nothing } from 'lit-html'
import { repeat } from 'lit-html/directives/repeat.js'
import { styleMap } from 'lit-html/directives/style-map.js'
import type { Room } from '@parlor/engine'
import { roomHref, type App } from '../app.js'
import { normalizeColor, textOn } from '../color.js'
import { preview, roomKind, shortTime } from '../format.js'
import type { AppState } from '../state.js'
import { avatar } from './avatar.js'

export function roomListView(s: AppState, app: App) {
  return html`<nav class="sidebar" aria-label="Rooms">
    <div class="list-head">
      <h2>Rooms</h2>
      <button class="primary" aria-haspopup="dialog" @click=${() => void app.openNewRoom()} data-testid="new-room">+ New</button>
    </div>
    ${!s.roomsLoaded
      ? html`<p class="muted pad">Loading rooms…</p>`
      : s.rooms.length === 0
        ? html`<p class="muted pad">No rooms yet. Start a chat, a group or a channel with “New”.</p>`
        : html`<ul class="rooms" data-testid="room-list">
            ${repeat(
              s.rooms,
              (r) => r.id,
              (r) => roomTile(r, s),
            )}
          </ul>`}
    ${s.hasMoreRooms ? html`<button class="more" @click=${() => app.showMoreRooms()}>Show more rooms</button>` : nothing}
  </nav>`
}

function roomTile(r: Room, s: AppState) {
  const bg = normalizeColor(r.options.background)
  const current = r.id === s.roomId
  const unread = r.unreadCount > 0 ? html`<span class="badge" aria-label="${r.unreadCount} unread">${r.unreadCount > 99 ? '99+' : r.unreadCount}</span>` : nothing
  const time = r.lastComment ? shortTime(r.lastComment.timestamp) : ''
  return html`<li>
    <a
      class="tile ${bg ? 'coloured' : ''} ${current ? 'current' : ''}"
      href=${roomHref(r.id)}
      aria-current=${current ? 'page' : 'false'}
      data-room-id=${r.id}
      data-testid="room-tile"
      style=${styleMap(bg ? { background: bg, color: textOn(bg) } : {})}
    >
      ${avatar(r.name, r.avatarUrl, r.id)}
      <span class="tile-main">
        <span class="tile-name">${r.name || r.uniqueId}</span>
        <span class="tile-last">${preview(r.lastComment, s.me!.userId)}</span>
      </span>
      <span class="tile-meta">
        <span class="tile-time">${time}</span>
        ${unread}
        ${r.syncState === 'pending' ? html`<span class="sync-mark" title="Changes waiting to sync" aria-label="changes waiting to sync">⟳</span>` : nothing}
      </span>
      <span class="sr-only">${roomKind(r)}</span>
    </a>
  </li>`
}
