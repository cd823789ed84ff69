/**
 * How the chat shows conversations and messages as terminal lines:
 * `[@bob] alice: hi`, `[#Team] * alice added bob`. Text from the network is
 * stripped of control characters so that a message cannot move the cursor or
 * recolour the terminal.
 */
import { type ConversationSummary, type Message, describeSystemEvent } from '@parley/client';
import { formatBytes } from './bytes.js';

/** `@peer` or `@peer/subject` for a direct conversation, `#name` for a group. */
export function conversationLabel(summary: ConversationSummary | undefined, conversationId: string): string {
  if (summary === undefined) return conversationId;
  if (summary.kind === 'direct') {
    const peer = `@${summary.peerId ?? summary.name}`;
    return clean(summary.subject === undefined || summary.subject === '' ? peer : `${peer}/${summary.subject}`);
  }
  return clean(`#${summary.name}`);
}

/**
 * One message as `[label] sender: text`; system messages as `[label] * what
 * happened`, in the SDK's words, with the reader (`selfId`) as "you".
 */
export function formatMessage(message: Message, label: string, { withTime = false, selfId = '' } = {}): string {
  const time = withTime ? `${clock(message.createdAt)} ` : '';
  if (message.type === 'system') return `${time}[${label}] * ${clean(describeSystemEvent(message.system, { selfId }))}`;
  return `${time}[${label}] ${message.senderId}: ${indentContinuation(describeContent(message))}`;
}

function describeContent(message: Message): string {
  const details = mediaDetails(message);
  if (details !== '') return `${clean(message.text ?? '')} ${details}`;
  const bytes = message.data === undefined ? '' : `<${message.data.byteLength} bytes of data>`;
  if (message.text === undefined) return bytes;
  const text = clean(message.text);
  return bytes === '' ? text : `${text} ${bytes}`;
}

/** What a typed message carries beyond its fallback line: `[640×480, 120 KB]`, `[52.52, 13.405]`, `{"sku":"A-1"}`. */
function mediaDetails(message: Message): string {
  const content = message.content;
  switch (content?.type) {
    case 'image':
    case 'video':
      return `[${content.width}×${content.height}, ${formatBytes(content.media.size)}]`;
    case 'file':
    case 'voice':
      return `[${formatBytes(content.media.size)}, ${clean(content.media.mimeType)}]`;
    case 'location':
      return `[${content.latitude}, ${content.longitude}]`;
    case 'custom':
      return clean(JSON.stringify(content.data));
    default:
      return '';
  }
}

/** HH:MM in local time. */
function clock(epochMs: number): string {
  const date = new Date(epochMs);
  return `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
}

/** Keeps newlines and tabs, replaces every other control character (ESC included) with U+FFFD. */
export function clean(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\ufffd');
}

/** Continuation lines of a multi-line message are indented under its first line. */
function indentContinuation(text: string): string {
  return text.replace(/\r?\n/g, '\n    ');
}
