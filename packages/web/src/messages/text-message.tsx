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

/** The "@Name" tokens of the people a message mentions (names as this app knows them), and "@all". */
function mentionTokens(message: MessageBodyProps['message'], names: ReadonlyMap<string, string>): string[] {
  const tokens = (message.mentions ?? []).map((id) => `@${names.get(id) ?? id}`);
  if (message.mentionAll === true) tokens.push('@all');
  return tokens;
}

/** Text with mentions marked, links clickable, the rest as text nodes. */
function MentionedText({ text, tokens }: { text: string; tokens: readonly string[] }) {
  if (tokens.length === 0) return <LinkedText text={text} />;
  const pattern = new RegExp(`(${tokens.map((token) => token.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&')).join('|')})`, 'gu');
  return (
    <>
      {text.split(pattern).map((piece, index) =>
        tokens.includes(piece) ? (
          <mark key={index} class="mention" data-testid="mention">
            {piece}
          </mark>
        ) : (
          <LinkedText key={index} text={piece} />
        ),
      )}
    </>
  );
}

function TextBody({ message, context }: MessageBodyProps) {
  return (
    <div class="message-text" data-testid="message-text">
      <MentionedText text={message.text ?? ''} tokens={mentionTokens(message, context.names)} />
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
