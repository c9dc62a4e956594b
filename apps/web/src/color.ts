/** Room tile colours: the `background` option is any CSS colour a person typed (or none). */

let probe: CanvasRenderingContext2D | null | undefined

/** The colour as `#rrggbb`/`rgba(…)` if CSS understands it, else undefined. */
export function normalizeColor(value: string | undefined): string | undefined {
  if (!value || !CSS.supports('color', value)) return undefined
  probe ??= document.createElement('canvas').getContext('2d')
  if (!probe) return value
  probe.fillStyle = '#000000'
  probe.fillStyle = value
  return String(probe.fillStyle)
}

/** Black or white text, whichever reads better on `color` (WCAG relative luminance). */
export function textOn(color: string): string {
  const rgb = parseRgb(color)
  if (!rgb) return 'inherit'
  const [r, g, b] = rgb.map((c) => {
    const s = c / 255
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
  }) as [number, number, number]
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
  return luminance > 0.35 ? '#111318' : '#ffffff'
}

function parseRgb(color: string): [number, number, number] | undefined {
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color)
  if (hex) return [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16), parseInt(hex[3]!, 16)]
  const rgb = /^rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(color)
  if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])]
  return undefined
}

/** A stable pleasant colour for avatars without a picture. */
export function avatarColor(seed: string): string {
  let h = 0
  for (const ch of seed) h = (h * 31 + ch.codePointAt(0)!) >>> 0
  return `hsl(${h % 360} 55% 45%)`
}
