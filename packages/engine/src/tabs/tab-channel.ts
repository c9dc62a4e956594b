import type { Query } from '@parlor/protocol'

/** Messages between the engines (tabs) sharing one database. */
export type TabMessage =
  | { kind: 'event'; event: string; value: unknown }
  | { kind: 'leader'; online: boolean; isLeaving?: boolean }
  | { kind: 'outbox' }
  | { kind: 'query'; id: string; query: Query }
  | { kind: 'answer'; id: string; ok: true; value: unknown }
  | { kind: 'answer'; id: string; ok: false; error: { code: string; message: string } }

interface ChannelLike {
  postMessage(message: unknown): void
  close(): void
  onmessage: ((ev: { data: unknown }) => void) | null
}

/**
 * A BroadcastChannel named after the database: the leader tells the other tabs about events and its
 * online state and answers their relay queries; the others tell the leader their outbox grew.
 * Without BroadcastChannel (a lone engine) messages go nowhere.
 */
export class TabChannel {
  private readonly channel: ChannelLike | undefined

  constructor(dbName: string, onMessage: (m: TabMessage) => void) {
    const Ctor = (globalThis as { BroadcastChannel?: new (name: string) => ChannelLike }).BroadcastChannel
    this.channel = Ctor ? new Ctor(`parlor:${dbName}`) : undefined
    if (this.channel) this.channel.onmessage = (ev) => onMessage(ev.data as TabMessage)
  }

  post(m: TabMessage): void {
    try {
      this.channel?.postMessage(m)
    } catch {
      // A value that cannot be cloned is not worth failing a write for; other tabs re-read the database.
    }
  }

  close(): void {
    this.channel?.close()
  }
}
