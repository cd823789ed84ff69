/**
 * A recalled message: its content is gone for everyone, so it shows as a
 * centred line in its place ("Ann recalled a message"), and so does the
 * conversation list when it was the last message.
 */
import type { Message } from '@parley/client';
import { nameOf } from '../format.js';
import type { MessageBodyProps, MessageContext, MessageKind } from './registry.js';

function describeRecall(message: Message, context: MessageContext): string {
  return message.senderId === context.selfId ? 'You recalled a message' : `${nameOf(context.names, message.senderId)} recalled a message`;
}

function RecalledBody({ message, context }: MessageBodyProps) {
  return <span class="message-recalled">{describeRecall(message, context)}</span>;
}

export const recalledKind: MessageKind = {
  name: 'recalled',
  matches: (message) => message.recalledAt !== undefined,
  layout: 'event',
  Body: RecalledBody,
  preview: describeRecall,
};
