/**
 * The message composer: a growing text area; Enter sends, Shift+Enter adds a
 * line (and Enter while an input method is composing does not send). Drafts
 * are kept per conversation while the page lives. Works while offline: the
 * message waits in the app's outbox (kept across reloads) and goes out when
 * the connection returns.
 */
import { MAX_TEXT_PARTS, splitLongText } from '@parley/client';
import { useEffect, useRef, useState } from 'preact/hooks';

const drafts = new Map<string, string>();
const MAX_HEIGHT_PX = 160;

interface ComposerProps {
  conversationId: string;
  maxLength: number;
  onSend(text: string): void;
}

export function Composer({ conversationId, maxLength, onSend }: ComposerProps) {
  const [text, setText] = useState(() => drafts.get(conversationId) ?? '');
  const input = useRef<HTMLTextAreaElement>(null);

  const resize = () => {
    const element = input.current;
    if (element === null) return;
    element.style.height = 'auto';
    element.style.height = `${Math.min(element.scrollHeight, MAX_HEIGHT_PX)}px`;
  };

  useEffect(() => {
    resize();
    // A physical keyboard: ready to type. On touch screens focusing would pop the keyboard up uninvited.
    if (window.matchMedia('(pointer: fine)').matches) input.current?.focus();
  }, []);

  const update = (value: string) => {
    setText(value);
    if (value === '') drafts.delete(conversationId);
    else drafts.set(conversationId, value);
  };

  const message = text.trim();
  const parts = message.length > maxLength ? splitLongText(message, maxLength) : [message];

  const submit = () => {
    if (message === '' || parts === undefined) return;
    for (const part of parts) onSend(part);
    update('');
    requestAnimationFrame(resize);
    input.current?.focus();
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  };

  const tooLong = parts === undefined;
  return (
    <form
      class="composer"
      onSubmit={(event) => {
        event.preventDefault();
        submit();
      }}
    >
      <textarea
        ref={input}
        class="composer-input"
        data-testid="composer-input"
        rows={1}
        placeholder="Write a message…"
        aria-label="Message"
        value={text}
        onInput={(event) => {
          update(event.currentTarget.value);
          resize();
        }}
        onKeyDown={onKeyDown}
      />
      {(tooLong || (parts?.length ?? 0) > 1) && (
        <p class={tooLong ? 'composer-note too-long' : 'composer-note'} data-testid="composer-note" role="status">
          {tooLong
            ? `Too long to send: at most ${MAX_TEXT_PARTS} messages of ${maxLength.toLocaleString('en')} characters (this is ${message.length.toLocaleString('en')}).`
            : `Long message: it will be sent as ${parts?.length} messages.`}
        </p>
      )}
      <button type="submit" class="send-button" data-testid="send-button" disabled={message === '' || tooLong} aria-label="Send">
        <svg viewBox="0 0 20 20" aria-hidden="true">
          <path d="M3 10l14-7-5 15-2.5-6L3 10z" fill="currentColor" />
        </svg>
      </button>
    </form>
  );
}
