/**
 * Videos. The bubble shows the poster the sender attached (or the blurred
 * ThumbHash preview, or a plain frame) in the video's shape, with its length
 * and a play button; nothing of the video itself loads until the user asks
 * for it. Then a <video> plays from the same signed URL the SDK prefetched
 * the first seconds from, so the browser's cache can start it at once.
 */
import { useState } from 'preact/hooks';
import { formatDuration } from '../format.js';
import { Caption, contentOf, fallbackLine, hasContent, mediaBox, useMediaUrl, useNearScreen, useThumbhashUrl } from './media-parts.js';
import type { MessageBodyProps, MessageKind } from './registry.js';

const DEFAULT_ASPECT = 16 / 9;

function VideoBody({ message }: MessageBodyProps) {
  const video = contentOf(message, 'video');
  const [frame, near] = useNearScreen<HTMLDivElement>();
  const placeholder = useThumbhashUrl(video?.thumbhash);
  const poster = useMediaUrl(video?.posterMediaId, 'medium', near);
  const [started, setStarted] = useState(false);
  const source = useMediaUrl(video?.media.mediaId, 'original', started);
  if (video === undefined) return null;

  const title = video.caption.trim() === '' ? 'Video' : video.caption.trim();
  const length = video.durationMs > 0 ? formatDuration(video.durationMs) : undefined;
  const playing = started && source.url !== undefined;
  return (
    <>
      <div ref={frame} class="media-frame video-frame" style={mediaBox(video.width, video.height, video.thumbhash, DEFAULT_ASPECT)} data-testid="video-frame">
        {playing ? (
          // biome-ignore lint/a11y/useMediaCaption: people's own clips come without caption tracks
          <video
            class="media-video"
            src={source.url}
            poster={poster.url}
            controls
            preload="metadata"
            autoPlay
            playsInline
            aria-label={title}
            data-testid="video"
          />
        ) : (
          <button
            type="button"
            class="video-start"
            aria-label={`Play video${length === undefined ? '' : ` (${length})`}: ${title}`}
            data-testid="video-play"
            onClick={() => {
              if (source.failed) source.refresh();
              setStarted(true);
            }}
          >
            {placeholder !== undefined && <img class="media-placeholder" src={placeholder} alt="" />}
            {poster.url !== undefined && <img class="media-image poster" src={poster.url} alt="" decoding="async" />}
            <span class="play-badge" aria-hidden="true">
              {started && !source.failed ? (
                <span class="spinner" />
              ) : (
                <svg viewBox="0 0 20 20" aria-hidden="true">
                  <path d="M7 4.5v11l9-5.5-9-5.5z" fill="currentColor" />
                </svg>
              )}
            </span>
            {length !== undefined && <span class="media-duration">{length}</span>}
            {source.failed && <span class="media-error">Not loaded. Retry</span>}
          </button>
        )}
      </div>
      <Caption text={video.caption} />
    </>
  );
}

export const videoKind: MessageKind = {
  name: 'video',
  matches: (message) => hasContent(message, 'video'),
  layout: 'bubble',
  Body: VideoBody,
  preview: fallbackLine('🎬 Video'),
};
