/**
 * The connection state, told honestly: a status pill (connecting / online /
 * reconnecting / offline) and, while not online, a banner saying what happens
 * to messages typed meanwhile.
 */
import { useChat, useChatStore } from '../chat/use-chat.js';

type Shown = 'connecting' | 'online' | 'reconnecting' | 'offline' | 'closed';

function shownState(state: string, browserOffline: boolean): Shown {
  if (state === 'closed') return 'closed';
  // The browser's word wins over a connection that has not noticed yet.
  if (browserOffline) return 'offline';
  if (state === 'open') return 'online';
  return state === 'reconnecting' ? 'reconnecting' : 'connecting';
}

const LABELS: Record<Shown, string> = {
  connecting: 'Connecting…',
  online: 'Online',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
  closed: 'Disconnected',
};

export function ConnectionStatus() {
  const connection = useChat((state) => state.connection);
  const shown = shownState(connection.state, connection.browserOffline);
  return (
    <span class={`status-pill status-${shown}`} data-testid="connection-state" data-state={shown} role="status" aria-live="polite">
      <span class="status-dot" aria-hidden="true" />
      {LABELS[shown]}
    </span>
  );
}

export function ConnectionBanner() {
  const store = useChatStore();
  const connection = useChat((state) => state.connection);
  // Re-read when timelines change, so the count of waiting messages stays current.
  useChat((state) => state.timelines);
  const shown = shownState(connection.state, connection.browserOffline);
  if (shown === 'online' || shown === 'closed') return null;
  const waiting = store.waitingCount;
  let text: string;
  if (shown === 'connecting') text = 'Connecting to the server…';
  else if (shown === 'offline') text = 'You are offline. Waiting for the network…';
  else text = 'Connection lost. Reconnecting…';
  return (
    <div class={`connection-banner banner-${shown}`} data-testid="connection-banner" role="status">
      <span class="spinner" aria-hidden="true" />
      <span>
        {text}
        {(shown !== 'connecting' || waiting > 0) && (
          <span class="banner-detail">
            {waiting > 0
              ? ` ${waiting} message${waiting === 1 ? '' : 's'} will be sent when the connection returns.`
              : ' Messages you write will be sent when the connection returns.'}
          </span>
        )}
      </span>
    </div>
  );
}
