/**
 * Files: a card with the file's type, name and size that downloads it under
 * its name. The link is a signed URL that expires after some minutes, so it
 * is asked for again (from the SDK's cache while still fresh) whenever the
 * pointer or the focus comes to the card, before the click that uses it.
 */
import { formatBytes } from '../format.js';
import { Caption, contentOf, fallbackLine, hasContent, useMediaUrl, useNearScreen } from './media-parts.js';
import type { MessageBodyProps, MessageKind } from './registry.js';

/** "PDF" for report.pdf; '' when the name has no short extension. */
export function extensionOf(fileName: string): string {
  const match = /\.([a-z0-9]{1,5})$/iu.exec(fileName);
  return match?.[1]?.toUpperCase() ?? '';
}

function FileBody({ message }: MessageBodyProps) {
  const file = contentOf(message, 'file');
  const [card, near] = useNearScreen<HTMLAnchorElement>();
  const link = useMediaUrl(file?.media.mediaId, 'original', near);
  if (file === undefined) return null;

  const name = file.media.fileName === '' ? 'File' : file.media.fileName;
  const extension = extensionOf(name);
  const size = formatBytes(file.media.size);
  return (
    <>
      <a
        ref={card}
        class="file-card"
        href={link.url}
        download={name}
        aria-label={`Download ${name}, ${size}`}
        aria-disabled={link.url === undefined ? 'true' : undefined}
        data-testid="file-download"
        onPointerEnter={link.refresh}
        onFocus={link.refresh}
      >
        <span class="file-icon" aria-hidden="true">
          <svg viewBox="0 0 24 24" aria-hidden="true">
            <path d="M6 2.5h8l5 5v14H6z" fill="currentColor" opacity="0.18" />
            <path d="M6 2.5h8l5 5v14H6zM14 2.5v5h5" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linejoin="round" />
          </svg>
          {extension !== '' && <span class="file-extension">{extension}</span>}
        </span>
        <span class="file-info">
          <span class="file-name" data-testid="file-name">
            {name}
          </span>
          <span class="file-size">
            {size}
            {link.failed && ' · not available now'}
          </span>
        </span>
        <span class="file-action" aria-hidden="true">
          <svg viewBox="0 0 20 20" aria-hidden="true">
            <path d="M10 3.5v9M6 9l4 4 4-4M4.5 16h11" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" />
          </svg>
        </span>
      </a>
      <Caption text={file.caption} />
    </>
  );
}

export const fileKind: MessageKind = {
  name: 'file',
  matches: (message) => hasContent(message, 'file'),
  layout: 'bubble',
  Body: FileBody,
  preview: fallbackLine('📎 File'),
};
