/**
 * The message composer: a growing text area; Enter sends, Shift+Enter adds a
 * line (and Enter while an input method is composing does not send). Works
 * while offline: the message waits in the app's outbox (kept across reloads)
 * and goes out when the connection returns.
 *
 * Drafts (the store's DraftKeeper): it opens with the text left unsent here,
 * else the draft saved from any of the user's devices; what is typed is
 * saved once typing pauses and when the composer closes, and cleared once
 * sent. A draft another device saves meanwhile replaces the text unless
 * something typed here is not saved yet, or the composer is empty with the
 * user in it.
 *
 * Typing: while it holds text the others in the conversation see the user
 * typing; emptying it, sending, or leaving the conversation ends that.
 *
 * Mentions: typing "@" offers the people of the conversation (and "all" in
 * groups) in a list the arrow keys, Enter or Tab and Escape drive; whoever
 * is still named in the text when it goes is mentioned. A reply shows what
 * it answers above the text until it is sent or cancelled.
 *
 * Files come in through the attach button (several at once), or pasted into
 * the text area (a screenshot from the clipboard); the chat view takes
 * dropped ones. Each goes out as its own message, at once. Where the browser
 * can record, a microphone button records a voice note.
 */
import { MAX_TEXT_PARTS, splitLongText } from '@parley/client';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { ALL_MEMBERS, type MentionCandidate, insertMention, mentionCandidates, mentionQuery, mentionsIn } from '../chat/mentions.js';
import type { MessageExtras } from '../chat/outbox-store.js';
import { useChat, useChatStore } from '../chat/use-chat.js';
import { type RecordedVoice, type VoiceRecording, canRecordVoice } from '../voice-recording.js';
import { RecordButton, RecordingBar } from './voice-recorder.js';

const MAX_HEIGHT_PX = 160;

interface ComposerProps {
  conversationId: string;
  maxLength: number;
  /** Who "@" offers: the conversation's other people. */
  people: readonly MentionCandidate[];
  /** A group: "@all" is offered too. */
  group: boolean;
  /** The message being answered, as the banner shows it. */
  replyingTo?: { name: string; preview: string };
  onCancelReply(): void;
  /** `extras`: the mentions it carries (the reply is the chat view's). */
  onSend(text: string, extras: MessageExtras): void;
  /** Files attached, pasted (or dropped on the chat view): each is sent as a message. */
  onAttach(files: File[]): void;
  onVoice(voice: RecordedVoice): void;
}

/** Feature detection once: the button is not offered where recording cannot work. */
const VOICE_SUPPORTED = typeof window !== 'undefined' && canRecordVoice();

