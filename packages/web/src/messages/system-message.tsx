/**
 * Membership and naming events ("Alice added Bob", "You were added"), shown
 * as a centred line. The wording is the SDK's, shared with every client;
 * this module supplies the names the app knows.
 */
import { type Message, describeSystemEvent as describeEvent } from '@parley/client';
import { nameOf } from '../format.js';
import type { MessageBodyProps, MessageContext, MessageKind } from './registry.js';

export function describeSystemEvent(message: Message, context: MessageContext): string {
  return describeEvent(message.system, {
    selfId: context.selfId,
    nameOf: (userId) => nameOf(context.names, userId),
    conversationName: context.conversationName,
  });
}

function SystemBody({ message, context }: MessageBodyProps) {
  return <span>{describeSystemEvent(message, context)}</span>;
}

export const systemKind: MessageKind = {
  name: 'system',
  matches: (message) => message.type === 'system',
  layout: 'event',
  Body: SystemBody,
  preview: describeSystemEvent,
};
