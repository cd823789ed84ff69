/**
 * The built `parley` executable, end to end: a real `parley start` on free
 * ports, admin commands against it, two `parley chat` processes talking
 * over real pipes, and a `parley chat` watching a live room beside SDK
 * viewers. Needs `npm run build` (or `npx tsc -b packages/cli`) first.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ParleyClient, type RoomEvent } from '@parley/client';
import { type CliProcess, cliSpawner, runCli } from './support/cli-process.js';

describe('parley CLI', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-cli-test-'));
  const processes = cliSpawner();
  const spawnCli = processes.spawn;
  let server: CliProcess;
  let httpUrl = '';
  /** Where the admin commands find the server and its generated key, as a user would set them. */
  let adminEnv: NodeJS.ProcessEnv = {};

  before(async () => {
    server = spawnCli(['start', '--port', '0', '--tcp-port', '0', '--data-dir', dataDir, '--log-level', 'warn'], { PARLEY_ADMIN_KEY: '' });
    httpUrl = (await server.waitFor(/HTTP\s+(http:\/\/\S+)/))[1] ?? '';
    await server.waitFor(/Try it/);
    adminEnv = { PARLEY_SERVER: httpUrl, PARLEY_DATA_DIR: dataDir, PARLEY_ADMIN_KEY: '' };
  });

  after(() => {
    processes.killAll();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('start on port 0 prints the bound URLs and the generated admin key with its location', async () => {
    const port = new URL(httpUrl).port;
    assert.notEqual(port, '0');
    assert.match(server.stdout, new RegExp(`WebSocket\\s+ws://127\\.0\\.0\\.1:${port}/ws`));
    assert.match(server.stdout, /TCP\s+tcp:\/\/127\.0\.0\.1:[1-9]\d*/);
    const storedKey = readFileSync(join(dataDir, 'admin-key'), 'utf8').trim();
    assert.ok(server.stdout.includes(`Admin key  ${storedKey}`), server.stdout);
    assert.ok(server.stdout.includes(join(dataDir, 'admin-key')));
    const health = await fetch(`${httpUrl}/healthz`);
    assert.equal(health.status, 200);
  });

  test('user add creates a user, and renames it when run again', async () => {
    const created = await runCli(['user', 'add', 'alice', '--name', 'Alice'], adminEnv);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, 'created user alice (Alice)\n');
    const renamed = await runCli(['user', 'add', 'alice', '--name', 'Alice A.'], adminEnv);
    assert.equal(renamed.stdout, 'updated user alice (Alice A.)\n');
    for (const id of ['bob', 'carol']) assert.equal((await runCli(['user', 'add', id], adminEnv)).code, 0);
  });

  test('admin commands take the server and key from flags as well as the environment', async () => {
    const result = await runCli(['user', 'add', 'dave', '--server', httpUrl, '--data-dir', dataDir], { PARLEY_SERVER: '', PARLEY_DATA_DIR: '', PARLEY_ADMIN_KEY: '' });
    assert.equal(result.code, 0, result.stderr);
    const key = readFileSync(join(dataDir, 'admin-key'), 'utf8').trim();
    const withKey = await runCli(['user', 'add', 'erin', '--server', httpUrl, '--admin-key', key], { PARLEY_DATA_DIR: join(dataDir, 'nowhere') });
    assert.equal(withKey.code, 0, withKey.stderr);
  });

  test('token prints only the token, so $(parley token alice) works', async () => {
    const result = await runCli(['token', 'alice', '--ttl', '600'], adminEnv);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  });

  test('a failing command prints the server error name and message and exits non-zero', async () => {
    const unknownUser = await runCli(['token', 'nobody'], adminEnv);
    assert.equal(unknownUser.code, 1);
    assert.equal(unknownUser.stdout, '');
    assert.match(unknownUser.stderr, /NOT_FOUND: .*nobody/);

    const wrongKey = await runCli(['user', 'add', 'mallory', '--admin-key', 'wrong'], adminEnv);
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.stderr, /UNAUTHENTICATED/);

    const noKey = await runCli(['token', 'alice'], { PARLEY_SERVER: httpUrl, PARLEY_DATA_DIR: join(dataDir, 'nowhere'), PARLEY_ADMIN_KEY: '' });
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /no admin key/);

    const badOption = await runCli(['user', 'add', 'x', '--colour', 'red'], adminEnv);
    assert.equal(badOption.code, 2);
    assert.match(badOption.stderr, /--colour/);
  });

  test('group create, add and remove', async () => {
    const created = await runCli(['group', 'create', '--name', 'Team', '--owner', 'alice', '--id', 'team', '--members', 'bob'], adminEnv);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, 'created group team ("Team", owner alice, 2 members)\n');

    const again = await runCli(['group', 'create', '--name', 'Team', '--owner', 'alice', '--id', 'team'], adminEnv);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /CONFLICT/);

    const generated = await runCli(['group', 'create', '--name', 'Ad hoc', '--owner', 'bob'], adminEnv);
    assert.match(generated.stdout, /^created group \S+ \("Ad hoc", owner bob, 1 member\)\n$/);

    const added = await runCli(['group', 'add', 'team', 'carol', 'bob'], adminEnv);
    assert.equal(added.stdout, 'added carol to team\n');
    const removed = await runCli(['group', 'remove', 'team', 'carol'], adminEnv);
    assert.equal(removed.stdout, 'removed carol from team\n');
    const owner = await runCli(['group', 'remove', 'team', 'alice'], adminEnv);
    assert.equal(owner.code, 1);
    assert.match(owner.stderr, /FORBIDDEN/);
  });

  test('two chat processes exchange messages over pipes', async () => {
    const bobToken = (await runCli(['token', 'bob'], adminEnv)).stdout.trim();
    const bob = spawnCli(['chat', '--token', bobToken, '--url', new URL('/ws', httpUrl.replace(/^http/, 'ws')).href]);
    await bob.waitFor(/connected as bob/);
    const alice = spawnCli(['chat', '--user', 'alice'], adminEnv);
    await alice.waitFor(/connected as alice/);

    alice.write('/dm bob\nhello bob, this is alice\n');
    await bob.waitFor(/\[@alice\] alice: hello bob, this is alice/);

    bob.write('/dm alice\nhi alice\n');
    await alice.waitFor(/\[@bob\] bob: hi alice/);

    // Bob read alice's message by switching to the conversation; alice is looking at it too.
    bob.write('/list\n');
    await bob.waitFor(/> @alice\s+read/);

    // Settings are bob's own, on all his devices: /list shows them.
    bob.write('/mute 2\n/pin\n');
    await bob.waitFor(/\* @alice pinned/);
    bob.write('/list\n');
    await bob.waitFor(/> @alice\s+read\s+pinned\s+muted/);
    bob.write('/unmute\n/unpin\n');
    await bob.waitFor(/\* @alice unpinned/);

    // Search finds the message in any conversation, the matched word emphasised (stars in a pipe).
    bob.write('/search HELLO this\n');
    await bob.waitFor(/\[@alice\] alice: \*hello\* bob, \*this\* is alice/);

    // Edit, react, recall: the others see each change.
    bob.write('/edit hi alice!\n');
    await alice.waitFor(/\[@bob\] \* bob edited message \d+: hi alice!/);
    alice.write('/react 👍\n');
    await bob.waitFor(/\[@alice\] \* alice reacted 👍 to message \d+/);
    alice.write('/thread in a thread\n');
    await bob.waitFor(/\[@alice\] ↳ alice: in a thread/);
    bob.write('/recall\n');
    await alice.waitFor(/\[@bob\] \* bob recalled message \d+/);

    alice.write('/quit\n');
    bob.write('/quit\n');
    assert.equal(await alice.exitCode(), 0);
    assert.equal(await bob.exitCode(), 0);
  });

  test('/send uploads a file and the other side sees a readable line', async () => {
    const report = join(dataDir, 'quarterly report.pdf');
    writeFileSync(report, Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(40_000, 7)]));
    for (const user of ['carol', 'dave']) assert.equal((await runCli(['user', 'add', user], adminEnv)).code, 0);
    const carol = spawnCli(['chat', '--user', 'carol'], adminEnv);
    await carol.waitFor(/connected as carol/);
    const dave = spawnCli(['chat', '--user', 'dave'], adminEnv);
    await dave.waitFor(/connected as dave/);
    carol.write(`/dm dave\n/send ${report}\n`);
    await dave.waitFor(/\[@carol\] carol: 📎 quarterly report\.pdf \[39 KB, application\/pdf\]/);
    carol.write('/send /no/such/file.png\n');
    await carol.waitFor(/! not sent to @dave \(\/no\/such\/file\.png\): .*cannot read/);
    carol.write('/quit\n');
    dave.write('/quit\n');
    assert.equal(await carol.exitCode(), 0);
    assert.equal(await dave.exitCode(), 0);
  });

  test('room create, show, admin, mute, gift and close; a closed room answers ROOM_CLOSED', async () => {
    const created = await runCli(['room', 'create', '--name', 'Spring sale', '--host', 'alice', '--id', 'spring'], adminEnv);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, 'created room spring ("Spring sale", host alice)\n');
    const generated = await runCli(['room', 'create', '--name', 'Ad hoc live', '--host', 'bob'], adminEnv);
    assert.match(generated.stdout, /^created room \S+ \("Ad hoc live", host bob\)\n$/);

    assert.equal((await runCli(['room', 'admin', 'spring', 'bob'], adminEnv)).stdout, 'bob is now an admin of spring\n');
    assert.equal((await runCli(['room', 'mute', 'spring', 'carol'], adminEnv)).stdout, 'muted carol in spring for 10 min\n');
    assert.equal((await runCli(['room', 'mute', 'spring', 'carol', '--seconds', '0'], adminEnv)).stdout, 'lifted the mute on carol in spring\n');
    const muteAdmin = await runCli(['room', 'mute', 'spring', 'bob'], adminEnv);
    assert.equal(muteAdmin.code, 1);
    assert.match(muteAdmin.stderr, /FORBIDDEN: .*cannot be muted/);

    const gift = await runCli(['room', 'gift', 'spring', '--from', 'carol', '--gift', 'a rose', '--value', '520'], adminEnv);
    assert.equal(gift.code, 0, gift.stderr);
    assert.equal(gift.stdout, 'carol sent a rose (520) to spring, seq 1\n');

    const shown = await runCli(['room', 'show', 'spring'], adminEnv);
    assert.equal(shown.code, 0, shown.stderr);
    for (const line of [/^room +spring \("Spring sale"\)$/m, /^host +alice$/m, /^admins +bob$/m, /^online +0$/m, /^state +live$/m, /^last seq +1$/m]) assert.match(shown.stdout, line);
    assert.equal((await runCli(['room', 'unadmin', 'spring', 'bob'], adminEnv)).stdout, 'bob is no longer an admin of spring\n');

    const closed = await runCli(['room', 'close', 'spring'], adminEnv);
    assert.equal(closed.code, 0, closed.stderr);
    assert.equal(closed.stdout, 'closed room spring: the live ended for every viewer\n');
    const after = await runCli(['room', 'show', 'spring'], adminEnv);
    assert.match(after.stdout, /^admins +none$/m);
    assert.match(after.stdout, /^state +closed$/m);
    for (const late of [
      ['room', 'gift', 'spring', '--from', 'carol', '--gift', 'a rose'],
      ['room', 'mute', 'spring', 'carol'],
    ]) {
      const refused = await runCli(late, adminEnv);
      assert.equal(refused.code, 1);
      assert.equal(refused.stdout, '');
      assert.match(refused.stderr, /^parley room: ROOM_CLOSED: /);
    }
    const usage = await runCli(['room', 'mute', 'spring'], adminEnv);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /parley room mute <roomId> <userId>/);
  });

  test('chat watches a live room with /live: cards, chat lines both ways, likes, /leave, and the end of the live', async (t) => {
    assert.equal((await runCli(['room', 'create', '--name', 'Concert', '--host', 'alice', '--id', 'concert'], adminEnv)).code, 0);
    // Numbers print in the reader's locale; this one reads 29.00.
    const carol = spawnCli(['chat', '--user', 'carol'], { ...adminEnv, LC_ALL: 'C' });
    await carol.waitFor(/connected as carol/);
    carol.write('/live concert\n');
    await carol.waitFor(/\* now in ▶Concert \(id concert\): host alice, 1 watching; you are a viewer/);

    const bob = new ParleyClient({ url: `${httpUrl.replace(/^http/, 'ws')}/ws`, token: (await runCli(['token', 'bob'], adminEnv)).stdout.trim() });
    t.after(() => bob.close());
    await bob.connect();
    const bobsRoom = await bob.joinRoom('concert');
    const heard: RoomEvent[] = [];
    bobsRoom.on('events', ({ events }) => heard.push(...events));

    // Reliable cards, posted through the REST API as a backend would.
    assert.equal((await runCli(['room', 'gift', 'concert', '--from', 'dave', '--gift', 'a rose', '--value', '520'], adminEnv)).code, 0);
    await carol.waitFor(/^\[▶Concert\] 🎁 dave sent a rose \(520\)$/m);
    const adminKey = readFileSync(join(dataDir, 'admin-key'), 'utf8').trim();
    const card = await fetch(`${httpUrl}/v1/conversations/concert/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ senderId: 'alice', content: { type: 'custom', customType: 'shop.product_card', data: { title: 'Tea set', price: 29 } } }),
    });
    assert.equal(card.status, 201);
    await carol.waitFor(/^\[▶Concert\] 🛒 Tea set — 29\.00$/m);

    // Chatter: bob's line reaches carol, carol's reaches bob and prints once on her side.
    await bobsRoom.chat('hello from bob');
    await carol.waitFor(/^bob: hello from bob$/m);
    carol.write('hi everyone\n');
    await carol.waitFor(/^carol: hi everyone$/m);
    for (let waited = 0; !heard.some((event) => event.kind === 'chat' && event.senderId === 'carol' && event.text === 'hi everyone'); waited += 20) {
      assert.ok(waited < 5000, `bob never heard carol: ${JSON.stringify(heard)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    bobsRoom.like(3);
    await carol.waitFor(/^♥ \+3 likes( · .*)?$/m);
    carol.write('/like 2\n');
    for (let waited = 0; !heard.some((event) => event.kind === 'like' && event.senderId === 'carol'); waited += 20) {
      assert.ok(waited < 5000, 'bob never saw carol’s likes');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    carol.write('/leave\n');
    await carol.waitFor(/^\* left ▶Concert$/m);
    carol.write('/live concert\n');
    await carol.waitFor(/\* now in ▶Concert \(id concert\): host alice, 2 watching; you are a viewer \(\/like, \/leave\)\n\d\d:\d\d \[▶Concert\] 🎁 dave sent a rose \(520\)\n\d\d:\d\d \[▶Concert\] 🛒 Tea set — 29\.00\n/);
    assert.equal((await runCli(['room', 'close', 'concert'], adminEnv)).code, 0);
    await carol.waitFor(/^\[▶Concert\] \* The live ended\n\* ▶Concert has ended$/m);
    assert.equal(carol.stdout.match(/carol: hi everyone/g)?.length, 1, carol.stdout);
    carol.write('/quit\n');
    assert.equal(await carol.exitCode(), 0);
  });

  test('webhooks status says when none are configured; webhooks events lists what was stored, page by page', async () => {
    const status = await runCli(['webhooks', 'status'], adminEnv);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(status.stdout, 'webhooks: not configured (PARLEY_WEBHOOK_URL)\n');
    const all = await runCli(['webhooks', 'events', '--limit', '1000'], adminEnv);
    assert.equal(all.code, 0, all.stderr);
    const lines = all.stdout.trimEnd().split('\n');
    assert.match(lines.at(-1) ?? '', /^next: \S+$/);
    assert.ok(lines.some((line) => /\sroom\.closed\s+spring\s/.test(line)), all.stdout);
    // From the first event's cursor on: everything but that event.
    const first = (lines[0] ?? '').split('  ')[0] ?? '';
    const rest = await runCli(['webhooks', 'events', '--after', first, '--limit', '1000'], adminEnv);
    assert.deepEqual(rest.stdout.trimEnd().split('\n'), lines.slice(1));
    const bad = await runCli(['webhooks', 'events', '--limit', '5000'], adminEnv);
    assert.notEqual(bad.code, 0);
  });

  test('chat as an unknown user fails with a hint', async () => {
    const result = await runCli(['chat', '--user', 'nobody'], adminEnv);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /NOT_FOUND.*parley user add nobody/);
  });

  test('vapid-keys prints a fresh pair as the two environment lines a cluster shares', async () => {
    const first = await runCli(['vapid-keys']);
    const second = await runCli(['vapid-keys']);
    assert.equal(first.code, 0);
    const lines = first.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    const [publicKey, privateKey] = lines.map((line) => line.split('=')[1] ?? '');
    assert.match(lines[0] ?? '', /^PARLEY_VAPID_PUBLIC_KEY=[A-Za-z0-9_-]+$/);
    assert.match(lines[1] ?? '', /^PARLEY_VAPID_PRIVATE_KEY=[A-Za-z0-9_-]+$/);
    assert.equal(Buffer.from(publicKey as string, 'base64url').length, 65);
    assert.equal(Buffer.from(privateKey as string, 'base64url').length, 32);
    assert.notEqual(first.stdout, second.stdout, 'a new pair each time');
  });

  test('--help describes the commands', async () => {
    const overview = await runCli(['--help']);
    assert.equal(overview.code, 0);
    for (const name of ['start', 'user', 'token', 'group', 'room', 'chat']) assert.match(overview.stdout, new RegExp(`^  ${name} `, 'm'));
    const chatHelp = await runCli(['chat', '--help']);
    assert.match(chatHelp.stdout, /\/dm <userId>/);
    assert.match(chatHelp.stdout, /\/live <roomId>/);
    const roomHelp = await runCli(['room', '--help']);
    assert.match(roomHelp.stdout, /parley room gift <roomId> --from USER --gift NAME/);
  });

  test('start closes cleanly on SIGTERM', async () => {
    server.child.kill('SIGTERM');
    assert.equal(await server.exitCode(), 0);
    assert.match(server.stdout, /stopped/);
  });
});
