/**
 * A user's own settings of a conversation in the web app, in a real browser
 * against a real server: one user signed in on a laptop and a phone (two
 * browser contexts), while others write through the integration API. Pinning
 * on one device moves the conversation to the top on the other, with a pin;
 * muting shows a crossed bell and a grey badge everywhere; text left in a
 * composer is a "Draft:" in the other device's list and in its composer, and
 * sending it clears it on both; unmuting and unpinning undo it all. A
 * deployment's pin limit is explained, and the options menu works from the
 * keyboard.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  assertNoPageErrors,
  browserSkipReason,
  conversationItem,
  expectAttribute,
  expectCount,
  expectGone,
  expectText,
  expectTexts,
  expectVisible,
  messageTexts,
  openConversation,
  send,
  signIn,
  startDirectChat,
  startWebServer,
  suiteBrowser, suiteWebServer,
  until,
} from './support.js';

// Without a browser: every test below is counted as skipped, with a banner (a failure in CI).
const skip = browserSkipReason('conversation-settings.test.ts');

const PHONE = { width: 390, height: 844 };

/** Picks an item of the open conversation's options menu, as a user does. */
async function chooseOption(page: Page, item: string): Promise<void> {
  await page.getByRole('button', { name: 'Conversation options' }).click();
  await page.getByRole('menu', { name: 'Conversation options' }).getByRole('menuitem', { name: item, exact: true }).click();
  await expectGone(page.getByRole('menu'));
}

function composerText(page: Page): Promise<string> {
  return page.getByTestId('composer-input').inputValue();
}

async function expectComposer(page: Page, expected: string): Promise<void> {
  await until(() => composerText(page), (text) => text === expected, `the composer to hold ${JSON.stringify(expected)}`);
}

function names(page: Page) {
  return page.getByTestId('conversation-name');
}

function previewOf(page: Page, name: string) {
  return conversationItem(page, name).getByTestId('conversation-preview');
}

async function backToList(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Back to conversations' }).click();
  await expectVisible(page.getByTestId('conversation-list'));
}

async function openedId(page: Page): Promise<string> {
  const conversationId = await page.getByTestId('chat-view').getAttribute('data-conversation-id');
  assert.ok(conversationId);
  return conversationId;
}

