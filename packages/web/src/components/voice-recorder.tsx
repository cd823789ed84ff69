/**
 * The voice note controls of the composer: the microphone button that starts
 * a recording (a toggle: press once to record, then send or cancel), and the
 * bar shown while recording, with the time, a level meter, Cancel and Send.
 * Escape cancels. The recording itself is voice-recording.ts.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { formatDuration } from '../format.js';
import { type RecordedVoice, type VoiceRecording, startVoiceRecording } from '../voice-recording.js';

/** A note is sent by itself once this long: the server's voice limit leaves room for far more, listeners do not. */
const MAX_VOICE_MS = 15 * 60_000;
/** Shorter is a slip of the finger, not a message. */
const MIN_VOICE_MS = 700;
const TICK_MS = 100;

export function MicrophoneIcon() {
  return (
    <svg viewBox="0 0 20 20" aria-hidden="true">
      <rect x="7" y="2.5" width="6" height="10" rx="3" fill="none" stroke="currentColor" stroke-width="1.7" />
      <path d="M4.5 9.5a5.5 5.5 0 0 0 11 0M10 15v2.5" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" />
    </svg>
  );
}

/** Human text for a microphone that could not be started. */
export function describeMicrophoneError(error: unknown): string {
  const name = error instanceof DOMException ? error.name : '';
  if (name === 'NotAllowedError' || name === 'SecurityError') return 'Microphone access was refused. Allow it in the browser to record.';
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'No microphone was found.';
  return 'The microphone could not be started.';
}

interface RecordButtonProps {
  onStarted(recording: VoiceRecording): void;
  onFailed(reason: string): void;
}

export function RecordButton({ onStarted, onFailed }: RecordButtonProps) {
  const [starting, setStarting] = useState(false);
  return (
    <button
      type="button"
      class="icon-button composer-tool"
      aria-label="Record a voice message"
      title="Record a voice message"
      data-testid="record-button"
      disabled={starting}
      onClick={() => {
        setStarting(true);
        startVoiceRecording().then(
          (recording) => {
            setStarting(false);
            onStarted(recording);
          },
          (error: unknown) => {
            setStarting(false);
            onFailed(describeMicrophoneError(error));
          },
        );
      }}
    >
      <MicrophoneIcon />
    </button>
  );
}

interface RecordingBarProps {
  recording: VoiceRecording;
  onSend(voice: RecordedVoice): void;
  /** Also when the note was too short to keep, with why. */
  onDone(note?: string): void;
}

export function RecordingBar({ recording, onSend, onDone }: RecordingBarProps) {
  const [elapsedMs, setElapsedMs] = useState(0);
  const meter = useRef<HTMLSpanElement>(null);
  const finished = useRef(false);
  const sendButton = useRef<HTMLButtonElement>(null);

  const cancel = () => {
    if (finished.current) return;
    finished.current = true;
    recording.cancel();
    onDone();
  };
  const send = () => {
    if (finished.current) return;
    finished.current = true;
    recording.stop().then(
      (voice) => {
        if (voice.durationMs < MIN_VOICE_MS || voice.audio.size === 0) {
          onDone('Too short to send: record a little longer.');
          return;
        }
        onDone();
        onSend(voice);
      },
      () => onDone('The recording failed.'),
    );
  };
  const latest = useRef({ send, cancel });
  latest.current = { send, cancel };

  useEffect(() => {
    sendButton.current?.focus();
    const timer = setInterval(() => {
      const elapsed = recording.elapsedMs();
      setElapsedMs(elapsed);
      // Set directly: the meter moves ten times a second and needs no re-render.
      meter.current?.style.setProperty('--level', recording.level().toFixed(2));
      if (elapsed >= MAX_VOICE_MS) latest.current.send();
    }, TICK_MS);
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') latest.current.cancel();
    };
    document.addEventListener('keydown', onKey);
    return () => {
      clearInterval(timer);
      document.removeEventListener('keydown', onKey);
      // Leaving the conversation mid-recording drops the note and frees the microphone.
      if (!finished.current) recording.cancel();
    };
  }, [recording]);

  return (
    // biome-ignore lint/a11y/useSemanticElements: a fieldset is for form controls; this groups the recording's time and its two buttons
    <div class="recording-bar" data-testid="recording-bar" role="group" aria-label="Recording a voice message">
      <button type="button" class="icon-button" aria-label="Cancel recording" title="Cancel (Esc)" data-testid="recording-cancel" onClick={cancel}>
        <svg viewBox="0 0 20 20" aria-hidden="true">
          <path d="M4.5 6h11M8 6V4.5h4V6M6 6l.8 10h6.4L14 6" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" stroke-linejoin="round" />
        </svg>
      </button>
      <span class="recording-dot" aria-hidden="true" />
      <span class="recording-time" role="timer">
        {formatDuration(Math.floor(elapsedMs / 1000) * 1000)}
      </span>
      <span class="recording-meter" ref={meter} aria-hidden="true">
        <span />
      </span>
      <button ref={sendButton} type="button" class="send-button" aria-label="Send voice message" data-testid="recording-send" onClick={send}>
        <svg viewBox="0 0 20 20" aria-hidden="true">
          <path d="M3 10l14-7-5 15-2.5-6L3 10z" fill="currentColor" />
        </svg>
      </button>
    </div>
  );
}
