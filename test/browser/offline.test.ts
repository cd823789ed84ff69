/**
 * The web app when things go wrong: the server stops and comes back (the app
 * says it is reconnecting and then sends what was typed meanwhile; a request
 * made meanwhile waits and says so), and a message the server refuses
 * (failed, with retry and delete).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { TestServer } from '../support/fixtures.js';
import {
  conversationItem,
  expectAttribute,
  expectCount,
  expectGone,
  expectText,
  expectTexts,
  expectVisible,
  browserSkipReason,
  messageTexts,
  messages,
  openConversation,
  send,
  startDirectChat,
  startWebServer,
  suiteBrowser,
} from './support.js';

// Without a browser: every test below is counted as skipped, with a banner (a failure in CI).
const skip = browserSkipReason('offline.test.ts');

describe('web app when the connection or a send fails', { timeout: 120_000 }, () => {
  const browser = suiteBrowser(skip);

  test('the server stops: the app shows it is reconnecting, then delivers what was typed meanwhile', { skip }, async (t) => {
    // The same data directory and port across the restart, as for a real server restart.
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-web-offline-'));
    let fixture: TestServer = await startWebServer(undefined, { dataDir });
    // Closed before its data directory goes: a closing server may still write there.
    t.after(async () => {
      await fixture.close();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const { port, httpUrl } = fixture.server;

    const alice = await browser.signedUp(httpUrl, 'alice', 'Alice');
    const bob = await browser.signedUp(httpUrl, 'bob', 'Bob');
    await startDirectChat(alice.page, 'bob');
    await send(alice.page, 'before the outage');
    await openConversation(bob.page, 'Alice');
    await expectTexts(messageTexts(bob.page), ['before the outage']);

    await fixture.close();
    for (const user of [alice, bob]) {
      await expectAttribute(user.page.getByTestId('connection-state'), 'data-state', 'reconnecting');
      await expectVisible(user.page.getByTestId('connection-banner'));
    }

    // Typed while offline: shown at once as sending, and the banner counts it.
    await send(alice.page, 'typed while offline');
    const waiting = messages(alice.page).last();
    await expectText(waiting.getByTestId('message-text'), 'typed while offline');
    await expectAttribute(waiting, 'data-state', 'sending');
    await expectVisible(alice.page.getByTestId('connection-banner').getByText('1 message will be sent when the connection returns.'));

    fixture = await startWebServer(undefined, { dataDir, port });
    for (const user of [alice, bob]) {
      await expectAttribute(user.page.getByTestId('connection-state'), 'data-state', 'online', 20_000);
      await expectGone(user.page.getByTestId('connection-banner'));
    }
    await expectAttribute(messages(alice.page).last(), 'data-state', 'sent');
    await expectTexts(messageTexts(bob.page), ['before the outage', 'typed while offline']);
    await expectTexts(messageTexts(alice.page), ['before the outage', 'typed while offline']);

    // And it keeps working both ways.
    await send(bob.page, 'welcome back');
    await expectTexts(messageTexts(alice.page), ['before the outage', 'typed while offline', 'welcome back']);
    assert.deepEqual(alice.errors, []);
    assert.deepEqual(bob.errors, []);
  });

  test('opening a chat while the server is down says it is connecting, and goes ahead when the server returns', { skip }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-web-waiting-'));
    let fixture: TestServer = await startWebServer(undefined, { dataDir });
    // Closed before its data directory goes: a closing server may still write there.
    t.after(async () => {
      await fixture.close();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const { port, httpUrl } = fixture.server;
    const erin = await browser.signedUp(httpUrl, 'erin', 'Erin');
    await fixture.api.createUser('frank', 'Frank');

    await fixture.close();
    await expectAttribute(erin.page.getByTestId('connection-state'), 'data-state', 'reconnecting');
    await erin.page.getByTestId('new-chat').click();
    await erin.page.getByTestId('direct-user-id').fill('frank');
    await erin.page.getByTestId('new-conversation-submit').click();
    // No error at once: the request waits for the connection, and the dialog says so.
    await expectVisible(erin.page.getByTestId('new-conversation-waiting'));
    assert.equal(await erin.page.getByTestId('new-conversation-error').count(), 0);

    fixture = await startWebServer(undefined, { dataDir, port });
    await expectGone(erin.page.getByTestId('new-conversation'), 20_000);
    await expectText(erin.page.getByTestId('chat-title'), 'Frank');
    assert.deepEqual(erin.errors, []);
  });

  test('a message the server refuses is marked failed, and can be retried or deleted', { skip }, async (t) => {
    // A refused word makes refusals easy to cause. (Text over the server's limit never gets
    // this far: the composer takes the limit from the welcome and sends it as several messages.)
    const fixture = await startWebServer(t, { moderation: { blockedWords: ['forbidden'], blockedWordAction: 'reject' } });
    const alice = await browser.signedUp(fixture.server.httpUrl, 'carol', 'Carol');
    await fixture.api.createUser('dave', 'Dave');
    await startDirectChat(alice.page, 'dave');

    await send(alice.page, 'short one');
    await send(alice.page, 'a forbidden thought');
    const failed = messages(alice.page).last();
    await expectAttribute(failed, 'data-state', 'failed');
    await expectVisible(failed.getByText('Not sent: it contains a word this service does not allow.'));

    // Retrying fails the same way (the word stays refused), and the message stays failed.
    await failed.getByTestId('retry-button').click();
    await expectAttribute(failed, 'data-state', 'failed');
    await failed.getByRole('button', { name: 'Delete' }).click();
    await expectCount(messages(alice.page), 1);
    await expectAttribute(messages(alice.page).last(), 'data-state', 'sent');
    await expectText(conversationItem(alice.page, 'Dave').getByTestId('conversation-preview'), 'You: short one');
    assert.deepEqual(alice.errors, []);
  });
});
