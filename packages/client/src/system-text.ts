/**
 * One sentence for a system event, the same in every Parley client: "Alice
 * added Bob", "You were added to Team". An event made through the admin API
 * may have no actor (`actorId` ''): it is then told in the passive voice
 * rather than credited to somebody who did not do it. The viewer is "you".
 */
import type { Role, SystemEvent } from './types.js';

export interface SystemTextOptions {
  /** The user reading: named "you". */
  selfId?: string;
  /** Display name for a user id; the id itself by default. */
  nameOf?: (userId: string) => string;
  /** The conversation's name, for "You were added to Team"; left out when absent. */
  conversationName?: string;
}

export function describeSystemEvent(event: SystemEvent | undefined, options: SystemTextOptions = {}): string {
  if (event === undefined) return 'Conversation updated';
  const nameOf = options.nameOf ?? ((userId: string) => userId);
  const isSelf = (userId: string) => userId !== '' && userId === options.selfId;
  const subject = (userId: string) => (isSelf(userId) ? 'You' : nameOf(userId));
  const object = (userId: string) => (isSelf(userId) ? 'you' : nameOf(userId));
  /** "You and Bob", "Bob, Carol and Dan": the viewer first, as a subject. */
  const subjects = (userIds: readonly string[]) => {
    const ordered = [...userIds.filter(isSelf), ...userIds.filter((userId) => !isSelf(userId))];
    return joinNames(ordered.map((userId, index) => (index === 0 ? subject(userId) : object(userId))));
  };
  const plural = (userIds: readonly string[]) => userIds.length > 1 || userIds.some(isSelf);
  const actor = event.actorId === '' ? undefined : subject(event.actorId);
  const quoted = (name: string) => `“${name}”`;
  const into = options.conversationName ? ` to ${options.conversationName}` : '';

  switch (event.type) {
    case 'group_created':
      if (actor === undefined) return `The group${event.name ? ` ${quoted(event.name)}` : ''} was created`;
      return `${actor} created the group${event.name ? ` ${quoted(event.name)}` : ''}`;
    case 'members_added':
      if (actor === undefined) return `${subjects(event.userIds)} ${plural(event.userIds) ? 'were' : 'was'} added${into}`;
      return `${actor} added ${joinNames(event.userIds.map(object))}`;
    case 'member_removed':
      if (actor === undefined) return `${subject(event.userId)} ${isSelf(event.userId) ? 'were' : 'was'} removed`;
      return `${actor} removed ${object(event.userId)}`;
    case 'member_left':
      return `${subject(event.userId)} left`;
    case 'renamed':
      if (actor === undefined) return `The group was renamed to ${quoted(event.name)}`;
      return `${actor} renamed the group to ${quoted(event.name)}`;
    case 'role_changed':
      if (actor === undefined) return `${subject(event.userId)} ${isSelf(event.userId) ? 'are' : 'is'} now ${roleName(event.role)}`;
      return `${actor} made ${object(event.userId)} ${roleName(event.role)}`;
    case 'room_closed':
      return actor === undefined ? 'The live ended' : `${actor} ended the live`;
    // Amendments are applied to the message they change rather than shown; these are for logs and other clients.
    case 'message_recalled':
      return `${actor ?? 'Someone'} recalled a message`;
    case 'message_edited':
      return `${actor ?? 'Someone'} edited a message`;
    case 'message_hidden':
      return `${actor ?? 'Someone'} deleted a message for themselves`;
    default:
      return 'Conversation updated';
  }
}

function roleName(role: Role): string {
  return role === 'admin' ? 'an admin' : role === 'owner' ? 'the owner' : 'a member';
}

function joinNames(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? 'nobody';
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}
