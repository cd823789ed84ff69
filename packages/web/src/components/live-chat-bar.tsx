/**
 * The live room's chat bar: one line at a time, sent as a room chat event
 * (it flies across the stage, nobody stores it). While the user is muted the
 * field is closed with a note saying until when; a line the server refused
 * (too fast, too long) stays in the field and a short note says why.
 */
import { useState } from 'preact/hooks';
import { dayLabel, messageTime, sameDay } from '../format.js';
import type { Mute } from '../live/live-store.js';
import { useLive, useLiveStore } from '../live/use-live.js';

/** The server's default max_room_text_chars. */
const MAX_CHAT_CHARS = 200;

function muteNote(mute: Mute): string {
  if (!mute.known) return 'You are muted in this live for now.';
  const until = sameDay(mute.until, Date.now()) ? messageTime(mute.until) : `${dayLabel(mute.until)}, ${messageTime(mute.until)}`;
  return `You are muted in this live until ${until}.`;
}

export function LiveChatBar() {
  const store = useLiveStore();
  const status = useLive((state) => state.status);
  const mute = useLive((state) => state.mute);
  const notice = useLive((state) => state.notice);
  const [text, setText] = useState('');
  const [sending, setSending] = useState(false);

  if (status === 'ended') {
    return (
      <div class="composer-closed" data-testid="live-chat-closed">
        The live ended. Chat is closed.
      </div>
    );
  }

  const open = status === 'live' && mute === undefined;
  const submit = async (event: Event) => {
    event.preventDefault();
    if (sending || text.trim() === '') return;
    setSending(true);
    const sent = await store.chat(text);
    setSending(false);
    if (sent) setText('');
  };

  return (
    <form class="composer live-chat-bar" data-testid="live-chat" onSubmit={submit}>
      {mute !== undefined && (
        <p class="composer-note error" id="live-muted-note" data-testid="live-muted" role="status">
          {muteNote(mute)}
        </p>
      )}
      {notice !== undefined && (
        <p class="composer-note error" data-testid="live-notice" role="status">
          {notice}
        </p>
      )}
      <label for="live-chat-input" class="visually-hidden">
        Chat in the live
      </label>
      <input
        id="live-chat-input"
        class="composer-input live-chat-input"
        data-testid="live-chat-input"
        value={text}
        maxLength={MAX_CHAT_CHARS}
        placeholder={mute === undefined ? 'Say something…' : 'You are muted'}
        autocomplete="off"
        disabled={!open}
        aria-describedby={mute === undefined ? undefined : 'live-muted-note'}
        onInput={(event) => setText(event.currentTarget.value)}
      />
      <button type="submit" class="send-button" data-testid="live-chat-send" aria-label="Send" disabled={!open || sending || text.trim() === ''}>
        <svg viewBox="0 0 20 20" aria-hidden="true">
          <path d="M3 10l14-7-5 15-2.5-6L3 10z" fill="currentColor" />
        </svg>
      </button>
    </form>
  );
}
