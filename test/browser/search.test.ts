/**
 * Message search in the web app, in a real browser against a real server:
 * typing words in the field above the conversation list shows the messages
 * found in place of the list, the matched words in <mark>, with their
 * conversation, sender and time; choosing one (pointer or keyboard) opens
 * the conversation scrolled to that message; Escape brings the list back.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  assertNoPageErrors,
  browserSkipReason,
  expectAttribute,
  expectCount,
  expectGone,
  expectText,
  expectVisible,
  send,
  startDirectChat,
  suiteBrowser,
  suiteWebServer,
  until,
} from './support.js';

// Without a browser: every test below is counted as skipped, with a banner (a failure in CI).
const skip = browserSkipReason('search.test.ts');

function hits(page: Page) {
  return page.getByTestId('search-results').getByTestId('search-hit');
}

/** Whether the element is inside the message scroller's visible area. */
async function inView(page: Page, seq: number): Promise<boolean> {
  return page.getByTestId('message-scroller').evaluate((scroller, wanted) => {
    const item = scroller.querySelector<HTMLElement>(`[data-seq="${wanted}"]`);
    if (item === null) return false;
    const box = scroller.getBoundingClientRect();
    const itemBox = item.getBoundingClientRect();
    return itemBox.bottom > box.top && itemBox.top < box.bottom;
  }, seq);
}

describe('message search in the web app', { timeout: 120_000 }, () => {
  const browser = suiteBrowser(skip);
  const web = suiteWebServer(skip);

  test('typing a word shows the highlighted hit; opening it shows the message in its conversation', { skip }, async () => {
    const alice = await browser.signedUp(web.baseUrl, 'srch-alice', 'Alice');
    const bob = await browser.signedUp(web.baseUrl, 'srch-bob', 'Bob');
    await startDirectChat(alice.page, 'srch-bob');
    await send(alice.page, 'The Quarterly report is ready for review');
    const conversationId = (await alice.page.getByTestId('chat-view').getAttribute('data-conversation-id')) as string;
    // Enough later messages that the hit is far above the bottom of the chat.
    for (let n = 0; n < 60; n++) {
      const { status } = await web.fixture.api.call('POST', `/v1/conversations/${encodeURIComponent(conversationId)}/messages`, { senderId: 'srch-alice', text: `later message ${n}` });
      assert.equal(status, 201);
    }

    const field = bob.page.getByLabel('Search messages');
    await field.pressSequentially('quarter', { delay: 20 });
    await expectCount(hits(bob.page), 1);
    const hit = hits(bob.page).first();
    await expectText(hit.locator('mark'), 'Quarterly');
    await expectText(hit.getByTestId('search-hit-conversation'), 'Alice');
    assert.match((await hit.getByTestId('search-hit-snippet').textContent()) ?? '', /^Alice: The Quarterly report is ready for review$/);
    await expectText(bob.page.getByTestId('search-status'), '1 message found');
    await expectGone(bob.page.getByTestId('conversation-list'));

    // From the keyboard: down into the hits, Enter opens the conversation at the message.
    await field.press('ArrowDown');
    await until(() => hit.evaluate((element) => element === document.activeElement), (focused) => focused, 'the hit to take focus');
    await bob.page.keyboard.press('Enter');
    await expectVisible(bob.page.getByTestId('chat-view'));
    await expectText(bob.page.getByTestId('chat-title'), 'Alice');
    await until(() => inView(bob.page, 1), (visible) => visible, 'the found message scrolled into view');
    await expectAttribute(bob.page.locator('[data-seq="1"]'), 'data-search-focus', '');
    assert.equal(await inView(bob.page, 61), false, 'the view is at the message, not at the bottom');

    // Escape in the field clears the search and the conversation list is back.
    await field.press('Escape');
    await expectVisible(bob.page.getByTestId('conversation-list'));
    await expectGone(bob.page.getByTestId('search-results'));

    // Words nobody wrote: said so, in the status line.
    await field.fill('nonexistent words');
    await expectText(bob.page.getByTestId('search-status'), 'No messages with “nonexistent words”');
    assertNoPageErrors(alice, bob);
  });
});
