/**
 * Plain text messages. The text is rendered as JSX text nodes (escaped by
 * Preact), with line breaks kept by CSS and http(s) links made clickable.
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

function TextBody({ message }: MessageBodyProps) {
  const parts = splitLinks(message.text ?? '');
  return (
    <div class="message-text" data-testid="message-text">
      {parts.map((part, index) =>
        part.href === undefined ? (
          part.text
        ) : (
          <a key={index} href={part.href} target="_blank" rel="noopener noreferrer nofollow">
            {part.text}
          </a>
        ),
      )}
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
