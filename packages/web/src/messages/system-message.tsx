/** Membership and naming events ("Alice added Bob"), shown as a centred line. */
import type { Message } from '@parley/client';
import { nameOf } from '../format.js';
import type { MessageBodyProps, MessageContext, MessageKind } from './registry.js';

function who(userId: string, context: MessageContext): string {
  return userId === context.selfId ? 'You' : nameOf(context.names, userId);
}

function list(userIds: readonly string[], context: MessageContext): string {
  const names = userIds.map((userId) => (userId === context.selfId ? 'you' : nameOf(context.names, userId)));
  if (names.length <= 1) return names[0] ?? 'nobody';
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

export function describeSystemEvent(message: Message, context: MessageContext): string {
  const event = message.system;
  if (event === undefined) return 'Conversation updated';
  // An empty actor is the integrator's backend (REST API).
  const actor = event.actorId === '' ? 'An administrator' : who(event.actorId, context);
  switch (event.type) {
    case 'group_created':
      return `${actor} created the group${event.name ? ` “${event.name}”` : ''}`;
    case 'members_added':
      return `${actor} added ${list(event.userIds, context)}`;
    case 'member_removed':
      return `${actor} removed ${list([event.userId], context)}`;
    case 'member_left':
      return `${who(event.userId, context)} left`;
    case 'renamed':
      return `${actor} renamed the group to “${event.name}”`;
    case 'role_changed':
      return `${actor} made ${list([event.userId], context)} ${event.role === 'admin' ? 'an admin' : event.role === 'owner' ? 'the owner' : 'a member'}`;
  }
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
