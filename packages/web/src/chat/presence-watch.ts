/**
 * Whose presence the app watches, and this tab's own: the peers of the
 * direct conversations at the top of the list (the ones on screen, bounded)
 * and the open conversation's peer; the list is given to the SDK again only
 * when it changes, and at most every WATCH_DEBOUNCE_MS. A hidden page (a
 * background tab, a phone's app switcher) makes this device away.
 */
import type { ConversationSummary, ParleyClient } from '@parley/client';

/** Direct conversations from the top of the list whose peers are watched. */
export const LIST_PEERS_WATCHED = 50;
/** A burst of list changes (the first sync) becomes one subscription. */
const WATCH_DEBOUNCE_MS = 500;
/** After a refused subscription (the server bounds how often a connection subscribes). */
const RETRY_MS = 2000;

export class PresenceWatch {
  private listPeers: string[] = [];
  private openPeer: string | undefined;
  private sent = '';
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly stopVisibility: () => void;
  private closed = false;

  constructor(private readonly client: Pick<ParleyClient, 'watchPresence' | 'setAway'>) {
    const onVisibility = () => this.client.setAway(document.visibilityState === 'hidden');
    document.addEventListener('visibilitychange', onVisibility);
    onVisibility();
    this.stopVisibility = () => document.removeEventListener('visibilitychange', onVisibility);
  }

  /** The conversation list changed (in its display order). */
  listChanged(conversations: readonly ConversationSummary[]): void {
    const peers: string[] = [];
    for (const conversation of conversations) {
      if (peers.length === LIST_PEERS_WATCHED) break;
      if (conversation.kind === 'direct' && conversation.active && conversation.peerId !== undefined) peers.push(conversation.peerId);
    }
    this.listPeers = peers;
    this.schedule();
  }

  /** The open conversation's peer (undefined for a group, or when none is open). */
  opened(peerId: string | undefined): void {
    if (peerId === this.openPeer) return;
    this.openPeer = peerId;
    this.schedule();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.stopVisibility();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const list = [...new Set([...(this.openPeer === undefined ? [] : [this.openPeer]), ...this.listPeers])];
      // The same people in another order (the list re-sorted) is no change.
      const key = [...list].sort().join('\n');
      if (key === this.sent) return;
      this.sent = key;
      this.client.watchPresence(list).catch((error: unknown) => {
        // Given again a little later; the SDK watches the list again after a reconnect by itself.
        this.sent = '';
        console.warn('parley: presence', error);
        setTimeout(() => this.schedule(), RETRY_MS);
      });
    }, WATCH_DEBOUNCE_MS);
  }
}
