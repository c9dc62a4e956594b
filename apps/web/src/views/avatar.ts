import { html, nothing } from 'lit-html'
import { styleMap } from 'lit-html/directives/style-map.js'
import { avatarColor } from '../color.js'
import { initials } from '../format.js'

/** A round picture, or the name's initials on a colour derived from the id. */
export function avatar(name: string, url: string | undefined, seed: string, size: 'sm' | 'md' = 'md') {
  const safe = url && /^(https?:|data:image\/)/.test(url) ? url : undefined
  return html`<span class="avatar avatar-${size}" aria-hidden="true" style=${styleMap({ background: safe ? 'transparent' : avatarColor(seed) })}
    >${safe ? html`<img src=${safe} alt="" loading="lazy" />` : initials(name || seed)}${nothing}</span
  >`
}
