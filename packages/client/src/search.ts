/**
 * Message search (docs/search.md): the messages the user may read that hold
 * every word of a query, newest first, a page at a time, each with a snippet
 * and where the words matched in it. Over the server's HTTP API with the
 * user's token, like the push settings.
 */
import type { RestApi } from './http.js';
import type { Content, Message } from './types.js';

export interface MessageSearchOptions {
  /** Only this conversation; default: every conversation the user is or was in. */
  conversationId?: string;
  /** The previous page's `nextCursor`; default: the newest matches. */
  cursor?: string;
  /** Hits per page, 1-50; default 20. */
  limit?: number;
}

/** A part of a snippet, in UTF-16 code units (JavaScript string offsets); `end` exclusive. */
export interface TextRange {
  start: number;
  end: number;
}

export interface SearchHit {
  conversationId: string;
  message: Message;
  /** Up to about 160 characters of the message around the first match; "…" where it was cut. Plain text. */
  snippet: string;
  /** Where the query's words are in `snippet`, ascending: `snippet.slice(start, end)` is one to emphasise. */
  highlights: TextRange[];
}

export interface SearchPage {
  /** Newest first. */
  hits: SearchHit[];
  /** Pass as `cursor` for the next (older) page; undefined when there is none. */
  nextCursor: string | undefined;
}

interface MessageJson {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
  clientMsgId: string;
  type: 'user' | 'system';
  text?: string;
  data?: string;
  visibleTo?: string;
  createdAt: number;
  content?: Record<string, unknown> & { type: string };
}

interface SearchJson {
  hits: Array<{ conversationId: string; message: MessageJson; snippet: string; highlights: TextRange[] }>;
  nextCursor: string | null;
}

export class MessageSearch {
  constructor(private readonly rest: RestApi) {}

  /**
   * One page of the messages holding every word of `query` (ignoring case
   * and accents; the last word may be the start of a word). Refused with
   * INVALID_ARGUMENT for an empty or too long query (128 characters) or a
   * cursor from elsewhere, RATE_LIMITED (with retryAfterMs) when searching
   * too often.
   */
  async messages(query: string, options: MessageSearchOptions = {}): Promise<SearchPage> {
    const parameters = new URLSearchParams({ q: query });
    if (options.conversationId !== undefined) parameters.set('conversation_id', options.conversationId);
    if (options.cursor !== undefined) parameters.set('cursor', options.cursor);
    if (options.limit !== undefined) parameters.set('limit', String(options.limit));
    const body = (await this.rest.call<SearchJson>('GET', `/search/messages?${parameters}`)) as SearchJson;
    return {
      hits: body.hits.map((hit) => ({ conversationId: hit.conversationId, message: messageFromJson(hit.message), snippet: hit.snippet, highlights: hit.highlights })),
      nextCursor: body.nextCursor ?? undefined,
    };
  }
}

function messageFromJson(json: MessageJson): Message {
  const message: Message = {
    id: json.id,
    conversationId: json.conversationId,
    seq: json.seq,
    senderId: json.senderId,
    clientMsgId: json.clientMsgId,
    type: json.type,
    createdAt: json.createdAt,
  };
  if (json.text !== undefined) message.text = json.text;
  if (json.data !== undefined) message.data = base64ToBytes(json.data);
  if (json.visibleTo !== undefined) message.visibleTo = json.visibleTo;
  if (json.content !== undefined) message.content = contentFromJson(json.content);
  return message;
}

/** The REST API's content JSON has the SDK's shape, bytes as base64. */
function contentFromJson(json: Record<string, unknown> & { type: string }): Content {
  switch (json.type) {
    case 'image':
    case 'video':
      return { ...json, thumbhash: base64ToBytes(String(json.thumbhash ?? '')) } as Content;
    case 'voice':
      return { ...json, waveform: base64ToBytes(String(json.waveform ?? '')) } as Content;
    case 'file':
    case 'location':
    case 'custom':
      return json as Content;
    default:
      return { type: 'unknown' };
  }
}

function base64ToBytes(value: string): Uint8Array {
  const binary = atob(value);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}
