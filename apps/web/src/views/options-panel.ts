import { html, nothing } from 'lit-html'
import { repeat } from 'lit-html/directives/repeat.js'
import { live } from 'lit-html/directives/live.js'
import type { App } from '../app.js'
import { normalizeColor } from '../color.js'
import type { AppState } from '../state.js'

/** Colour input values must be #rrggbb; anything else shows black in the picker. */
function pickerValue(bg: string): string {
  const c = normalizeColor(bg)
  return c && /^#[0-9a-f]{6}$/i.test(c) ? c : '#000000'
}

export function optionsPanel(s: AppState, app: App) {
  const room = s.room
  const d = s.options
  if (!room || !d) return nothing
  const readOnly = room.type === 'single' || s.removed.has(room.id)
  const submit = (e: SubmitEvent) => {
    e.preventDefault()
    void app.saveOptions()
  }
  const val = (e: Event) => (e.target as HTMLInputElement).value
  const setRow = (i: number, patch: Partial<{ key: string; value: string }>) => app.editOptions({ rows: d.rows.map((r, j) => (j === i ? { ...r, ...patch } : r)) })
  return html`<aside class="panel" aria-labelledby="panel-title" data-testid="options-panel">
    <header class="panel-head">
      <h2 id="panel-title">Room options</h2>
      <button class="icon" aria-label="Close options" @click=${() => app.closePanel()}>✕</button>
    </header>
    ${room.type === 'single' ? html`<p class="muted small">Names and options can be changed in groups and channels; a 1-on-1 chat shows them read-only.</p>` : nothing}
    <form class="options" @submit=${submit}>
      <fieldset ?disabled=${readOnly}>
        ${room.type !== 'single'
          ? html`<label>Room name <input name="name" maxlength="200" .value=${live(d.name)} @input=${(e: Event) => app.editOptions({ name: val(e) })} /></label>`
          : nothing}
        <label for="opt-background">Background colour</label>
        <div class="row">
          <input type="color" aria-label="Pick a background colour" .value=${live(pickerValue(d.background))} @input=${(e: Event) => app.editOptions({ background: val(e) })} />
          <input id="opt-background" name="background" placeholder="e.g. teal or #1e90ff" .value=${live(d.background)} @input=${(e: Event) => app.editOptions({ background: val(e) })} data-testid="option-background" />
        </div>
        <div class="row two">
          <label>Latitude <input name="lat" inputmode="decimal" placeholder="52.37" .value=${live(d.lat)} @input=${(e: Event) => app.editOptions({ lat: val(e) })} /></label>
          <label>Longitude <input name="lng" inputmode="decimal" placeholder="4.90" .value=${live(d.lng)} @input=${(e: Event) => app.editOptions({ lng: val(e) })} /></label>
        </div>
        <p class="label">Other options</p>
        <ul class="kv">
          ${repeat(
            d.rows,
            (_r, i) => i,
            (r, i) => html`<li class="row">
              <input aria-label="Option ${i + 1} key" placeholder="key" maxlength="64" .value=${live(r.key)} @input=${(e: Event) => setRow(i, { key: val(e) })} data-testid="option-key" />
              <input aria-label="Option ${i + 1} value" placeholder="value" maxlength="1024" .value=${live(r.value)} @input=${(e: Event) => setRow(i, { value: val(e) })} data-testid="option-value" />
              <button type="button" class="icon" aria-label="Remove option ${r.key || i + 1}" @click=${() => app.editOptions({ rows: d.rows.filter((_x, j) => j !== i) })}>✕</button>
            </li>`,
          )}
        </ul>
        <button type="button" @click=${() => app.editOptions({ rows: [...d.rows, { key: '', value: '' }] })}>+ Add option</button>
      </fieldset>
      ${d.error ? html`<p class="error" role="alert">${d.error}</p>` : nothing}
      ${d.saved ? html`<p class="ok" role="status">${s.status.online ? 'Saved.' : 'Saved on this device; it will sync when you’re back online.'}</p>` : nothing}
      ${readOnly
        ? nothing
        : html`<div class="row end">
            <button type="button" @click=${() => app.resetOptions()}>Reset</button>
            <button class="primary" type="submit" data-testid="save-options">Save</button>
          </div>`}
    </form>
  </aside>`
}
