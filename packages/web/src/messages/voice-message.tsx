/**
 * Voice notes: the browser's own audio player, with the recorded length
 * beside it (recordings from a MediaRecorder often carry no duration the
 * player could show). The audio's URL is asked for once the note comes near
 * the screen, and only its metadata loads until it is played.
 */
import { formatDuration } from '../format.js';
import { contentOf, fallbackLine, hasContent, useMediaUrl, useNearScreen } from './media-parts.js';
import type { MessageBodyProps, MessageKind } from './registry.js';

function VoiceBody({ message }: MessageBodyProps) {
  const voice = contentOf(message, 'voice');
  const [box, near] = useNearScreen<HTMLDivElement>();
  const source = useMediaUrl(voice?.media.mediaId, 'original', near);
  if (voice === undefined) return null;

  const length = voice.durationMs > 0 ? formatDuration(voice.durationMs) : undefined;
  return (
    <div ref={box} class="voice-note" data-testid="voice-note">
      <span class="voice-icon" aria-hidden="true">
        <svg viewBox="0 0 20 20" aria-hidden="true">
          <rect x="7" y="2.5" width="6" height="10" rx="3" fill="currentColor" />
          <path d="M4.5 9.5a5.5 5.5 0 0 0 11 0M10 15v2.5" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" />
        </svg>
      </span>
      {source.url !== undefined ? (
        // biome-ignore lint/a11y/useMediaCaption: recorded voice notes come without caption tracks
        <audio class="voice-player" src={source.url} controls preload="metadata" aria-label={`Voice message${length === undefined ? '' : `, ${length}`}`} data-testid="voice-audio" />
      ) : source.failed ? (
        <button type="button" class="link-button" onClick={source.refresh}>
          Not loaded. Retry
        </button>
      ) : (
        <span class="voice-player voice-loading" />
      )}
      {length !== undefined && (
        <span class="voice-duration" data-testid="voice-duration">
          {length}
        </span>
      )}
    </div>
  );
}

export const voiceKind: MessageKind = {
  name: 'voice',
  matches: (message) => hasContent(message, 'voice'),
  layout: 'bubble',
  Body: VoiceBody,
  preview: fallbackLine('🎤 Voice message'),
};
