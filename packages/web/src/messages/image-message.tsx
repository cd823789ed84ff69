/**
 * Photos. The bubble has the photo's shape at once, filled with the blurred
 * preview its ThumbHash encodes (a few bytes inside the message); the medium
 * size (about 1280 px, animated for GIFs) loads over it and fades in, so the
 * photo sharpens in place and the list never jumps. A click, or Enter on the
 * focused photo, opens the original in the viewer.
 */
import { useState } from 'preact/hooks';
import { MediaViewer } from '../components/media-viewer.js';
import { Caption, contentOf, fallbackLine, hasContent, mediaBox, useMediaUrl, useNearScreen, useThumbhashUrl } from './media-parts.js';
import type { MessageBodyProps, MessageKind } from './registry.js';

/** Photos of unknown shape (no size, no ThumbHash) get a landscape box. */
const DEFAULT_ASPECT = 4 / 3;

function ImageBody({ message }: MessageBodyProps) {
  const image = contentOf(message, 'image');
  const [frame, near] = useNearScreen<HTMLButtonElement>();
  const placeholder = useThumbhashUrl(image?.thumbhash);
  const medium = useMediaUrl(image?.media.mediaId, 'medium', near);
  const [loaded, setLoaded] = useState(false);
  const [broken, setBroken] = useState(false);
  const [viewing, setViewing] = useState(false);
  if (image === undefined) return null;

  const title = image.caption.trim() === '' ? 'Photo' : image.caption.trim();
  const failed = medium.failed || broken;
  const open = () => {
    if (!failed) {
      setViewing(true);
      return;
    }
    // A link that expired while the page stayed open, or a network blip: ask again.
    setBroken(false);
    medium.refresh();
  };
  return (
    <>
      <button
        ref={frame}
        type="button"
        class={`media-frame image-frame${loaded ? ' loaded' : ''}`}
        style={mediaBox(image.width, image.height, image.thumbhash, DEFAULT_ASPECT)}
        aria-label={failed ? 'The photo could not be loaded. Try again' : `Open photo: ${title}`}
        data-testid="image-open"
        data-loaded={loaded ? 'true' : 'false'}
        onClick={open}
      >
        {placeholder !== undefined && <img class="media-placeholder" src={placeholder} alt="" data-testid="image-placeholder" />}
        {medium.url !== undefined && !broken && (
          <img
            class="media-image"
            src={medium.url}
            alt={title}
            decoding="async"
            data-testid="image"
            onLoad={() => setLoaded(true)}
            onError={() => setBroken(true)}
          />
        )}
        {image.animated && <span class="media-badge">GIF</span>}
        {failed && <span class="media-error">Not loaded. Retry</span>}
      </button>
      <Caption text={image.caption} />
      {viewing && <MediaViewer media={image.media} width={image.width} height={image.height} title={title} previewUrl={loaded ? medium.url : placeholder} onClose={() => setViewing(false)} />}
    </>
  );
}

export const imageKind: MessageKind = {
  name: 'image',
  matches: (message) => hasContent(message, 'image'),
  layout: 'bubble',
  Body: ImageBody,
  preview: fallbackLine('📷 Photo'),
};
