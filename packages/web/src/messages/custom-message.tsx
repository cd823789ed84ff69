/**
 * Application-defined messages (content type 'custom': an order, a poll, a
 * red packet...) that this app has no dedicated view for: a card naming the
 * type, with the data as a compact list of keys and values. A kind for one
 * custom type goes before this one in the registry and matches on
 * `content.customType`.
 */
import { contentOf, fallbackLine, hasContent } from './media-parts.js';
import type { MessageBodyProps, MessageKind } from './registry.js';

/** Fields shown; the rest are counted. */
const MAX_FIELDS = 8;
/** Characters of one value shown. */
const MAX_VALUE_CHARS = 80;

/** One line for any JSON value: strings as they are, the rest as JSON, shortened. */
export function compactValue(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (value === undefined) text = '';
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  text = text.replace(/\s+/gu, ' ').trim();
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
}

function CustomBody({ message }: MessageBodyProps) {
  const custom = contentOf(message, 'custom');
  if (custom === undefined) return null;
  const fields = Object.entries(custom.data);
  const shown = fields.slice(0, MAX_FIELDS);
  const fallback = message.text?.trim() ?? '';
  return (
    <div class="custom-card" data-testid="custom-card" data-custom-type={custom.customType}>
      <div class="custom-type">{custom.customType}</div>
      {shown.length > 0 && (
        <dl class="custom-fields">
          {shown.map(([key, value]) => (
            <div key={key} class="custom-field">
              <dt>{key}</dt>
              <dd>{compactValue(value)}</dd>
            </div>
          ))}
        </dl>
      )}
      {fields.length > shown.length && <div class="custom-more">and {fields.length - shown.length} more</div>}
      {/* The sender's own fallback line says what this is ("Update the app to open this red packet"); the server's only repeats the type. */}
      {fallback !== '' && fallback !== `[${custom.customType}]` && <div class="custom-fallback">{fallback}</div>}
    </div>
  );
}

export const customKind: MessageKind = {
  name: 'custom',
  matches: (message) => hasContent(message, 'custom'),
  layout: 'bubble',
  Body: CustomBody,
  preview: fallbackLine('Message'),
};
