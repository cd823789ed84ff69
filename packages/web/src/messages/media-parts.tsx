/**
 * What the media message kinds share: their typed content, signed URLs
 * asked for once a message comes near the screen, ThumbHash placeholders,
 * the box a photo or video takes in its bubble, and captions.
 */
import type { Content, MediaSize, Message } from '@parley/client';
import type { RefObject } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { thumbHashToApproximateAspectRatio, thumbHashToDataURL } from 'thumbhash';
import { useChatStore } from '../chat/use-chat.js';
import { LinkedText } from './text-message.js';

export type ContentOf<T extends Content['type']> = Extract<Content, { type: T }>;

/** The message's content when it is of `type`. */
export function contentOf<T extends Content['type']>(message: Message, type: T): ContentOf<T> | undefined {
  const content = message.content;
  return content?.type === type ? (content as ContentOf<T>) : undefined;
}

/** A user message whose content is of `type`. */
export function hasContent(message: Message, type: Content['type']): boolean {
  return message.type === 'user' && message.content?.type === type;
}

/**
 * The conversation list's line: the server's fallback text ("📷 Photo", "📎
 * report.pdf"), which every client shows alike; `otherwise` only if a
 * message came without one.
 */
export function fallbackLine(otherwise: string): (message: Message) => string {
  return (message) => {
    const text = message.text?.replace(/\s+/gu, ' ').trim() ?? '';
    return text === '' ? otherwise : text;
  };
}

/** Media starts loading this far before it scrolls into view, so that it is there when it arrives. */
const NEAR_SCREEN_MARGIN = '800px 0px';

/**
 * Becomes true once the element comes near the visible part of the message
 * list, and stays true: a long history does not ask for the URLs of photos
 * nobody scrolls to.
 */
export function useNearScreen<T extends Element>(): [RefObject<T | null>, boolean] {
  const ref = useRef<T>(null);
  const [near, setNear] = useState(false);
  useEffect(() => {
    const element = ref.current;
    if (near || element === null) return;
    if (typeof IntersectionObserver === 'undefined') {
      setNear(true);
      return;
    }
    // The list scrolls inside its own box: margins only widen that box when it is the root.
    const root = element.closest('.message-scroller');
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) {
          setNear(true);
          observer.disconnect();
        }
      },
      { root, rootMargin: NEAR_SCREEN_MARGIN },
    );
    observer.observe(element);
    return () => observer.disconnect();
  }, [near]);
  return [ref, near];
}

export interface MediaUrl {
  /** Signed and short-lived: good for a tag's src or a link now, not to keep. */
  url: string | undefined;
  /** The URL could not be had (offline, the media is gone). */
  failed: boolean;
  /** Asks again: the same URL while it is fresh, a new one near its expiry or after a failure. */
  refresh(): void;
}

/** A URL for one size of a media item, asked for while `wanted`. */
export function useMediaUrl(mediaId: string | undefined, size: MediaSize, wanted = true): MediaUrl {
  const store = useChatStore();
  const [url, setUrl] = useState<string | undefined>();
  const [failed, setFailed] = useState(false);
  const [attempt, setAttempt] = useState(0);
  // `attempt` is how refresh() asks again.
  useEffect(() => {
    if (!wanted || mediaId === undefined || mediaId === '') return;
    let current = true;
    store.mediaUrl(mediaId, size).then(
      (fresh) => {
        if (!current) return;
        setUrl(fresh);
        setFailed(false);
      },
      () => {
        if (current) setFailed(true);
      },
    );
    return () => {
      current = false;
    };
  }, [store, mediaId, size, wanted, attempt]);
  const refresh = useCallback(() => setAttempt((count) => count + 1), []);
  return { url, failed, refresh };
}

/** The blurred preview a ThumbHash encodes, as a data: URL (the page allows data: images). */
export function useThumbhashUrl(thumbhash: Uint8Array | undefined): string | undefined {
  return useMemo(() => {
    if (thumbhash === undefined || thumbhash.length < 5) return undefined;
    try {
      return thumbHashToDataURL(thumbhash);
    } catch {
      // A malformed hash only costs the placeholder.
      return undefined;
    }
  }, [thumbhash]);
}

/** The largest box a photo or video takes in a bubble, in CSS pixels. */
const MAX_MEDIA_WIDTH = 300;
const MAX_MEDIA_HEIGHT = 340;
const MIN_MEDIA_WIDTH = 140;
/** Panoramas and tall screenshots are cropped to these ratios rather than shown as slivers. */
const MIN_ASPECT = 0.45;
const MAX_ASPECT = 2.6;

/**
 * The box for a photo or video of this size, known before any byte of it
 * arrives (from the message, else from its ThumbHash, else `fallbackAspect`),
 * so that the list never jumps when the media loads.
 */
export function mediaBox(width: number, height: number, thumbhash: Uint8Array, fallbackAspect: number): { width: string; aspectRatio: string } {
  let aspect = fallbackAspect;
  if (width > 0 && height > 0) aspect = width / height;
  else if (thumbhash.length >= 5) aspect = thumbHashToApproximateAspectRatio(thumbhash);
  aspect = Math.min(MAX_ASPECT, Math.max(MIN_ASPECT, aspect));
  const boxWidth = Math.max(MIN_MEDIA_WIDTH, Math.min(MAX_MEDIA_WIDTH, MAX_MEDIA_HEIGHT * aspect));
  return { width: `${Math.round(boxWidth)}px`, aspectRatio: String(aspect) };
}

/** The caption under a photo, video or file, with its links clickable; nothing when empty. */
export function Caption({ text }: { text: string }) {
  if (text.trim() === '') return null;
  return (
    <div class="message-text media-caption" data-testid="media-caption">
      <LinkedText text={text} />
    </div>
  );
}