export function Composer({ conversationId, maxLength, people, group, replyingTo, onCancelReply, onSend, onAttach, onVoice }: ComposerProps) {
  const store = useChatStore();
  const selfId = useChat((state) => state.self.userId);
  /** Names chosen from the suggestions, with whom they mean. */
  const chosen = useRef(new Map<string, string>());
  const [suggesting, setSuggesting] = useState<{ start: number; caret: number; candidates: MentionCandidate[]; active: number } | undefined>();
  const listId = useId();
  const { drafts } = store;
  const [text, setText] = useState(() => drafts.text(conversationId));
  const serverDraft = useChat((state) => state.conversations.find((summary) => summary.id === conversationId)?.draft ?? '');
  const [recording, setRecording] = useState<VoiceRecording | undefined>();
  const [voiceNote, setVoiceNote] = useState<string | undefined>();
  const input = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  const resize = () => {
    const element = input.current;
    if (element === null) return;
    element.style.height = 'auto';
    element.style.height = `${Math.min(element.scrollHeight, MAX_HEIGHT_PX)}px`;
  };

  const recordingShown = recording !== undefined;
  // Runs when the text area (re)appears: on mount and after a recording.
  useEffect(() => {
    if (recordingShown) return;
    resize();
    // A physical keyboard: ready to type. On touch screens focusing would pop the keyboard up uninvited.
    if (window.matchMedia('(pointer: fine)').matches) input.current?.focus();
  }, [recordingShown]);

  const update = (value: string) => {
    setText(value);
    drafts.typed(conversationId, value);
    store.composerChanged(conversationId, value);
  };

  // Text left behind in a conversation no one is looking at is not someone typing.
  useEffect(() => () => store.composerLeft(conversationId), [store, conversationId]);

  // Leaving the conversation saves what typing has not paused for yet.
  useEffect(() => () => drafts.flush(conversationId), [drafts, conversationId]);

  const shown = useRef(text);
  shown.current = text;
  useEffect(() => {
    const element = input.current;
    const focused = element !== null && document.activeElement === element && document.hasFocus();
    if (!drafts.follows(conversationId, serverDraft, shown.current, focused)) return;
    setText(serverDraft);
    requestAnimationFrame(resize);
  }, [drafts, conversationId, serverDraft]);

  const message = text.trim();
  const parts = message.length > maxLength ? splitLongText(message, maxLength) : [message];

  const submit = () => {
    if (message === '' || parts === undefined) return;
    const { mentions, mentionAll } = mentionsIn(message, chosen.current, group);
    const extras: MessageExtras = {};
    if (mentions.length > 0) extras.mentions = mentions;
    if (mentionAll) extras.mentionAll = true;
    // A long text goes as several messages; the first carries the mentions.
    for (const [index, part] of parts.entries()) onSend(part, index === 0 ? extras : {});
    chosen.current.clear();
    setSuggesting(undefined);
    setText('');
    drafts.sent(conversationId);
    requestAnimationFrame(resize);
    input.current?.focus();
  };

  const suggest = (value: string, caret: number) => {
    const typed = mentionQuery(value, caret);
    const candidates = typed === undefined ? [] : mentionCandidates(people, typed.query, selfId, group);
    setSuggesting(typed === undefined || candidates.length === 0 ? undefined : { start: typed.start, caret, candidates, active: 0 });
  };

  const choose = (candidate: MentionCandidate) => {
    if (suggesting === undefined) return;
    if (candidate.id !== ALL_MEMBERS) chosen.current.set(candidate.name, candidate.id);
    const next = insertMention(text, suggesting.start, suggesting.caret, candidate.name);
    update(next.text);
    setSuggesting(undefined);
    requestAnimationFrame(() => {
      input.current?.setSelectionRange(next.caret, next.caret);
      input.current?.focus();
    });
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (suggesting !== undefined) {
      const count = suggesting.candidates.length;
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        event.preventDefault();
        setSuggesting({ ...suggesting, active: (suggesting.active + (event.key === 'ArrowDown' ? 1 : count - 1)) % count });
        return;
      }
      if ((event.key === 'Enter' || event.key === 'Tab') && !event.isComposing) {
        event.preventDefault();
        const candidate = suggesting.candidates[suggesting.active];
        if (candidate !== undefined) choose(candidate);
        return;
      }
      if (event.key === 'Escape') {
        event.preventDefault();
        setSuggesting(undefined);
        return;
      }
    }
    if (event.key === 'Escape' && replyingTo !== undefined) {
      event.preventDefault();
      onCancelReply();
      return;
    }
    if (event.key === 'Enter' && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  };

  const onPaste = (event: ClipboardEvent) => {
    const files = Array.from(event.clipboardData?.files ?? []);
    if (files.length === 0) return;
    // A copied image also comes as HTML or a file name: the file is what was meant.
    event.preventDefault();
    onAttach(files);
  };

  if (recording !== undefined) {
    return (
      <div class="composer recording">
        <RecordingBar
          recording={recording}
          onSend={onVoice}
          onDone={(note) => {
            setRecording(undefined);
            setVoiceNote(note);
          }}
        />
      </div>
    );
  }

  const tooLong = parts === undefined;
  return (
    <form
      class="composer"
      onSubmit={(event) => {
        event.preventDefault();
        submit();
      }}
    >
      <input
        ref={fileInput}
        type="file"
        multiple
        hidden
        data-testid="attach-input"
        onChange={(event) => {
          const files = Array.from(event.currentTarget.files ?? []);
          // Cleared, so that picking the same file again is a change too.
          event.currentTarget.value = '';
          if (files.length > 0) onAttach(files);
        }}
      />
      <button
        type="button"
        class="icon-button composer-tool"
        aria-label="Attach files"
        title="Attach photos, videos or files"
        data-testid="attach-button"
        onClick={() => fileInput.current?.click()}
      >
        <svg viewBox="0 0 20 20" aria-hidden="true">
          <path
            d="M15.5 9.5l-5.8 5.8a3.6 3.6 0 0 1-5.1-5.1l6.2-6.2a2.4 2.4 0 0 1 3.4 3.4l-6.1 6.1a1.2 1.2 0 0 1-1.7-1.7l5.5-5.5"
            fill="none"
            stroke="currentColor"
            stroke-width="1.7"
            stroke-linecap="round"
            stroke-linejoin="round"
          />
        </svg>
      </button>
      {replyingTo !== undefined && (
        <div class="composer-reply" data-testid="composer-reply">
          <span class="composer-reply-text">
            Replying to <strong>{replyingTo.name}</strong>: {replyingTo.preview}
          </span>
          <button type="button" class="icon-button small" aria-label="Cancel reply" onClick={onCancelReply}>
            <svg viewBox="0 0 20 20" aria-hidden="true">
              <path d="M5 5l10 10M15 5L5 15" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
            </svg>
          </button>
        </div>
      )}
      {suggesting !== undefined && (
        <div id={listId} class="mention-suggestions" role="listbox" aria-label="People to mention" data-testid="mention-suggestions">
          {suggesting.candidates.map((candidate, index) => (
            // Focus stays in the text area (aria-activedescendant); tabIndex -1 only makes the option focusable for assistive tools.
            <div
              key={candidate.id}
              tabIndex={-1}
              id={`${listId}-${index}`}
              role="option"
              aria-selected={index === suggesting.active}
              class={index === suggesting.active ? 'mention-suggestion active' : 'mention-suggestion'}
              // mousedown, not click: the text area keeps its focus and caret.
              onMouseDown={(event) => {
                event.preventDefault();
                choose(candidate);
              }}
            >
              @{candidate.name}
              {candidate.id === ALL_MEMBERS ? <span class="muted"> everyone here</span> : candidate.name !== candidate.id && <span class="muted"> {candidate.id}</span>}
            </div>
          ))}
        </div>
      )}
      <textarea
        ref={input}
        class="composer-input"
        data-testid="composer-input"
        rows={1}
        placeholder="Write a message…"
        aria-label="Message"
        aria-autocomplete="list"
        aria-controls={suggesting === undefined ? undefined : listId}
        aria-activedescendant={suggesting === undefined ? undefined : `${listId}-${suggesting.active}`}
        value={text}
        onInput={(event) => {
          update(event.currentTarget.value);
          suggest(event.currentTarget.value, event.currentTarget.selectionStart ?? event.currentTarget.value.length);
          resize();
        }}
        onKeyDown={onKeyDown}
        onPaste={onPaste}
      />
      {voiceNote !== undefined && (
        <p class="composer-note error" data-testid="voice-note-error" role="status">
          {voiceNote}
        </p>
      )}
      {(tooLong || (parts?.length ?? 0) > 1) && (
        <p class={tooLong ? 'composer-note too-long' : 'composer-note'} data-testid="composer-note" role="status">
          {tooLong
            ? `Too long to send: at most ${MAX_TEXT_PARTS} messages of ${maxLength.toLocaleString('en')} characters (this is ${message.length.toLocaleString('en')}).`
            : `Long message: it will be sent as ${parts?.length} messages.`}
        </p>
      )}
      {VOICE_SUPPORTED && (
        <RecordButton
          onStarted={(started) => {
            setVoiceNote(undefined);
            setRecording(started);
          }}
          onFailed={setVoiceNote}
        />
      )}
      <button type="submit" class="send-button" data-testid="send-button" disabled={message === '' || tooLong} aria-label="Send">
        <svg viewBox="0 0 20 20" aria-hidden="true">
          <path d="M3 10l14-7-5 15-2.5-6L3 10z" fill="currentColor" />
        </svg>
      </button>
    </form>
  );
}
