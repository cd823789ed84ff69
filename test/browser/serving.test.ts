/**
 * The server side of the web app, over plain HTTP: serving the built app
 * (caching, 404 outside the app, the server's own routes untouched, nothing outside
 * the web root), and the development-only sign-up / sign-in endpoints.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ParleyClient } from '@parley/client';
import { startTestServer } from '../support/fixtures.js';
import { WEB_ROOT, startWebServer } from './support.js';

async function get(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; text: string }> {
  const response = await fetch(url, init);
  return { status: response.status, headers: response.headers, text: await response.text() };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

describe('serving the web app', () => {
  test('index.html is revalidated on every load, hashed assets are cached for good', async (t) => {
    const { server } = await startWebServer(t);
    const index = await get(`${server.httpUrl}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /^text\/html/u);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    assert.match(index.headers.get('content-security-policy') ?? '', /script-src 'self'/u);
    assert.match(index.text, /<div id="app">/u);

    const script = readdirSync(join(WEB_ROOT, 'assets')).find((file) => file.endsWith('.js'));
    assert.ok(script !== undefined, 'the build has a script');
    const asset = await get(`${server.httpUrl}/assets/${script}`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('content-type') ?? '', /javascript/u);
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');

    const head = await fetch(`${server.httpUrl}/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  });

  test('the app lives at / (its routes are in the hash); other paths are 404, HTML for a browser, JSON for the server’s own', async (t) => {
    const { server } = await startWebServer(t);
    const start = await get(`${server.httpUrl}/`);
    assert.equal(start.status, 200);
    assert.match(start.text, /<div id="app">/u);
    const byBrowser = await fetch(`${server.httpUrl}/some/page`, { headers: { accept: 'text/html' } });
    assert.equal(byBrowser.status, 404);
    assert.match(await byBrowser.text(), /Nothing is served at <code>\/some\/page<\/code>/u);
    const post = await fetch(`${server.httpUrl}/`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');

    for (const path of ['/v1/nothing-here', '/dev/nothing-here', '/ws', '/healthz/x', '/assets/gone-1234.js', '/some/page']) {
      const answer = await get(`${server.httpUrl}${path}`);
      assert.equal(answer.status, 404, path);
      assert.equal(JSON.parse(answer.text).error.name, 'NOT_FOUND', path);
    }
    const health = await get(`${server.httpUrl}/healthz`);
    assert.equal(JSON.parse(health.text).status, 'ok');
    const admin = await get(`${server.httpUrl}/v1/users/someone`);
    assert.equal(admin.status, 401, 'admin routes still need the key');
  });

  test('nothing outside the web root is served', async (t) => {
    const { server } = await startWebServer(t);
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/assets/..%2f..%2fpackage.json', '/..%5c..%5cpackage.json', '/.env']) {
      const answer = await get(`${server.httpUrl}${path}`);
      assert.doesNotMatch(answer.text, /"name":\s*"@parley\/web"/u, path);
    }
  });

  test('without webRoot no app is served', async (t) => {
    const { server } = await startTestServer(t, { tcpPort: false });
    const answer = await get(`${server.httpUrl}/`);
    assert.equal(answer.status, 404);
    assert.equal(JSON.parse(answer.text).error.name, 'NOT_FOUND');
  });

  test('a webRoot without index.html is refused at start', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-web-root-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    await assert.rejects(startTestServer(undefined, { tcpPort: false, dataDir, webRoot: join(WEB_ROOT, 'assets') }), /no index\.html/u);
  });
});

describe('development sign-up and sign-in (/dev)', () => {
  test('sign up, sign in, refresh: the tokens open real connections', async (t) => {
    const { server } = await startTestServer(t, { tcpPort: false });
    const signup = await post(`${server.httpUrl}/dev/signup`, { userId: 'erin', name: ' Erin ', password: 'a long password' });
    assert.equal(signup.status, 201);
    assert.equal(signup.body.userId, 'erin');
    assert.equal(signup.body.name, 'Erin');
    assert.ok(signup.body.expiresAt > Date.now());

    const signin = await post(`${server.httpUrl}/dev/signin`, { userId: 'erin', password: 'a long password' });
    assert.equal(signin.status, 200);
    const refreshed = await post(`${server.httpUrl}/dev/token`, undefined, { authorization: `Bearer ${signin.body.token}` });
    assert.equal(refreshed.status, 200);
    assert.notEqual(refreshed.body.token, signin.body.token);

    for (const token of [signup.body.token, signin.body.token, refreshed.body.token]) {
      const client = new ParleyClient({ url: server.wsUrl, token, reconnect: false });
      await client.connect();
      assert.equal(client.userId, 'erin');
      await client.close();
    }
  });

  test('a taken user id, a wrong password, a bad token and malformed bodies are refused', async (t) => {
    const { server, api } = await startTestServer(t, { tcpPort: false });
    await api.createUser('frank', 'Frank'); // created through the admin API: no password, not claimable
    assert.equal((await post(`${server.httpUrl}/dev/signup`, { userId: 'frank', name: 'Mallory', password: 'a long password' })).body.error.name, 'CONFLICT');
    const admin = await api.call('GET', '/v1/users/frank');
    assert.equal(admin.body.name, 'Frank', 'the existing user is unchanged');
    assert.equal((await post(`${server.httpUrl}/dev/signin`, { userId: 'frank', password: 'a long password' })).status, 401);

    assert.equal((await post(`${server.httpUrl}/dev/signup`, { userId: 'gina', name: 'Gina', password: 'a long password' })).status, 201);
    assert.equal((await post(`${server.httpUrl}/dev/signup`, { userId: 'gina', name: 'Gina 2', password: 'another password' })).status, 409);
    const wrong = await post(`${server.httpUrl}/dev/signin`, { userId: 'gina', password: 'not the password' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error.name, 'UNAUTHENTICATED');
    assert.equal((await post(`${server.httpUrl}/dev/signin`, { userId: 'nobody', password: 'a long password' })).status, 401);
    assert.equal((await post(`${server.httpUrl}/dev/token`, undefined, { authorization: 'Bearer forged.token.here' })).status, 401);
    assert.equal((await post(`${server.httpUrl}/dev/token`, undefined)).status, 401);

    for (const body of [
      { userId: 'hank', name: 'Hank', password: 'short' },
      { userId: 'hank', name: 'Hank', password: 'x'.repeat(201) },
      { userId: 'bad id!', name: 'Hank', password: 'a long password' },
      { userId: 'hank', name: '', password: 'a long password' },
      { userId: 'hank', name: 'Hank', password: 'a long password', admin: true },
      { userId: 'hank', password: 'a long password' },
    ]) {
      const answer = await post(`${server.httpUrl}/dev/signup`, body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.body.error.name, 'INVALID_ARGUMENT');
    }
  });

  test('sign-in attempts are rate-limited per user id', async (t) => {
    const { server } = await startTestServer(t, { tcpPort: false });
    await post(`${server.httpUrl}/dev/signup`, { userId: 'ivan', name: 'Ivan', password: 'a long password' });
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 11; attempt++) statuses.push((await post(`${server.httpUrl}/dev/signin`, { userId: 'ivan', password: 'wrong password' })).status);
    assert.deepEqual(statuses, [...Array(10).fill(401), 429]);
    const limited = await fetch(`${server.httpUrl}/dev/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'ivan', password: 'a long password' }),
    });
    assert.equal(limited.status, 429, 'even the right password waits');
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    // Other user ids are not affected.
    assert.equal((await post(`${server.httpUrl}/dev/signin`, { userId: 'judy', password: 'a long password' })).status, 401);
  });

  test('devAuth: false turns the endpoints off', async (t) => {
    const { server } = await startTestServer(t, { tcpPort: false, devAuth: false });
    const answer = await post(`${server.httpUrl}/dev/signup`, { userId: 'kim', name: 'Kim', password: 'a long password' });
    assert.equal(answer.status, 404);
    assert.equal(answer.body.error.name, 'NOT_FOUND');
  });
});
