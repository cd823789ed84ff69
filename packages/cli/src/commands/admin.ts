/**
 * The admin commands (`parley user`, `parley token`, `parley group`): one REST
 * call each against a running server, a one-line result on stdout. `token`
 * prints nothing but the token so that `$(parley token alice)` works.
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
