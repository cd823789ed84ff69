/**
 * A stored message as JSON, the one form the REST API and the webhooks
 * share: binary data as base64, typed content as its JSON form, a system
 * event decoded.
 */
import type { StoredMessage } from '../services/model.js';
import { readSystemEvent } from '../services/system-events.js';
import { contentToJson } from './content-json.js';

export function messageJson(message: StoredMessage) {
  if (message.type === 'system') {
    const { id, conversationId, seq, senderId, clientMsgId, type, createdAt, visibleTo } = message;
    return { id, conversationId, seq, senderId, clientMsgId, type, createdAt, visibleTo, system: readSystemEvent(message.data) };
  }
  return {
    id: message.id,
    conversationId: message.conversationId,
    seq: message.seq,
    senderId: message.senderId,
    clientMsgId: message.clientMsgId,
    type: message.type,
    text: message.text,
    data: message.data === undefined ? undefined : Buffer.from(message.data).toString('base64'),
    visibleTo: message.visibleTo,
    createdAt: message.createdAt,
    content: message.content === undefined ? undefined : contentToJson(message.content),
    recalledAt: message.recalledAt,
    editedAt: message.editedAt,
  };
}
