/**
 * The admin commands (`parley user`, `parley token`, `parley group`, `parley
 * room`): one REST call each against a running server, a one-line result on
 * stdout (`room show` prints one line per field). `token` prints nothing but
 * the token so that `$(parley token alice)` works.
 */
import { parseArgs } from 'node:util';
import { type Command, UsageError, parseInteger, parseList } from '../command.js';
import { PASSWORD_LENGTH } from '@parley/protocol';
import { readNewPassword } from '../password-prompt.js';
import { SERVER_OPTIONS, SERVER_OPTIONS_USAGE, adminClient } from '../server-settings.js';

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

export const userCommand: Command = {
  name: 'user',
  summary: 'create or rename a user, set a password (parley user add <id> [--name N] [--password])',
  usage: `Usage:
  parley user add <id> [--name NAME] [--password] [server options]
  parley user password <id> [server options]

add       creates the user <id>, or renames it if it exists. NAME defaults to
          the id. With --password, also sets a password, so that the user can
          sign in to the web app.
password  sets (or replaces) the password <id> signs in to the web app with.

The password is asked twice at a terminal, without echo; when stdin is not
a terminal, its first line is the password (echo "$PW" | parley user password
alice). Passwords have ${PASSWORD_LENGTH.min}-${PASSWORD_LENGTH.max} characters.
Ids are 1-64 characters of A-Z a-z 0-9 _ . @ -

${SERVER_OPTIONS_USAGE}`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...SERVER_OPTIONS, ...HELP, name: { type: 'string' }, password: { type: 'boolean' } },
      allowPositionals: true,
    });
    const [action, id, ...extra] = positionals;
    if (action !== 'add' && action !== 'password') {
      throw new UsageError(action === undefined ? 'missing action: parley user add <id>, or parley user password <id>' : `unknown action "user ${action}"`);
    }
    if (id === undefined) throw new UsageError(`missing user id: parley user ${action} <id>`);
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}" (one user per command)`);
    if (action === 'password' && values.name !== undefined) throw new UsageError('--name goes with parley user add');
    const admin = adminClient(values);
    if (action === 'password') {
      // Checked first: nobody should type a password twice for a user that does not exist.
      await admin.getUser(id);
      await admin.setPassword(id, await readNewPassword(id));
      out(`password set for ${id}: sign in to the web app as ${id}`);
      return 0;
    }
    // Asked before anything is created, so that a cancelled prompt leaves no user behind.
    const password = values.password === true ? await readNewPassword(id) : undefined;
    const user = await admin.putUser(id, values.name);
    if (password !== undefined) await admin.setPassword(id, password);
    const what = `${user.created ? 'created' : 'updated'} user ${user.id}${user.name === user.id ? '' : ` (${user.name})`}`;
    out(password === undefined ? what : `${what}, with a password for the web app`);
    return 0;
  },
};

export const tokenCommand: Command = {
  name: 'token',
  summary: 'mint an access token for a user (prints only the token)',
  usage: `Usage: parley token <userId> [--ttl SECONDS] [server options]

Prints a new access token (a JWT) for <userId> and nothing else, so that
  export TOKEN=$(parley token alice)
works. --ttl defaults to the server's token lifetime (24 h).

${SERVER_OPTIONS_USAGE}`,
  async run(args) {
    const { values, positionals } = parseArgs({ args, options: { ...SERVER_OPTIONS, ...HELP, ttl: { type: 'string' } }, allowPositionals: true });
    const [userId, ...extra] = positionals;
    if (userId === undefined) throw new UsageError('missing user id: parley token <userId>');
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    const ttlSeconds = values.ttl === undefined ? undefined : parseInteger(values.ttl, '--ttl', { min: 1, max: 31_536_000 });
    const { token } = await adminClient(values).mintToken(userId, ttlSeconds);
    out(token);
    return 0;
  },
};

