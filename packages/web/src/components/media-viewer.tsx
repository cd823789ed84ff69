/**
 * The full-size photo viewer: a modal <dialog> over the whole page showing
 * the original, with the already loaded medium size (or the blurred
 * placeholder) underneath until it arrives. Escape, the close button or a
 * click anywhere outside the bar closes it; focus returns to the photo that
 * opened it. Rendered into <body>, outside the message list.
 */
import type { MediaRef } from '@parley/client';
import { createPortal } from 'preact/compat';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useMediaUrl } from '../messages/media-parts.js';

interface MediaViewerProps {
  media: MediaRef;
  /** The original's size in pixels (0 when unknown): it is shown up to that size, never blown up beyond it. */
  width: number;
  height: number;
  /** What the photo is: its caption, or "Photo". */
  title: string;
  /** Shown until the original loads. */
  previewUrl: string | undefined;
  onClose(): void;
}

export function MediaViewer({ media, width, height, title, previewUrl, onClose }: MediaViewerProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const closeButton = useRef<HTMLButtonElement>(null);
  const original = useMediaUrl(media.mediaId, 'original');
  const [loaded, setLoaded] = useState(false);

  useEffect(() => {
    const element = dialog.current;
    if (element !== null && !element.open) element.showModal();
    closeButton.current?.focus();
  }, []);

  const close = () => dialog.current?.close();
  return createPortal(
    // biome-ignore lint/a11y/useKeyWithClickEvents: the click closes from anywhere; the keyboard closes a dialog with Escape natively
    <dialog ref={dialog} class="media-viewer" aria-label={title} data-testid="media-viewer" onClose={onClose} onClick={close}>
      {/* biome-ignore lint/a11y/noStaticElementInteractions: the bar only keeps its clicks (download) from closing the viewer */}
      {/* biome-ignore lint/a11y/useKeyWithClickEvents: as above */}
      <div class="media-viewer-bar" onClick={(event) => event.stopPropagation()}>
        <span class="media-viewer-title">{title}</span>
        {original.url !== undefined && (
          <a class="icon-button" href={original.url} download={media.fileName === '' ? true : media.fileName} title="Download">
            <svg viewBox="0 0 20 20" aria-hidden="true">
              <path d="M10 3.5v9M6 9l4 4 4-4M4.5 16h11" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" />
            </svg>
            <span class="visually-hidden">Download</span>
          </a>
        )}
        <button ref={closeButton} type="button" class="icon-button" aria-label="Close" title="Close (Esc)" onClick={close} data-testid="media-viewer-close">
          <svg viewBox="0 0 20 20" aria-hidden="true">
            <path d="M5 5l10 10M15 5L5 15" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
          </svg>
        </button>
      </div>
      <div class="media-viewer-stage" style={width > 0 && height > 0 ? { '--natural-width': `${width}px`, '--natural-height': `${height}px` } : undefined}>
        {previewUrl !== undefined && !loaded && <img class="media-viewer-preview" src={previewUrl} alt="" />}
        {original.url !== undefined && (
          <img class={`media-viewer-image${loaded ? ' loaded' : ''}`} src={original.url} alt={title} onLoad={() => setLoaded(true)} data-testid="media-viewer-image" />
        )}
        {original.failed && <p class="media-viewer-error">The photo could not be loaded.</p>}
      </div>
    </dialog>,
    document.body,
  );
}
