/**
 * Messages typed while the server is unreachable survive a page reload: they
 * are kept in the browser (IndexedDB), shown again as sending after the
 * reload, and stored once each, in order, when the server returns, also when
 * two tabs of the same user both send them again.
 *
 * While the server is down a plain file server on its port serves the built
 * app, as a CDN or a service worker would, so that the page can load; its
 * WebSocket connections fail as they would against the stopped server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { describe, test } from 'node:test';
import { ParleyClient } from '@parley/client';
import type { Page } from 'playwright-core';
import type { TestServer } from '../support/fixtures.js';
import {
  WEB_ROOT,
  browserSkipReason,
  conversationItem,
  expectAttribute,
  expectText,
  expectTexts,
  expectVisible,
  messageTexts,
  openConversation,
  send,
  signUp,
  startDirectChat,
  startWebServer,
  suiteBrowser,
  until,
  watchErrors,
} from './support.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Serves the built app on `port` while the Parley server is down, as a CDN or
 * a service worker would; WebSocket upgrades are refused, like a dead server's.
 */
async function serveAppOnly(port: number): Promise<() => Promise<void>> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const file = normalize(join(WEB_ROOT, path === '/' ? 'index.html' : path));
    const type = CONTENT_TYPES[extname(file)];
    let body: Buffer | undefined;
    try {
      if (file.startsWith(WEB_ROOT) && type !== undefined) body = readFileSync(file);
    } catch {
      body = undefined;
    }
    if (body === undefined || type === undefined) {
      response.writeHead(503).end();
      return;
    }
    response.writeHead(200, { 'content-type': type }).end(body);
  });
  server.on('upgrade', (_request, socket) => socket.destroy());
  await new Promise<void>((resolveListen) => server.listen(port, '127.0.0.1', resolveListen));
  return () =>
    new Promise<void>((resolveClose) => {
      server.closeAllConnections();
      server.close(() => resolveClose());
    });
}

/** The open conversation's messages as [text, send state] pairs. */
async function shownMessages(page: Page): Promise<Array<[string, string | null]>> {
  return page
    .getByTestId('chat-view')
    .getByTestId('message')
    .evaluateAll((items) => items.map((item) => [item.querySelector('[data-testid="message-text"]')?.textContent ?? '', item.getAttribute('data-state')] as [string, string | null]));
}

// Without a browser: every test below is counted as skipped, with a banner (a failure in CI).
const skip = browserSkipReason('outbox.test.ts');

describe('web app outbox across a reload', { timeout: 120_000 }, () => {
  const browser = suiteBrowser(skip);

  test('messages typed with the server down survive a reload and are stored once each, in order', { skip }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-web-outbox-'));
    let fixture: TestServer = await startWebServer(undefined, { dataDir });
    // Closed before its data directory goes: a closing server may still write there.
    t.after(async () => {
      await fixture.close();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const { port, httpUrl } = fixture.server;

    const alice = await browser.newUser();
    const bob = await browser.newUser();
    await signUp(alice.page, httpUrl, 'alice', 'Alice');
    await signUp(bob.page, httpUrl, 'bob', 'Bob');
    await startDirectChat(alice.page, 'bob');
    const conversationId = await alice.page.getByTestId('chat-view').getAttribute('data-conversation-id');
    assert.ok(conversationId);
    await send(alice.page, 'before the outage');
    await openConversation(bob.page, 'Alice');
    await expectTexts(messageTexts(bob.page), ['before the outage']);

    await fixture.close();
    await expectAttribute(alice.page.getByTestId('connection-state'), 'data-state', 'reconnecting');
    const stopServing = await serveAppOnly(port);
    t.after(stopServing);

    await send(alice.page, 'offline one');
    await send(alice.page, 'offline two');
    await until(
      () => shownMessages(alice.page),
      (shown) => JSON.stringify(shown) === JSON.stringify([['before the outage', 'sent'], ['offline one', 'sending'], ['offline two', 'sending']]),
      'both offline messages shown as sending',
    );
    const item = conversationItem(alice.page, 'Bob');
    await expectText(item.getByTestId('conversation-preview'), 'You: offline two');
    await expectAttribute(item.getByTestId('preview-send-state'), 'data-state', 'sending');

    // Reload with the server still down: both come back as sending, in order, with the same look.
    // The sent message before them shows too once the SDK's local cache holds it (its write may
    // still have been pending when the page went away).
    await alice.page.reload();
    await expectText(alice.page.getByTestId('chat-title'), 'Bob');
    const offline = [['offline one', 'sending'], ['offline two', 'sending']];
    await until(
      () => shownMessages(alice.page),
      (shown) => [JSON.stringify(offline), JSON.stringify([['before the outage', 'sent'], ...offline])].includes(JSON.stringify(shown)),
      'both offline messages shown as sending after the reload',
    );
    await expectText(item.getByTestId('conversation-preview'), 'You: offline two');
    await expectAttribute(item.getByTestId('preview-send-state'), 'data-state', 'sending');
    await expectVisible(alice.page.getByTestId('connection-banner').getByText('2 messages will be sent when the connection returns.'));

    // A second tab of the same user, opened meanwhile, finds the same messages and sends them too.
    const secondTab = await alice.context.newPage();
    const secondTabErrors = watchErrors(secondTab);
    await secondTab.goto(`${httpUrl}/#/c/${encodeURIComponent(conversationId)}`);
    await until(
      () => shownMessages(secondTab),
      (shown) => [JSON.stringify(offline), JSON.stringify([['before the outage', 'sent'], ...offline])].includes(JSON.stringify(shown)),
      'the second tab shows both as sending',
    );

    await stopServing();
    fixture = await startWebServer(undefined, { dataDir, port });
    const delivered = [
      ['before the outage', 'sent'],
      ['offline one', 'sent'],
      ['offline two', 'sent'],
    ];
    for (const page of [alice.page, secondTab]) {
      await expectAttribute(page.getByTestId('connection-state'), 'data-state', 'online', 20_000);
      await until(() => shownMessages(page), (shown) => JSON.stringify(shown) === JSON.stringify(delivered), 'each message once, sent, in order', 20_000);
      await expectText(conversationItem(page, 'Bob').getByTestId('conversation-preview'), 'You: offline two');
      assert.equal(await conversationItem(page, 'Bob').getByTestId('preview-send-state').count(), 0);
    }
    await expectTexts(messageTexts(bob.page), ['before the outage', 'offline one', 'offline two'], 20_000);

    // The server stored each once: three messages in the conversation, in this order.
    const { body } = await fixture.api.call('GET', '/v1/users/alice/conversations');
    const summary = (body.conversations as Array<{ id: string; lastSeq: number }>).find((conversation) => conversation.id === conversationId);
    assert.equal(summary?.lastSeq, 3);
    const reader = new ParleyClient({ url: fixture.server.wsUrl, token: await fixture.api.token('bob'), reconnect: false });
    t.after(() => reader.close());
    await reader.connect();
    const history = await reader.history(conversationId);
    assert.deepEqual(
      history.map((message) => message.text),
      ['before the outage', 'offline one', 'offline two'],
    );

    // Nothing is left to resend: a fresh load shows the three as stored only.
    await secondTab.close();
    await alice.page.reload();
    await expectAttribute(alice.page.getByTestId('connection-state'), 'data-state', 'online');
    await until(() => shownMessages(alice.page), (shown) => JSON.stringify(shown) === JSON.stringify(delivered), 'no waiting message after another reload');
    assert.deepEqual(alice.errors, []);
    assert.deepEqual(secondTabErrors, []);
    assert.deepEqual(bob.errors, []);
  });
});
