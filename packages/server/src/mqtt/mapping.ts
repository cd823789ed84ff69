/**
 * How MQTT topics and payloads map to Parley conversations and messages
 * (docs/mqtt.md). Pure functions: no sockets, no broker.
 *
 * - `conversations/<conversationId>`: publish to send, subscribe to receive.
 * - `conversations/<conversationId>/<clientMsgId>`: publish only; the device
 *   names the message's idempotency key itself, so a repeat is stored once
 *   whenever and wherever it arrives.
 */
import { ParleyError, type SignalEvent, isValidClientMsgId } from '@parley/protocol';
import type { ServerLimits } from '../config.js';
import type { StoredMessage } from '../services/model.js';

export const TOPIC_PREFIX = 'conversations/';

/** A conversation id as a topic level: printable ASCII, at most 80, none of the MQTT separators and wildcards `/ + #`. */
const TOPIC_CONVERSATION_ID = /^[\x21-\x22\x24-\x2a\x2c-\x2e\x30-\x7e]{1,80}$/;

export interface PublishTarget {
  conversationId: string;
  /** Given by the device in the topic's last level; otherwise the listener derives one. */
  clientMsgId?: string;
}

/** What a device's publish becomes: text when the payload is UTF-8 within the text limit, else bytes. */
export type PublishContent = { text: string; data?: undefined } | { data: Uint8Array; text?: undefined };

/** The topic a conversation's messages are published on. */
export function conversationTopic(conversationId: string): string {
  return TOPIC_PREFIX + conversationId;
}

/** The conversation a subscription names, or undefined: only `conversations/<id>`, no wildcards. */
export function subscribedConversation(topicFilter: string): string | undefined {
  if (!topicFilter.startsWith(TOPIC_PREFIX)) return undefined;
  const conversationId = topicFilter.slice(TOPIC_PREFIX.length);
  return TOPIC_CONVERSATION_ID.test(conversationId) ? conversationId : undefined;
}

/** The conversation (and, when given, the clientMsgId) a publish goes to; INVALID_ARGUMENT for any other topic. */
export function publishTarget(topic: string): PublishTarget {
  if (topic.startsWith(TOPIC_PREFIX)) {
    const [conversationId, clientMsgId, ...rest] = topic.slice(TOPIC_PREFIX.length).split('/');
    if (conversationId !== undefined && TOPIC_CONVERSATION_ID.test(conversationId) && rest.length === 0) {
      if (clientMsgId === undefined) return { conversationId };
      if (isValidClientMsgId(clientMsgId)) return { conversationId, clientMsgId };
    }
  }
  throw new ParleyError('INVALID_ARGUMENT', 'publish to conversations/<conversationId> or conversations/<conversationId>/<clientMsgId>');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A payload as message content: valid UTF-8 of at most maxTextChars becomes
 * `text`, anything else `data` (at most maxDataBytes: TOO_LARGE beyond).
 * An empty payload is INVALID_ARGUMENT, as a message without content is.
 */
export function publishContent(payload: Uint8Array, limits: Pick<ServerLimits, 'maxTextChars' | 'maxDataBytes'>): PublishContent {
  if (payload.length === 0) throw new ParleyError('INVALID_ARGUMENT', 'an empty payload is not a message');
  // A UTF-8 character takes at least one byte and at most one UTF-16 unit per byte.
  if (payload.length <= limits.maxTextChars * 3) {
    const text = decodeUtf8(payload);
    if (text !== undefined && text.length <= limits.maxTextChars) return { text };
  }
  if (payload.length > limits.maxDataBytes) {
    throw new ParleyError('TOO_LARGE', `a payload is at most ${limits.maxTextChars} characters of UTF-8 text or ${limits.maxDataBytes} bytes`);
  }
  return { data: payload };
}

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** A stored message as a device receives it: JSON, `data` in base64. */
export function messagePayload(message: StoredMessage): Buffer {
  return Buffer.from(
    JSON.stringify({
      conversationId: message.conversationId,
      seq: message.seq,
      id: message.id,
      senderId: message.senderId,
      createdAt: message.createdAt,
      text: message.text,
      data: message.data === undefined ? undefined : Buffer.from(message.data).toString('base64'),
    }),
  );
}

/** The seq a delivered payload carries (messagePayload), for matching a device's acknowledgement. */
export function payloadSeq(payload: Uint8Array): number | undefined {
  try {
    const seq: unknown = JSON.parse(Buffer.from(payload).toString('utf8')).seq;
    return typeof seq === 'number' ? seq : undefined;
  } catch {
    return undefined;
  }
}

/** A device's QoS 0 publish, as a signal's type (docs/mqtt.md). */
export const MQTT_SIGNAL_TYPE = 'mqtt';

/**
 * A signal as subscribers receive it: never stored, so no seq and no id;
 * its data as `text` when it is UTF-8, else as `data` in base64.
 */
export function signalPayload(signal: Pick<SignalEvent, 'conversationId' | 'senderId' | 'type' | 'data' | 'key' | 'toUserId'>): Buffer {
  const text = decodeUtf8(signal.data);
  return Buffer.from(
    JSON.stringify({
      conversationId: signal.conversationId,
      senderId: signal.senderId,
      signal: true,
      type: signal.type,
      key: signal.key === '' ? undefined : signal.key,
      toUserId: signal.toUserId === '' ? undefined : signal.toUserId,
      text,
      data: text === undefined ? Buffer.from(signal.data).toString('base64') : undefined,
    }),
  );
}
