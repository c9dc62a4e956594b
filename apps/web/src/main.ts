import './styles.css'
import { App } from './app.js'

performance.mark('parlor:app-start')

const app = new App(document.getElementById('app')!)
void app.start()

// The service worker keeps the app shell for offline starts (production builds only: the dev
// server's modules are not a stable shell).
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((e: unknown) => {
    // Without it the app still works online; nothing to tell the user, but say it in the console.
    console.warn('[parlor] service worker registration failed:', String(e))
  })
}
