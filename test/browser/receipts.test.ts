/**
 * Receipts in the web app, in a real browser against a real server, each
 * person in their own browser context: one tick while the message is only
 * stored, two once a device of the other person holds it, blue once they
 * read it; in a group, how many of the members read it; and a person who
 * turns read receipts off in the notifications and privacy dialog is no
 * longer shown reading.
 */
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  assertNoPageErrors,
  browserSkipReason,
  createGroup,
  expectAttribute,
  expectText,
  expectVisible,
  messages,
  openConversation,
  send,
  signIn,
  startDirectChat,
  suiteBrowser,
  suiteWebServer,
} from './support.js';

// Without a browser: every test below is counted as skipped, with a banner (a failure in CI).
const skip = browserSkipReason('receipts.test.ts');

/** The send state of the open conversation's own message with this text. */
function tickOf(page: Page, text: string) {
  return messages(page).filter({ hasText: text }).getByTestId('send-state');
}

describe('receipts in the web app', { timeout: 120_000 }, () => {
  const browser = suiteBrowser(skip);
  const web = suiteWebServer(skip);

  test('a message shows sent, then delivered when the other’s device holds it, then read when they open it', { skip }, async () => {
    const alice = await browser.signedUp(web.baseUrl, 'rc-alice', 'Alice');
    const bob = await browser.signedUp(web.baseUrl, 'rc-bob', 'Bob');
    // Bob closes the app: no device of his is online.
    await bob.page.goto('about:blank');

    await startDirectChat(alice.page, 'rc-bob');
    await send(alice.page, 'are you free tonight?');
    await expectAttribute(tickOf(alice.page, 'are you free tonight?'), 'data-state', 'sent');

    // Bob's phone signs in: it holds the message without opening it.
    const phone = await browser.newUser({ width: 390, height: 800 });
    await signIn(phone.page, web.baseUrl, 'rc-bob', 'Bob');
    await expectAttribute(tickOf(alice.page, 'are you free tonight?'), 'data-state', 'delivered');
    await expectAttribute(tickOf(alice.page, 'are you free tonight?'), 'title', 'Delivered');

    await openConversation(phone.page, 'Alice');
    await expectAttribute(tickOf(alice.page, 'are you free tonight?'), 'data-state', 'read');
    await expectText(tickOf(alice.page, 'are you free tonight?').locator('.visually-hidden'), 'Read');

    // Bob turns read receipts off: what he reads next stays delivered for Alice.
    await phone.page.getByRole('button', { name: 'Back to conversations' }).click();
    await expectVisible(phone.page.getByTestId('conversation-list'));
    await phone.page.getByRole('button', { name: 'Notifications and privacy' }).click();
    const dialog = phone.page.getByRole('dialog', { name: 'Notifications and privacy' });
    const receiptsSwitch = dialog.getByRole('switch', { name: 'Read receipts' });
    await expectAttribute(receiptsSwitch, 'aria-checked', 'true');
    await receiptsSwitch.click();
    await expectAttribute(receiptsSwitch, 'aria-checked', 'false');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await openConversation(phone.page, 'Alice');
    await send(alice.page, 'the usual place?');
    await expectAttribute(tickOf(alice.page, 'the usual place?'), 'data-state', 'delivered');
    await expectVisible(messages(phone.page).filter({ hasText: 'the usual place?' }));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await expectAttribute(tickOf(alice.page, 'the usual place?'), 'data-state', 'delivered');
    assertNoPageErrors(alice, phone);
  });

  test('in a group, the sender sees how many of the members read it', { skip }, async () => {
    const ann = await browser.signedUp(web.baseUrl, 'rc-ann', 'Ann');
    const ben = await browser.signedUp(web.baseUrl, 'rc-ben', 'Ben');
    const cid = await browser.signedUp(web.baseUrl, 'rc-cid', 'Cid');
    await createGroup(ann.page, 'Climbing', ['rc-ben', 'rc-cid']);
    await send(ann.page, 'Saturday 9am?');
    const tick = tickOf(ann.page, 'Saturday 9am?');
    await expectAttribute(tick, 'data-state', 'delivered');
    await expectText(tick.getByTestId('read-count'), '0/2');

    await openConversation(ben.page, 'Climbing');
    await expectText(tick.getByTestId('read-count'), '1/2');
    await expectAttribute(tick, 'title', 'Read by 1 of 2');
    await openConversation(cid.page, 'Climbing');
    await expectText(tick.getByTestId('read-count'), '2/2');
    await expectAttribute(tick, 'data-state', 'read');
    assertNoPageErrors(ann, ben, cid);
  });
});
