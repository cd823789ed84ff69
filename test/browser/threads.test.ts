/**
 * Threads in the web app, in a real browser against a real server, each
 * person in their own browser context: a reply in a thread stays out of the
 * timeline and counts under its root; the root's sender sees it as new, on
 * the root and in the list, until she opens the thread; replies arrive live
 * in an open thread; the count survives a reload.
 */
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  assertNoPageErrors,
  browserSkipReason,
  conversationItem,
  createGroup,
  expectAttribute,
  expectCount,
  expectText,
  expectTexts,
  expectVisible,
  messages,
  openConversation,
  openMessageMenu,
  send,
  suiteBrowser,
  suiteWebServer,
  until,
} from './support.js';

const skip = browserSkipReason('threads.test.ts');

/** The open conversation's timeline message with this text (the thread panel is beside it, not in it). */
function timelineMessage(page: Page, text: string) {
  return page.getByTestId('message-scroller').getByTestId('message').filter({ hasText: text });
}

/** The texts of the open conversation's timeline, in order. */
function timelineTexts(page: Page) {
  return page.getByTestId('message-scroller').getByTestId('message-text');
}

function threadPanel(page: Page) {
  return page.getByRole('region', { name: 'Thread' });
}

/** The texts of the open thread's replies, in order. */
function replyTexts(page: Page) {
  return threadPanel(page).getByTestId('thread-replies').getByTestId('message-text');
}

/** A root's replies link, as read out: "2 replies · 1 new, open the thread". */
function threadLink(page: Page, rootText: string) {
  return timelineMessage(page, rootText).getByTestId('thread-link');
}

async function replyInThread(page: Page, text: string): Promise<void> {
  const input = threadPanel(page).getByTestId('thread-composer');
  await input.fill(text);
  await input.press('Enter');
  await until(() => input.inputValue(), (value) => value === '', 'the thread composer to empty');
}

describe('threads in the web app', { timeout: 120_000 }, () => {
  const browser = suiteBrowser(skip);
  const web = suiteWebServer(skip);

  test('a reply in a thread: counted under its root, new to the root’s sender until she opens it, live both ways', { skip }, async () => {
    const alice = await browser.signedUp(web.baseUrl, 'th-alice', 'Alice');
    const ben = await browser.signedUp(web.baseUrl, 'th-ben', 'Ben');
    await createGroup(alice.page, 'Trip', ['th-ben']);
    await send(alice.page, 'root message');
    await openConversation(ben.page, 'Trip');

    // Ben answers in a thread, from the message's menu.
    const menu = await openMessageMenu(ben.page, timelineMessage(ben.page, 'root message'));
    await menu.getByRole('menuitem', { name: 'Reply in thread' }).click();
    await expectVisible(threadPanel(ben.page));
    await expectTexts(threadPanel(ben.page).getByRole('list', { name: 'Thread root' }).getByTestId('message-text'), ['root message']);
    await replyInThread(ben.page, 'count me in');
    await expectTexts(replyTexts(ben.page), ['count me in']);
    await expectText(threadLink(ben.page, 'root message'), '1 reply, open the thread');

    // A reply is not itself a root: its menu has no thread to open.
    const replyMenu = await openMessageMenu(ben.page, threadPanel(ben.page).getByTestId('message').filter({ hasText: 'count me in' }));
    await expectCount(replyMenu.getByRole('menuitem', { name: 'Reply in thread' }), 0);
    await ben.page.keyboard.press('Escape');

    // Alice sees it under her message, as new, and in the list; not in the timeline.
    await expectText(threadLink(alice.page, 'root message'), '1 reply · 1 new, open the thread');
    await expectTexts(timelineTexts(alice.page), ['root message']);
    const badge = conversationItem(alice.page, 'Trip').getByTestId('thread-unread');
    await expectAttribute(badge, 'aria-label', '1 unread thread reply');
    await expectCount(conversationItem(alice.page, 'Trip').getByTestId('unread-badge'), 0);

    // She opens the thread: the reply is there, and it is read.
    await threadLink(alice.page, 'root message').click();
    await expectTexts(replyTexts(alice.page), ['count me in']);
    await expectCount(badge, 0);
    await expectText(threadLink(alice.page, 'root message'), '1 reply, open the thread');

    // Her answer arrives live in Ben's open thread, which he has then read too.
    await replyInThread(alice.page, 'see you there');
    await expectTexts(replyTexts(ben.page), ['count me in', 'see you there']);
    await expectTexts(replyTexts(alice.page), ['count me in', 'see you there']);
    for (const page of [alice.page, ben.page]) await expectText(threadLink(page, 'root message'), '2 replies, open the thread');
    await expectCount(conversationItem(ben.page, 'Trip').getByTestId('thread-unread'), 0);
    await expectTexts(timelineTexts(ben.page), ['root message']);

    // Closing the thread takes the panel away.
    await threadPanel(alice.page).getByRole('button', { name: 'Close thread' }).click();
    await expectCount(threadPanel(alice.page), 0);

    // The count is the server's: it survives a reload.
    await alice.page.reload();
    await openConversation(alice.page, 'Trip');
    await expectText(threadLink(alice.page, 'root message'), '2 replies, open the thread');
    await expectTexts(timelineTexts(alice.page), ['root message']);
    await expectCount(messages(alice.page).filter({ hasText: 'count me in' }), 0);
    assertNoPageErrors(alice, ben);
  });
});
