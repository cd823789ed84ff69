/**
 * The live page's side panel: for the host and admins, their tools; the top
 * viewers with their scores; and the cards (products, gifts, red packets,
 * announcements) in the order they were sent. People met here without a
 * name (a gift's sender, the host) are looked up through the app's names.
 */
import { useEffect } from 'preact/hooks';
import { useChatStore } from '../chat/use-chat.js';
import { useLive, useRoomName } from '../live/use-live.js';
import { Avatar } from './avatar.js';
import { LiveCards } from './live-cards.js';
import { LiveHostTools } from './live-host-tools.js';

/** Top viewers listed; the server ranks more. */
const TOP_VIEWERS_SHOWN = 5;

export function LivePanel() {
  const chat = useChatStore();
  const role = useLive((state) => state.role);
  const status = useLive((state) => state.status);
  const hostId = useLive((state) => state.info?.hostId);
  const cards = useLive((state) => state.cards);

  useEffect(() => {
    chat.learnNames([...(hostId === undefined ? [] : [hostId]), ...cards.map((message) => message.senderId)]);
  }, [chat, hostId, cards]);

  return (
    <aside class="live-panel" aria-label="About this live" data-testid="live-panel">
      {status === 'live' && role !== 'member' && <LiveHostTools />}
      <TopViewers />
      <LiveCards />
    </aside>
  );
}

function TopViewers() {
  const viewers = useLive((state) => state.topViewers);
  const live = useLive((state) => state.status === 'live');
  const nameOf = useRoomName();
  if (viewers.length === 0 && !live) return null;
  return (
    <section class="live-section" aria-labelledby="top-viewers-title">
      <h3 id="top-viewers-title" class="live-section-title">
        Top viewers
      </h3>
      {viewers.length === 0 ? (
        <p class="muted panel-note">Likes and chat put viewers here.</p>
      ) : (
        <ol class="top-viewers" data-testid="top-viewers">
          {viewers.slice(0, TOP_VIEWERS_SHOWN).map((viewer, index) => {
            // The server names a viewer by id when it knows no name: the app may know better.
            const name = viewer.name !== '' && viewer.name !== viewer.userId ? viewer.name : nameOf(viewer.userId);
            return (
              <li key={viewer.userId} class="top-viewer" data-testid="top-viewer" data-user-id={viewer.userId}>
                <span class="top-viewer-rank" aria-hidden="true">
                  {index + 1}
                </span>
                <Avatar id={viewer.userId} name={name} size="small" />
                <span class="top-viewer-name">{name}</span>
                <span class="top-viewer-score" data-testid="top-viewer-score">
                  {viewer.score.toLocaleString()}
                  <span class="visually-hidden"> points</span>
                </span>
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}