describe('conversation settings in the web app', { timeout: 120_000 }, () => {
  const browser = suiteBrowser(skip);
  const web = suiteWebServer(skip);

  /** A message from someone else, through the integration API. */
  const post = async (conversationId: string, senderId: string, text: string) => {
    const { status } = await web.fixture.api.call('POST', `/v1/conversations/${encodeURIComponent(conversationId)}/messages`, { senderId, text });
    assert.equal(status, 201);
  };

  test('pin, mute and drafts follow the user between their laptop and their phone', { skip }, async () => {
    const laptop = await browser.signedUp(web.baseUrl, 'set-alice', 'Alice');
    await web.fixture.api.createUser('set-bob', 'Bob');
    await web.fixture.api.createUser('set-carol', 'Carol');
    await startDirectChat(laptop.page, 'set-bob');
    const bobChat = await openedId(laptop.page);
    await send(laptop.page, 'hi Bob');
    await startDirectChat(laptop.page, 'set-carol');
    const carolChat = await openedId(laptop.page);
    await send(laptop.page, 'hi Carol');

    const phone = await browser.newUser(PHONE);
    await signIn(phone.page, web.baseUrl, 'set-alice', 'Alice');
    for (const page of [laptop.page, phone.page]) await expectTexts(names(page), ['Carol', 'Bob']);

    // Pinned on the laptop: on top on both, with a pin, and it stays there when Carol writes.
    await openConversation(laptop.page, 'Bob');
    await chooseOption(laptop.page, 'Pin');
    for (const page of [laptop.page, phone.page]) {
      await expectTexts(names(page), ['Bob', 'Carol']);
      await expectVisible(conversationItem(page, 'Bob').getByRole('img', { name: 'Pinned' }));
      await expectCount(conversationItem(page, 'Carol').getByRole('img', { name: 'Pinned' }), 0);
    }
    await post(carolChat, 'set-carol', 'anyone there?');
    for (const page of [laptop.page, phone.page]) {
      await expectText(previewOf(page, 'Carol'), 'anyone there?');
      await expectTexts(names(page), ['Bob', 'Carol']);
    }

    // Muted "always" on the phone: the laptop shows the crossed bell; the phone's menu offers Unmute.
    await openConversation(phone.page, 'Bob');
    await chooseOption(phone.page, 'Mute always');
    await expectVisible(conversationItem(laptop.page, 'Bob').getByRole('img', { name: 'Muted' }));
    const options = phone.page.getByRole('button', { name: 'Conversation options' });
    await options.click();
    const menu = phone.page.getByRole('menu', { name: 'Conversation options' });
    await expectTexts(menu.getByRole('menuitem'), ['Unpin', 'Unmute']);
    await phone.page.keyboard.press('Escape');
    await expectGone(menu);
    assert.equal(await options.evaluate((button) => button === document.activeElement), true, 'Escape returns to the button');
    await backToList(phone.page);
    await expectVisible(conversationItem(phone.page, 'Bob').getByRole('img', { name: 'Muted' }));

    // Bob writes while muted: his messages still count, in a grey badge.
    await openConversation(laptop.page, 'Carol');
    await post(bobChat, 'set-bob', 'are you coming?');
    for (const page of [laptop.page, phone.page]) {
      const badge = conversationItem(page, 'Bob').getByTestId('unread-badge');
      await expectText(badge, '1');
      await expectAttribute(badge, 'class', 'unread-badge muted-badge');
    }
    for (const page of [laptop.page, phone.page]) await until(() => page.title(), (title) => title === '(1) Parley', 'the muted unread in the title');

    // "Leave muted chats out of the badge", turned on on the phone: both titles drop it; the badge in the list stays.
    await phone.page.getByTestId('notifications-open').click();
    const badgeSwitch = phone.page.getByTestId('notifications-dialog').getByTestId('badge-muted-switch');
    await until(() => badgeSwitch.isChecked(), (checked) => !checked, 'the switch to show the setting (off)');
    await badgeSwitch.click();
    await until(() => badgeSwitch.isChecked(), (checked) => checked, 'the switch to follow the server (on)');
    await phone.page.keyboard.press('Escape');
    for (const page of [laptop.page, phone.page]) {
      await until(() => page.title(), (title) => title === 'Parley', 'the title without the muted conversation');
      await expectText(conversationItem(page, 'Bob').getByTestId('unread-badge'), '1');
    }

    // Text left in the laptop's composer when switching conversations is a draft on the phone.
    await openConversation(laptop.page, 'Bob');
    await laptop.page.getByTestId('composer-input').fill('see you at six');
    await openConversation(laptop.page, 'Carol');
    for (const page of [laptop.page, phone.page]) await expectText(previewOf(page, 'Bob'), 'Draft: see you at six');
    // Text left alone is saved once typing pauses; a list never shows the open conversation's draft.
    await laptop.page.getByTestId('composer-input').fill('call you later');
    await expectText(previewOf(phone.page, 'Carol'), 'Draft: call you later');
    await expectText(previewOf(laptop.page, 'Carol'), 'anyone there?');

    // Opened on the phone, the conversation's composer holds the draft.
    await openConversation(phone.page, 'Bob');
    await expectComposer(phone.page, 'see you at six');

    // Sent from the laptop: the draft is gone on both, the phone's composer too.
    await openConversation(laptop.page, 'Bob');
    await expectComposer(laptop.page, 'see you at six');
    await laptop.page.getByTestId('composer-input').press('Enter');
    await expectText(messageTexts(laptop.page).last(), 'see you at six');
    await expectText(messageTexts(phone.page).last(), 'see you at six');
    await expectComposer(phone.page, '');
    await backToList(phone.page);
    await expectText(previewOf(phone.page, 'Bob'), 'You: see you at six');
    await openConversation(laptop.page, 'Carol');
    await expectComposer(laptop.page, 'call you later');
    await expectText(previewOf(laptop.page, 'Bob'), 'You: see you at six');

    // Carol writes again: newer, but below the pinned conversation; her badge is not muted.
    await openConversation(laptop.page, 'Bob');
    await post(carolChat, 'set-carol', 'ok!');
    for (const page of [laptop.page, phone.page]) {
      const badge = conversationItem(page, 'Carol').getByTestId('unread-badge');
      await expectText(badge, '1');
      await expectAttribute(badge, 'class', 'unread-badge');
      await expectTexts(names(page), ['Bob', 'Carol']);
    }

    // Unmuted and unpinned: plain again on both, and back in order of activity.
    await chooseOption(laptop.page, 'Unmute');
    await expectGone(conversationItem(phone.page, 'Bob').getByRole('img', { name: 'Muted' }));
    await chooseOption(laptop.page, 'Unpin');
    for (const page of [laptop.page, phone.page]) {
      await expectTexts(names(page), ['Carol', 'Bob']);
      await expectCount(page.getByRole('img', { name: 'Pinned' }), 0);
      await expectCount(page.getByRole('img', { name: 'Muted' }), 0);
    }
    await openConversation(laptop.page, 'Carol');
    await post(bobChat, 'set-bob', 'see you');
    for (const page of [laptop.page, phone.page]) {
      const badge = conversationItem(page, 'Bob').getByTestId('unread-badge');
      await expectText(badge, '1');
      await expectAttribute(badge, 'class', 'unread-badge');
      // Unmuted, it counts in the badge again, the setting still on.
      await until(() => page.title(), (title) => title === '(1) Parley', 'the unmuted conversation in the title');
    }
    assertNoPageErrors(laptop, phone);
  });

  test('one pin too many says how many can be pinned; the options menu works from the keyboard', { skip }, async (t) => {
    const small = await startWebServer(t, { limits: { maxPinned: 2 } });
    const alice = await browser.signedUp(small.server.httpUrl, 'lim-alice', 'Alice');
    for (const [userId, name] of [
      ['lim-bob', 'Bob'],
      ['lim-carol', 'Carol'],
      ['lim-dan', 'Dan'],
    ] as const) {
      await small.api.createUser(userId, name);
      await startDirectChat(alice.page, userId);
    }
    for (const name of ['Bob', 'Carol']) {
      await openConversation(alice.page, name);
      await chooseOption(alice.page, 'Pin');
    }
    await expectTexts(names(alice.page), ['Carol', 'Bob', 'Dan']);

    await openConversation(alice.page, 'Dan');
    const options = alice.page.getByRole('button', { name: 'Conversation options' });
    await options.focus();
    await alice.page.keyboard.press('Enter');
    const focusedItem = () => alice.page.evaluate(() => (document.activeElement?.getAttribute('role') === 'menuitem' ? document.activeElement.textContent : null));
    await until(focusedItem, (label) => label === 'Pin', 'the first item to have focus');
    await alice.page.keyboard.press('ArrowDown');
    await until(focusedItem, (label) => label === 'Mute for 8 hours', 'the next item to have focus');
    await alice.page.keyboard.press('End');
    await until(focusedItem, (label) => label === 'Mute always', 'the last item to have focus');
    await alice.page.keyboard.press('ArrowDown');
    await until(focusedItem, (label) => label === 'Pin', 'focus to wrap around to the first item');
    await alice.page.keyboard.press('Enter');

    const error = alice.page.getByTestId('conversation-error');
    await expectText(error.locator('span'), 'You can pin at most 2 conversations. Unpin one first.');
    await expectTexts(names(alice.page), ['Carol', 'Bob', 'Dan']);
    await expectCount(conversationItem(alice.page, 'Dan').getByRole('img', { name: 'Pinned' }), 0);
    await error.getByRole('button', { name: 'Dismiss' }).click();
    await expectGone(error);

    // Muted for 8 hours from the keyboard: marked now, offered Unmute.
    await options.focus();
    await alice.page.keyboard.press('ArrowDown');
    await until(focusedItem, (label) => label === 'Pin', 'the menu to open on its first item');
    await alice.page.keyboard.press('ArrowDown');
    await alice.page.keyboard.press('Enter');
    await expectVisible(conversationItem(alice.page, 'Dan').getByRole('img', { name: 'Muted' }));
    await options.click();
    await expectTexts(alice.page.getByRole('menu').getByRole('menuitem'), ['Pin', 'Unmute']);
    await alice.page.keyboard.press('Escape');
    await expectGone(alice.page.getByRole('menu'));
    assertNoPageErrors(alice);
  });
});
