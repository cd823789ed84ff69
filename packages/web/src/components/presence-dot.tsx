/**
 * A direct peer's presence: a dot on their avatar (green online, amber
 * away, none otherwise) and the line under their name in the chat header
 * ("online", "last seen 5 min ago"). Each reads only its peer's entry, so a
 * contact's change re-renders their dot and nothing else.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useChat } from '../chat/use-chat.js';
import { presenceText } from '../format.js';

/** "5 min ago" is redrawn this often. */
const REDRAW_MS = 30_000;

/** The avatar with the peer's dot over its corner; `userId` undefined: no dot (groups). */
export function WithPresence({ userId, children }: { userId: string | undefined; children: ComponentChildren }) {
  return (
    <span class="avatar-presence">
      {children}
      {userId !== undefined && <PresenceDot userId={userId} />}
    </span>
  );
}

function PresenceDot({ userId }: { userId: string }) {
  const state = useChat((chat) => chat.presence.get(userId)?.state);
  if (state !== 'online' && state !== 'away') return null;
  return <span class={`presence-dot presence-${state}`} data-testid="presence-dot" data-state={state} title={state} />;
}

/** The peer's presence in words, or `fallback` while it is not known (hidden, not watched yet). */
export function PresenceLine({ userId, fallback }: { userId: string; fallback: string }) {
  const presence = useChat((chat) => chat.presence.get(userId));
  // Only to redraw "5 min ago" as time passes.
  const [, setNow] = useState(0);
  useEffect(() => {
    if (presence?.state !== 'offline') return;
    const timer = setInterval(() => setNow(Date.now()), REDRAW_MS);
    return () => clearInterval(timer);
  }, [presence?.state]);
  const text = presenceText(presence);
  return (
    <span class="chat-subtitle" data-testid="presence-line" data-state={presence?.state ?? 'unknown'}>
      {text === '' ? fallback : text}
    </span>
  );
}