export const groupCommand: Command = {
  name: 'group',
  summary: 'create a group, add or remove members',
  usage: `Usage:
  parley group create --name NAME --owner USER [--id GROUP] [--members a,b,c]
  parley group add <groupId> <userId>...
  parley group remove <groupId> <userId>

create  makes USER the owner of a new group; --id defaults to a generated id
        (printed), --members are the other members.
add     adds members (users already in the group are left alone).
remove  removes one member; the owner cannot be removed.

${SERVER_OPTIONS_USAGE}`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...SERVER_OPTIONS, ...HELP, name: { type: 'string' }, owner: { type: 'string' }, id: { type: 'string' }, members: { type: 'string' } },
      allowPositionals: true,
    });
    const [action, ...rest] = positionals;
    switch (action) {
      case 'create': {
        if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}" (members go in --members a,b,c)`);
        if (values.name === undefined) throw new UsageError('missing --name');
        if (values.owner === undefined) throw new UsageError('missing --owner');
        const group = await adminClient(values).createGroup({
          id: values.id,
          name: values.name,
          ownerId: values.owner,
          memberIds: values.members === undefined ? [] : parseList(values.members),
        });
        out(`created group ${group.id} ("${group.name}", owner ${group.ownerId}, ${group.memberCount} member${group.memberCount === 1 ? '' : 's'})`);
        return 0;
      }
      case 'add': {
        const [groupId, ...userIds] = rest;
        if (groupId === undefined || userIds.length === 0) throw new UsageError('usage: parley group add <groupId> <userId>...');
        const added = await adminClient(values).addMembers(groupId, userIds);
        out(added.length === 0 ? `nobody added: already members of ${groupId}` : `added ${added.join(', ')} to ${groupId}`);
        return 0;
      }
      case 'remove': {
        const [groupId, userId, ...extra] = rest;
        if (groupId === undefined || userId === undefined || extra.length > 0) throw new UsageError('usage: parley group remove <groupId> <userId>');
        const removed = await adminClient(values).removeMember(groupId, userId);
        out(removed.length === 0 ? `${userId} was not a member of ${groupId}` : `removed ${userId} from ${groupId}`);
        return 0;
      }
      case undefined:
        throw new UsageError('missing action: create, add or remove');
      default:
        throw new UsageError(`unknown action "group ${action}"`);
    }
  },
};

const DEFAULT_MUTE_SECONDS = 600;
/** The server's bound on a mute. */
const MAX_MUTE_SECONDS = 30 * 24 * 3600;

export const roomCommand: Command = {
  name: 'room',
  summary: 'open, show, moderate and close live rooms; post gifts',
  usage: `Usage:
  parley room create --name NAME --host USER [--id ROOM]
  parley room show <roomId>
  parley room admin <roomId> <userId>
  parley room unadmin <roomId> <userId>
  parley room mute <roomId> <userId> [--seconds N]
  parley room close <roomId>
  parley room gift <roomId> --from USER --gift NAME [--value N]

A live room is watched by whoever joins it (in parley chat: /live <roomId>).
Its host and admins post reliable messages; viewers send chat lines and likes.

create   opens a room hosted by USER; --id defaults to a generated id (printed).
show     the room's name, host, admins, viewers online (on this server),
         whether it is closed, and the seq of its newest reliable message.
admin    makes a user an admin: may post to the room, mute viewers and close it.
unadmin  makes an admin a plain viewer again.
mute     refuses a viewer's chat lines and likes for N seconds (default
         ${DEFAULT_MUTE_SECONDS}, at most ${MAX_MUTE_SECONDS}); --seconds 0 lifts the mute.
close    ends the live for every viewer; afterwards posting to the room and
         moderating it answer ROOM_CLOSED (show still shows it).
gift     posts a gift from USER, as a backend does once it is paid for: a
         reliable message every viewer sees, of kind live.gift with
         {gift: NAME, value: N} (--value defaults to 1).

${SERVER_OPTIONS_USAGE}`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        ...SERVER_OPTIONS,
        ...HELP,
        name: { type: 'string' },
        host: { type: 'string' },
        id: { type: 'string' },
        seconds: { type: 'string' },
        from: { type: 'string' },
        gift: { type: 'string' },
        value: { type: 'string' },
      },
      allowPositionals: true,
    });
    const [action, ...rest] = positionals;
    switch (action) {
      case 'create': {
        if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}" (the id goes in --id)`);
        if (values.name === undefined) throw new UsageError('missing --name');
        if (values.host === undefined) throw new UsageError('missing --host');
        const room = await adminClient(values).createRoom({ id: values.id, name: values.name, hostId: values.host });
        out(`created room ${room.id} ("${room.name}", host ${room.hostId})`);
        return 0;
      }
      case 'show': {
        const roomId = onlyRoom(rest, 'show');
        const room = await adminClient(values).getRoom(roomId);
        out(
          [
            `room      ${room.id} ("${room.name}")`,
            `host      ${room.hostId}`,
            `admins    ${room.adminIds.length === 0 ? 'none' : room.adminIds.join(', ')}`,
            `online    ${room.online}`,
            `state     ${room.closed ? 'closed' : 'live'}`,
            `last seq  ${room.lastSeq}`,
            `created   ${new Date(room.createdAt).toISOString()}`,
          ].join('\n'),
        );
        return 0;
      }
      case 'admin':
      case 'unadmin': {
        const [roomId, userId] = roomAndUser(rest, action);
        await adminClient(values).setRoomAdmin(roomId, userId, action === 'admin');
        out(action === 'admin' ? `${userId} is now an admin of ${roomId}` : `${userId} is no longer an admin of ${roomId}`);
        return 0;
      }
      case 'mute': {
        const [roomId, userId] = roomAndUser(rest, 'mute');
        const seconds = values.seconds === undefined ? DEFAULT_MUTE_SECONDS : parseInteger(values.seconds, '--seconds', { max: MAX_MUTE_SECONDS });
        await adminClient(values).muteViewer(roomId, userId, seconds);
        out(seconds === 0 ? `lifted the mute on ${userId} in ${roomId}` : `muted ${userId} in ${roomId} for ${formatSeconds(seconds)}`);
        return 0;
      }
      case 'close': {
        const roomId = onlyRoom(rest, 'close');
        await adminClient(values).closeRoom(roomId);
        out(`closed room ${roomId}: the live ended for every viewer`);
        return 0;
      }
      case 'gift': {
        const roomId = onlyRoom(rest, 'gift');
        if (values.from === undefined) throw new UsageError('missing --from (who sends the gift)');
        if (values.gift === undefined || values.gift.trim() === '') throw new UsageError('missing --gift (what is sent, e.g. --gift "a rose")');
        const gift = values.gift.trim();
        const value = values.value === undefined ? 1 : parseInteger(values.value, '--value');
        const message = await adminClient(values).postMessage(roomId, {
          senderId: values.from,
          content: { type: 'custom', customType: 'live.gift', data: { gift, value } },
        });
        out(`${message.senderId} sent ${gift} (${value}) to ${roomId}, seq ${message.seq}`);
        return 0;
      }
      case undefined:
        throw new UsageError('missing action: create, show, admin, unadmin, mute, close or gift');
      default:
        throw new UsageError(`unknown action "room ${action}"`);
    }
  },
};

