import { html, nothing } from 'lit-html'
import type { App } from '../app.js'
import type { AppState } from '../state.js'

export function signInView(s: AppState, app: App) {
  const busy = s.phase === 'signing-in'
  const submit = (e: SubmitEvent) => {
    e.preventDefault()
    const f = new FormData(e.target as HTMLFormElement)
    void app.signIn({ userId: String(f.get('userId')).trim(), userKey: String(f.get('userKey')), username: String(f.get('username') ?? '').trim() })
  }
  return html`<main class="sign-in" id="main">
    <form class="card" @submit=${submit} aria-labelledby="sign-in-title" data-testid="sign-in">
      <h1 id="sign-in-title"><img src="/icon.svg" alt="" width="32" height="32" /> Parlor</h1>
      <p class="muted">Sign in, or pick a new user id and key to register. Parlor keeps your rooms on this device, so it works offline too.</p>
      <label>User id <input name="userId" required autocomplete="username" pattern="[A-Za-z0-9._@+\\-]{1,128}" title="1–128 letters, digits or . _ @ + -" .value=${s.lastUserId ?? ''} ?disabled=${busy} /></label>
      <label>Key <input name="userKey" type="password" required autocomplete="current-password" ?disabled=${busy} /></label>
      <label>Display name <span class="muted">(optional)</span><input name="username" autocomplete="nickname" maxlength="200" ?disabled=${busy} /></label>
      ${s.signInError ? html`<p class="error" role="alert">${s.signInError}</p>` : nothing}
      <button class="primary" type="submit" ?disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
    </form>
  </main>`
}
