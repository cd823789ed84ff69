/**
 * Typed message content shared by server and SDK: the kind names and the
 * fallback line a typed message carries in `text` (what a client shows when
 * it does not know the kind, and the conversation list's last message).
 */
import type { MessageContent } from './gen/parley.js';

export type ContentKind = NonNullable<MessageContent['kind']>['$case'];

/** The content kinds that name an upload, and so the upload kinds the server takes. */
export const MEDIA_KINDS = ['image', 'file', 'voice', 'video'] as const;
export type MediaKind = (typeof MEDIA_KINDS)[number];

/** Custom content type names: a letter, then up to 63 of a-z 0-9 . _ - ("shop.product_card"). */
export const CUSTOM_TYPE_PATTERN = /^[a-z][a-z0-9._-]{0,63}$/;

/** The kind of a content, or undefined for one this build does not know (a newer kind). */
export function contentKind(content: MessageContent | undefined): ContentKind | undefined {
  return content?.kind?.$case;
}

/**
 * The line that stands for a typed message where it cannot be rendered:
 * "📷 Photo", "📎 report.pdf", "🎤 Voice message (0:07)", "📍 Location".
 * A caption follows the label.
 */
export function fallbackText(content: MessageContent): string {
  const kind = content.kind;
  if (kind === undefined) return 'Message';
  switch (kind.$case) {
    case 'image':
      return withCaption(kind.value.animated ? '🎞️ GIF' : '📷 Photo', kind.value.caption);
    case 'file':
      return withCaption(`📎 ${kind.value.media?.fileName || 'File'}`, kind.value.caption);
    case 'voice':
      return `🎤 Voice message${kind.value.durationMs > 0 ? ` (${clockTime(kind.value.durationMs)})` : ''}`;
    case 'video':
      return withCaption(`🎬 Video${kind.value.durationMs > 0 ? ` (${clockTime(kind.value.durationMs)})` : ''}`, kind.value.caption);
    case 'location':
      return `📍 ${kind.value.name || 'Location'}`;
    case 'custom':
      return `[${kind.value.type}]`;
  }
}

function withCaption(label: string, caption: string): string {
  return caption === '' ? label : `${label}: ${caption}`;
}

/** 7000 → "0:07", 3_725_000 → "1:02:05". */
function clockTime(ms: number): string {
  const total = Math.round(ms / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}