function onlyRoom(rest: string[], action: string): string {
  const [roomId, ...extra] = rest;
  if (roomId === undefined || extra.length > 0) throw new UsageError(`usage: parley room ${action} <roomId>`);
  return roomId;
}

function roomAndUser(rest: string[], action: string): [string, string] {
  const [roomId, userId, ...extra] = rest;
  if (roomId === undefined || userId === undefined || extra.length > 0) throw new UsageError(`usage: parley room ${action} <roomId> <userId>`);
  return [roomId, userId];
}

/** 45 → "45 s", 600 → "10 min", 5400 → "90 min", 7200 → "2 h", 172800 → "2 days". */
function formatSeconds(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400} day${seconds === 86_400 ? '' : 's'}`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

export const webhooksCommand: Command = {
  name: 'webhooks',
  summary: 'show the webhook dispatcher, or list webhook events from any point',
  usage: `Usage:
  parley webhooks status [server options]
  parley webhooks events [--after CURSOR] [--limit N] [server options]

status   where the server posts events, whether the node that answered is the
         one dispatching, events delivered and failures since it started, and
         the latest error.
events   the webhook events after CURSOR (from an event, or the "next" line of
         a previous listing; none: from the start), one line each:
         cursor, type, conversation, seq, sender, text. At most N messages
         are read (default 100, at most 1000); the last line says where to
         go on from.

${SERVER_OPTIONS_USAGE}`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...SERVER_OPTIONS, ...HELP, after: { type: 'string' }, limit: { type: 'string' } },
      allowPositionals: true,
    });
    const [action, ...extra] = positionals;
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    const admin = adminClient(values);
    if (action === 'status') {
      if (values.after !== undefined || values.limit !== undefined) throw new UsageError('--after and --limit go with parley webhooks events');
      const status = await admin.webhookStatus();
      if (!status.configured) {
        out('webhooks: not configured (PARLEY_WEBHOOK_URL)');
        return 0;
      }
      out(`webhooks: ${status.url}`);
      out(`dispatching here: ${status.dispatching ? 'yes' : 'no (another node holds the feed cursor)'}`);
      out(`delivered: ${status.delivered ?? 0}, failed attempts: ${status.failures ?? 0}`);
      if (status.failingSince !== undefined) out(`failing since ${new Date(status.failingSince).toISOString()}: ${status.lastError ?? ''}`);
      else if (status.lastError !== undefined) out(`last error: ${status.lastError}`);
      return 0;
    }
    if (action === 'events') {
      const limit = values.limit === undefined ? 100 : parseInteger(values.limit, '--limit', { min: 1, max: 1000 });
      const page = await admin.webhookEvents(values.after, limit);
      for (const event of page.events) {
        out([event.cursor, event.type, event.conversationId, `#${event.message.seq}`, event.message.senderId, event.message.text ?? ''].join('  ').trimEnd());
      }
      out(`next: ${page.next}`);
      return 0;
    }
    throw new UsageError(action === undefined ? 'missing action: parley webhooks status, or parley webhooks events' : `unknown action "webhooks ${action}"`);
  },
};
