/**
 * Plain text messages. The text is rendered as JSX text nodes (escaped by
 * Preact), with line breaks kept by CSS and http(s) links made clickable.
 * Also the fallback for typed messages of a kind this app does not know
 * (content type 'unknown'): their text is the server's fallback line.
 */
import type { MessageBodyProps, MessageKind } from './registry.js';

const LINK = /\bhttps?:\/\/[^\s<>"'`]+/giu;
/** Punctuation that usually ends a sentence rather than a link. */
const TRAILING = /[.,;:!?)\]}'"]+$/u;

type Part = { text: string; href?: string };

export function splitLinks(text: string): Part[] {
  const parts: Part[] = [];
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    const start = match.index ?? 0;
    const href = match[0].replace(TRAILING, '');
    if (start > last) parts.push({ text: text.slice(last, start) });
    parts.push({ text: href, href });
    last = start + href.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

/** Text with its http(s) links clickable; the rest as text nodes. */
export function LinkedText({ text }: { text: string }) {
  return (
    <>
      {splitLinks(text).map((part, index) =>
        part.href === undefined ? (
          part.text
        ) : (
          <a key={index} href={part.href} target="_blank" rel="noopener noreferrer nofollow">
            {part.text}
          </a>
        ),
      )}
    </>
  );
}

function TextBody({ message }: MessageBodyProps) {
  return (
    <div class="message-text" data-testid="message-text">
      <LinkedText text={message.text ?? ''} />
    </div>
  );
}

export const textKind: MessageKind = {
  name: 'text',
  matches: (message) => message.type === 'user' && message.text !== undefined && message.text !== '',
  layout: 'bubble',
  Body: TextBody,
  preview: (message) => (message.text ?? '').replace(/\s+/gu, ' ').trim(),
};
