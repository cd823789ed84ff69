/**
 * How the chat shows conversations and messages as terminal lines:
 * `[@bob] alice: hi`, `[#Team] * alice added bob`, and a live room's cards
 * (`[▶Spring sale] 🎁 sam sent a rose (520)`) and chatter (`sam: hello`).
 * Text from the network is stripped of control characters so that a message
 * cannot move the cursor or recolour the terminal.
 */
import { type ConversationSummary, type Message, type RoomEvent, type SearchHit, describeSystemEvent } from '@parley/client';
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

/** `▶name` for a live room (its id while the name is unknown). */
export function roomLabel(name: string, roomId: string): string {
  return clean(`▶${name === '' ? roomId : name}`);
}

/**
 * One message as `[label] sender: text`; system messages as `[label] * what
 * happened`, in the SDK's words, with the reader (`selfId`) as "you".
 */
export function formatMessage(message: Message, label: string, { withTime = false, selfId = '' } = {}): string {
  const time = withTime ? `${clock(message.createdAt)} ` : '';
  if (message.type === 'system') return `${time}[${label}] * ${clean(describeSystemEvent(message.system, { selfId }))}`;
  // A reply in a thread is marked as one: it is not in the conversation's flow.
  const thread = message.threadRoot === undefined ? '' : '↳ ';
  return `${time}[${label}] ${thread}${message.senderId}: ${indentContinuation(describeContent(message))}`;
}

/**
 * A live room's reliable message as a card: gifts, product cards and red
 * packets summarised (`🎁 sam sent a rose (520)`, `🛒 Tea set — 29.00`),
 * anything else (announcements, other kinds, the end of the live) as formatMessage has it.
 */
export function formatRoomCard(message: Message, label: string, options: { withTime?: boolean; selfId?: string } = {}): string {
  const summary = cardSummary(message);
  if (summary === undefined) return formatMessage(message, label, options);
  return `${options.withTime === true ? `${clock(message.createdAt)} ` : ''}[${label}] ${summary}`;
}

/** The application kinds a live room's cards know (the web app shows the same ones). */
function cardSummary(message: Message): string | undefined {
  const content = message.content;
  if (content?.type !== 'custom') return undefined;
  const data = content.data;
  // The data comes from other people's clients and backends: a field of an unexpected type shows the generic line.
  switch (content.customType) {
    case 'live.gift':
      if (typeof data.gift === 'string' && isAmount(data.value)) return `🎁 ${message.senderId} sent ${oneLine(data.gift)} (${amountText(data.value, AMOUNT_FORMAT)})`;
      return undefined;
    case 'shop.product_card':
      if (typeof data.title === 'string' && isAmount(data.price)) return `🛒 ${oneLine(data.title)} — ${amountText(data.price, PRICE_FORMAT)}`;
      return undefined;
    case 'live.red_packet': {
      if (!isAmount(data.amount)) return undefined;
      const note = typeof data.note === 'string' && data.note.trim() !== '' ? `: ${oneLine(data.note)}` : '';
      return `🧧 ${message.senderId} sent a red packet (${amountText(data.amount, AMOUNT_FORMAT)})${note}`;
    }
    default:
      return undefined;
  }
}

/** A live room's chat line, compact: `sam: hello`. */
export function formatChatLine(senderId: string, text: string): string {
  return `${senderId}: ${oneLine(text)}`;
}

/** An application's ephemeral room event: `sam · game.move (12 B)`. */
export function formatCustomRoomEvent(event: RoomEvent): string {
  const size = event.data === undefined || event.data.byteLength === 0 ? '' : ` (${formatBytes(event.data.byteLength)})`;
  return `${event.senderId} · ${clean(event.customType ?? '')}${size}`;
}

/** Counts as people read them: 1,204. */
export function formatCount(count: number): string {
  return COUNT_FORMAT.format(count);
}

const COUNT_FORMAT = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
/** Gift values and red packet amounts: "1,520", "8.88". */
const AMOUNT_FORMAT = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
/** Prices: "29.00", "19.90". */
const PRICE_FORMAT = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

function isAmount(value: unknown): value is number | string {
  return (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && value.trim() !== '');
}

/** A number in the reader's locale; a string (a price with its currency, say) as it is. */
function amountText(value: number | string, format: Intl.NumberFormat): string {
  return typeof value === 'string' ? oneLine(value) : format.format(value);
}

/** Text for a line of its own: runs of white space (newlines too) as one space, control characters replaced. */
function oneLine(text: string): string {
  return clean(text.replace(/\s+/g, ' ').trim());
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

/** How a search hit's matched words stand out: bold on a terminal, *stars* in a pipe. */
export interface Emphasis {
  open: string;
  close: string;
}

export const TERMINAL_EMPHASIS: Emphasis = { open: '\u001b[1m', close: '\u001b[22m' };
export const PLAIN_EMPHASIS: Emphasis = { open: '*', close: '*' };

/** A search hit as `HH:MM [label] sender: …snippet…`, the matches emphasised (the snippet is cleaned first, the emphasis added after). */
export function formatSearchHit(hit: SearchHit, label: string, emphasis: Emphasis): string {
  let text = '';
  let at = 0;
  for (const range of hit.highlights) {
    text += clean(hit.snippet.slice(at, range.start)) + emphasis.open + clean(hit.snippet.slice(range.start, range.end)) + emphasis.close;
    at = range.end;
  }
  text += clean(hit.snippet.slice(at));
  return `${clock(hit.message.createdAt)} [${label}] ${hit.message.senderId}: ${text}`;
}

/** HH:MM in local time. */
export function clock(epochMs: number): string {
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
