/**
 * What a newcomer meets first with the CLI, as real processes against a real
 * `parley start`: users made here can sign in to the web app (passwords from
 * stdin or a hidden terminal prompt), sign-in says why when a user has no
 * password, `parley chat` reports an unreachable server and gives up in
 * bounded time, /quit works while it retries, long lines are split, and
 * admin-API events read in the passive voice.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, cliSpawner, runCli } from './support/cli-process.js';

describe('parley CLI: the first minutes', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-cli-first-'));
  const processes = cliSpawner();
  const spawnCli = processes.spawn;
  let httpUrl = '';
  let adminEnv: NodeJS.ProcessEnv = {};

  async function signIn(userId: string, password: string): Promise<{ status: number; body: { token?: string; error?: { name: string; message: string } } }> {
    const response = await fetch(`${httpUrl}/dev/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId, password }) });
    return { status: response.status, body: await response.json() };
  }

  before(async () => {
    const server = spawnCli(['start', '--port', '0', '--tcp-port', 'off', '--data-dir', dataDir, '--log-level', 'warn'], { PARLEY_ADMIN_KEY: '' });
    httpUrl = (await server.waitFor(/HTTP\s+(http:\/\/\S+)/))[1] ?? '';
    await server.waitFor(/Try it/);
    assert.match(server.stdout, /user add alice --password/, 'the hint makes users who can sign in to the web app');
    adminEnv = { PARLEY_SERVER: httpUrl, PARLEY_DATA_DIR: dataDir, PARLEY_ADMIN_KEY: '' };
  });

  after(() => {
    processes.killAll();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('user add --password reads the password from stdin, and that user signs in to the web app', async () => {
    const added = await runCli(['user', 'add', 'alice', '--name', 'Alice', '--password'], adminEnv, 'correct horse\n');
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout, 'created user alice (Alice), with a password for the web app\n');
    const session = await signIn('alice', 'correct horse');
    assert.equal(session.status, 200);
    assert.ok(session.body.token);
    assert.equal((await signIn('alice', 'wrong horse')).body.error?.message, 'Wrong user id or password');
  });

  test('a user made without a password is told why sign-in fails, and `user password` lets them in', async () => {
    assert.equal((await runCli(['user', 'add', 'bob'], adminEnv)).code, 0);
    const refused = await signIn('bob', 'any password');
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error?.message, 'bob has no password yet. Ask an administrator to run: parley user password bob');

    const set = await runCli(['user', 'password', 'bob'], adminEnv, 'battery staple\n');
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, 'password set for bob: sign in to the web app as bob\n');
    assert.equal((await signIn('bob', 'battery staple')).status, 200);

    const signUp = await fetch(`${httpUrl}/dev/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'bob', name: 'Bob', password: 'another one' }),
    });
    assert.equal(signUp.status, 409);
    assert.equal((await signUp.json()).error.message, 'The user id bob is taken; if it is yours, sign in instead');
  });

  test('passwords are checked before anything changes', async () => {
    const short = await runCli(['user', 'add', 'carol', '--password'], adminEnv, 'short\n');
    assert.equal(short.code, 2);
    assert.match(short.stderr, /a password has 8-200 characters \(got 5\)/);
    assert.equal((await runCli(['token', 'carol'], adminEnv)).code, 1, 'no user was created');
    const unknown = await runCli(['user', 'password', 'nobody'], adminEnv, 'long enough\n');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /NOT_FOUND: unknown user nobody/);
  });

  test('commands sharing one piped stdin each take their own line', async () => {
    const node = `'${process.execPath}' '${CLI}'`;
    const script = `printf 'first secret\\nsecond secret\\n' | { ${node} user add gus --password && ${node} user add hal --password; }`;
    const result = await new Promise<{ code: number | null; output: string }>((resolveRun) => {
      const child = spawn('sh', ['-c', script], { env: { ...process.env, ...adminEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      child.once('exit', (code) => resolveRun({ code, output }));
    });
    assert.equal(result.code, 0, result.output);
    assert.equal((await signIn('gus', 'first secret')).status, 200);
    assert.equal((await signIn('hal', 'second secret')).status, 200);
  });

  test('at a terminal the password is asked twice and never echoed', async () => {
    assert.equal((await runCli(['user', 'add', 'dana'], adminEnv)).code, 0);
    // script(1) gives the command a real pseudo-terminal.
    const command = `'${process.execPath}' '${CLI}' user password dana`;
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, ...adminEnv }, stdio: 'pipe' });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const waitFor = async (pattern: RegExp) => {
      const deadline = Date.now() + 10_000;
      while (!pattern.test(output)) {
        assert.ok(Date.now() < deadline, `no ${pattern} in:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await waitFor(/New password for dana/);
    child.stdin.write('tty secret 1\r');
    await waitFor(/Repeat it/);
    child.stdin.write('tty secret 1\r');
    assert.equal(await exited, 0, output);
    assert.match(output, /password set for dana/);
    assert.doesNotMatch(output, /tty secret/, 'the password is not echoed');
    assert.equal((await signIn('dana', 'tty secret 1')).status, 200);
  });

  test('chat reports an unreachable server, and /quit works while it retries', async () => {
    const chat = spawnCli(['chat', '--token', 'not-needed', '--url', 'ws://127.0.0.1:1/ws']);
    await chat.waitFor(/cannot reach ws:\/\/127\.0\.0\.1:1\/ws: nothing is listening there \(ECONNREFUSED\); retrying for up to 30 s \(\/quit to stop\)/);
    chat.write('/quit\n');
    assert.equal(await chat.exitCode(3000), 0);
  });

  test('chat gives up after --connect-timeout when it never connected', async () => {
    const started = Date.now();
    const chat = spawnCli(['chat', '--token', 'not-needed', '--url', 'ws://127.0.0.1:1/ws', '--connect-timeout', '1']);
    assert.equal(await chat.exitCode(5000), 1);
    assert.ok(Date.now() - started < 5000);
    assert.match(chat.stderr, /gave up after 1 s: cannot reach ws:\/\/127\.0\.0\.1:1\/ws: nothing is listening there \(ECONNREFUSED\)\. Is the server running/);
    const bad = await runCli(['chat', '--token', 'x', '--connect-timeout', '0']);
    assert.equal(bad.code, 2);
  });

  test('lines typed while connecting are sent once connected; a long line goes as several messages', async () => {
    await runCli(['user', 'add', 'erin'], adminEnv);
    const erin = spawnCli(['chat', '--user', 'erin'], adminEnv);
    await erin.waitFor(/connected as erin/);
    const alice = spawnCli(['chat', '--user', 'alice'], adminEnv);
    const long = `${'word '.repeat(1700)}end`; // 8,503 characters: over the 8,000 of one message
    alice.write(`/dm erin\nfirst line\n${long}\n`);
    await alice.waitFor(/long text \(8503 characters\): sent as 2 messages/);
    await erin.waitFor(/alice: first line/);
    await erin.waitFor(/alice: (word ){100}[\s\S]*alice: (word )+end/);
    alice.write('/quit\n');
    erin.write('/quit\n');
    assert.equal(await alice.exitCode(), 0);
    assert.equal(await erin.exitCode(), 0);
  });

  test('events made through the admin API read in the passive voice', async () => {
    await runCli(['user', 'add', 'finn'], adminEnv);
    const finn = spawnCli(['chat', '--user', 'finn'], adminEnv);
    await finn.waitFor(/connected as finn/);
    assert.equal((await runCli(['group', 'create', '--name', 'Crew', '--owner', 'alice', '--id', 'crew'], adminEnv)).code, 0);
    assert.equal((await runCli(['group', 'add', 'crew', 'finn', 'erin'], adminEnv)).code, 0);
    await finn.waitFor(/\[#Crew\] \* You and erin were added/);
    finn.write('/quit\n');
    assert.equal(await finn.exitCode(), 0);
  });
});
