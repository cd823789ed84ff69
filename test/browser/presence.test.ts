/**
 * Presence in the web app, in a real browser against a real server: each
 * person in their own browser context. A direct peer's dot turns green in
 * the list and the chat header says "online" when they sign in, amber and
 * "away" while their page is hidden, and "last seen" once they close it;
 * the privacy switch hides all of it.
 */
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  assertNoPageErrors,
  browserSkipReason,
  conversationItem,
  expectAttribute,
  expectCount,
  expectText,
  expectTexts,
  messageTexts,
  send,
  startDirectChat,
  startWebServer,
  suiteBrowser,
  until,
} from './support.js';

// Without a browser: every test below is counted as skipped, with a banner (a failure in CI).
const skip = browserSkipReason('presence.test.ts');

/** Short, so that "last seen" shows within the test; the default is 5 s. */
const GRACE_MS = 500;

function listDot(page: Page, name: string) {
  return conversationItem(page, name).getByTestId('presence-dot');
}

function headerLine(page: Page) {
  return page.getByTestId('chat-view').getByTestId('presence-line');
}

/** What a browser does when the user switches tab or app: the page is hidden, or shown again. */
async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((value) => {
    Object.defineProperty(document, 'visibilityState', { value: value ? 'hidden' : 'visible', configurable: true });
    Object.defineProperty(document, 'hidden', { value, configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

describe('presence in the web app', { timeout: 120_000 }, () => {
  const browser = suiteBrowser(skip);

  test('the dot turns on when the other signs in, away while their page is hidden, last seen once they close it', { skip }, async (t) => {
    const web = await startWebServer(t, { presence: { offlineGraceMs: GRACE_MS } });
    const bob = await browser.signedUp(web.server.httpUrl, 'pres-bob', 'Bob');
    await bob.page.close();
    const alice = await browser.signedUp(web.server.httpUrl, 'pres-alice', 'Alice');
    await startDirectChat(alice.page, 'pres-bob');
    await send(alice.page, 'are you around?');
    await expectTexts(messageTexts(alice.page), ['are you around?']);
    await expectCount(listDot(alice.page, 'Bob'), 0);
    await expectText(headerLine(alice.page), 'last seen just now');

    // Bob comes back: he opens the app again (still signed in).
    bob.page = await bob.context.newPage();
    await bob.page.goto(`${web.server.httpUrl}/`);
    await expectAttribute(bob.page.getByTestId('connection-state'), 'data-state', 'online');
    await expectAttribute(listDot(alice.page, 'Bob'), 'data-state', 'online');
    await expectText(headerLine(alice.page), 'online');

    // His page goes to the background: away; back: online.
    await setHidden(bob.page, true);
    await expectAttribute(listDot(alice.page, 'Bob'), 'data-state', 'away');
    await expectText(headerLine(alice.page), 'away');
    await setHidden(bob.page, false);
    await expectAttribute(listDot(alice.page, 'Bob'), 'data-state', 'online');
    await expectText(headerLine(alice.page), 'online');

    // He closes it: after the grace, no dot and "last seen".
    await bob.page.close();
    await expectCount(listDot(alice.page, 'Bob'), 0);
    await expectText(headerLine(alice.page), 'last seen just now');
    assertNoPageErrors(alice);
  });

  test('"Show when I\'m online" off: the contact sees no dot and no last seen, only the id', { skip }, async (t) => {
    const web = await startWebServer(t, { presence: { offlineGraceMs: GRACE_MS } });
    const alice = await browser.signedUp(web.server.httpUrl, 'priv-alice', 'Alice');
    const bob = await browser.signedUp(web.server.httpUrl, 'priv-bob', 'Bob');
    await startDirectChat(alice.page, 'priv-bob');
    await send(alice.page, 'hi');
    await expectAttribute(listDot(alice.page, 'Bob'), 'data-state', 'online');

    await bob.page.getByTestId('notifications-open').click();
    const toggle = bob.page.getByTestId('notifications-dialog').getByTestId('presence-switch');
    await until(() => toggle.isChecked(), (checked) => checked, 'the switch to show the setting (on)');
    await toggle.click();
    await until(() => toggle.isChecked(), (checked) => !checked, 'the switch to follow the server (off)');

    await expectCount(listDot(alice.page, 'Bob'), 0);
    await expectText(headerLine(alice.page), '@priv-bob');
    await expectAttribute(headerLine(alice.page), 'data-state', 'unknown');
    assertNoPageErrors(alice, bob);
  });
});
