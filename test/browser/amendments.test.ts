/**
 * Recall, edit and delete for me in the web app, in a real browser against a
 * real server, each person in their own browser context: the message menu
 * offers what the user may do; an edit is made in the bubble and shows,
 * marked edited, on the other side; a recall replaces the message with a
 * line on both sides and in the list; a deletion for oneself leaves the
 * other side untouched.
 */
import assert from 'node:assert/strict';
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
  messageTexts,
  messages,
  openMessageMenu,
  openConversation,
  send,
  startDirectChat,
  suiteBrowser,
  suiteWebServer,
  until,
} from './support.js';

const skip = browserSkipReason('amendments.test.ts');

/** The open conversation's message with this text. */
function messageWith(page: Page, text: string) {
  return messages(page).filter({ hasText: text });
}

/** Opens the options menu of the open conversation's message with this text. */
function openMenu(page: Page, text: string) {
  return openMessageMenu(page, messageWith(page, text));
}

describe('recall, edit and delete for me in the web app', { timeout: 120_000 }, () => {
  const browser = suiteBrowser(skip);
  const web = suiteWebServer(skip);

  test('an edit, a recall and a deletion for oneself, seen from both sides', { skip }, async () => {
    const alice = await browser.signedUp(web.baseUrl, 'am-alice', 'Alice');
    const bob = await browser.signedUp(web.baseUrl, 'am-bob', 'Bob');
    await startDirectChat(alice.page, 'am-bob');
    await send(alice.page, 'see you at 8');
    await send(alice.page, 'wrong chat, sorry');
    await send(alice.page, 'bring snacks');
    await openConversation(bob.page, 'Alice');
    await expectTexts(messageTexts(bob.page), ['see you at 8', 'wrong chat, sorry', 'bring snacks']);

    // Bob's menu on Alice's message: reactions, a reply, and deleting it for himself.
    const reactions = ['👍 Like', '❤️ Love', '😂 Laugh', '😮 Wow', '😢 Sad', '🙏 Thanks'];
    let menu = await openMenu(bob.page, 'see you at 8');
    await expectTexts(menu.getByRole('menuitem'), [...reactions, 'Reply', 'Reply in thread', 'Delete for me']);
    await bob.page.keyboard.press('Escape');

    // Alice edits in the bubble.
    menu = await openMenu(alice.page, 'see you at 8');
    await expectTexts(menu.getByRole('menuitem'), [...reactions, 'Reply', 'Reply in thread', 'Edit', 'Recall', 'Delete for me']);
    await menu.getByRole('menuitem', { name: 'Edit' }).click();
    const editor = alice.page.getByRole('textbox', { name: 'Edit message' });
    await editor.fill('see you at 9');
    await editor.press('Enter');
    for (const page of [alice.page, bob.page]) {
      await expectVisible(messageWith(page, 'see you at 9').getByTestId('edited-mark'));
      await expectCount(messageWith(page, 'see you at 8'), 0);
    }

    // Bob asks how it read before: "edited" opens every version, oldest first.
    await messageWith(bob.page, 'see you at 9').getByTestId('edited-mark').click();
    const history = bob.page.getByRole('dialog', { name: 'Edit history' });
    await expectTexts(history.getByTestId('edit-version').locator('.edit-history-text'), ['see you at 8', 'see you at 9']);
    await bob.page.keyboard.press('Escape');
    await expectCount(history, 0);

    // Alice recalls one: both sides see a line in its place.
    menu = await openMenu(alice.page, 'wrong chat, sorry');
    await menu.getByRole('menuitem', { name: 'Recall' }).click();
    await expectText(alice.page.getByTestId('chat-view').locator('[data-kind="recalled"]'), 'You recalled a message');
    await expectText(bob.page.getByTestId('chat-view').locator('[data-kind="recalled"]'), 'Alice recalled a message');
    await expectTexts(messageTexts(bob.page), ['see you at 9', 'bring snacks']);

    // Bob deletes one for himself: gone on his side only.
    menu = await openMenu(bob.page, 'bring snacks');
    await menu.getByRole('menuitem', { name: 'Delete for me' }).click();
    await expectTexts(messageTexts(bob.page), ['see you at 9']);
    await expectTexts(messageTexts(alice.page), ['see you at 9', 'bring snacks']);
    await expectText(conversationItem(bob.page, 'Alice').getByTestId('conversation-preview'), 'Alice recalled a message');

    // After a reload, what he deleted stays deleted and the edit stays.
    await bob.page.reload();
    await openConversation(bob.page, 'Alice');
    await expectTexts(messageTexts(bob.page), ['see you at 9']);
    assert.equal(await messageWith(bob.page, 'see you at 9').getByTestId('edited-mark').count(), 1);
    assertNoPageErrors(alice, bob);
  });

  test('reactions across two users: chosen from the menu, counted on both sides, taken back with a click', { skip }, async () => {
    const ann = await browser.signedUp(web.baseUrl, 'rx-ann', 'Ann');
    const ben = await browser.signedUp(web.baseUrl, 'rx-ben', 'Ben');
    await startDirectChat(ann.page, 'rx-ben');
    await send(ann.page, 'we got the venue!');
    await openConversation(ben.page, 'Ann');
    const menu = await openMenu(ben.page, 'we got the venue!');
    await menu.getByRole('menuitem', { name: '❤️ Love' }).click();
    for (const page of [ann.page, ben.page]) {
      await expectTexts(messageWith(page, 'we got the venue!').getByTestId('reaction'), ['❤️ 1']);
    }
    await expectAttribute(messageWith(ben.page, 'we got the venue!').getByTestId('reaction'), 'aria-pressed', 'true');
    await expectAttribute(messageWith(ann.page, 'we got the venue!').getByTestId('reaction'), 'aria-pressed', 'false');

    // Ann adds the same one from the chip: two; then Ben takes his back.
    await messageWith(ann.page, 'we got the venue!').getByTestId('reaction').click();
    for (const page of [ann.page, ben.page]) await expectTexts(messageWith(page, 'we got the venue!').getByTestId('reaction'), ['❤️ 2']);
    await messageWith(ben.page, 'we got the venue!').getByTestId('reaction').click();
    for (const page of [ann.page, ben.page]) await expectTexts(messageWith(page, 'we got the venue!').getByTestId('reaction'), ['❤️ 1']);
    await expectAttribute(messageWith(ann.page, 'we got the venue!').getByTestId('reaction'), 'aria-pressed', 'true');

    // A reload shows what the server keeps.
    await ben.page.reload();
    await openConversation(ben.page, 'Ann');
    await expectTexts(messageWith(ben.page, 'we got the venue!').getByTestId('reaction'), ['❤️ 1']);
    await expectAttribute(messageWith(ben.page, 'we got the venue!').getByTestId('reaction'), 'aria-pressed', 'false');
    assertNoPageErrors(ann, ben);
  });

  test('a mention chosen from the suggestions marks the message and the list; a reply quotes what it answers', { skip }, async () => {
    const ann = await browser.signedUp(web.baseUrl, 'mn-ann', 'Ann');
    const ben = await browser.signedUp(web.baseUrl, 'mn-ben', 'Ben');
    await browser.signedUp(web.baseUrl, 'mn-cid', 'Cid');
    await createGroup(ann.page, 'Lunch', ['mn-ben', 'mn-cid']);
    const input = ann.page.getByTestId('composer-input');
    await input.pressSequentially('@be', { delay: 20 });
    const suggestions = ann.page.getByRole('listbox', { name: 'People to mention' });
    await expectTexts(suggestions.getByRole('option'), ['@Ben mn-ben']);
    await input.press('Enter');
    await until(() => input.inputValue(), (value) => value === '@Ben ', 'the mention in the text');
    await input.pressSequentially('noodles today?', { delay: 10 });
    await input.press('Enter');
    await expectText(messageWith(ann.page, 'noodles today?').getByTestId('mention'), '@Ben');

    // Ben's list says he was mentioned until he reads it.
    await expectVisible(conversationItem(ben.page, 'Lunch').getByTestId('mention-badge'));
    await openConversation(ben.page, 'Lunch');
    await expectText(messageWith(ben.page, 'noodles today?').getByTestId('mention'), '@Ben');
    await expectCount(conversationItem(ben.page, 'Lunch').getByTestId('mention-badge'), 0);

    // He answers it.
    const menu = await openMenu(ben.page, 'noodles today?');
    await menu.getByRole('menuitem', { name: 'Reply', exact: true }).click();
    await expectText(ben.page.getByTestId('composer-reply').locator('.composer-reply-text'), 'Replying to Ann: @Ben noodles today?');
    await send(ben.page, 'yes, 12:30');
    await expectCount(ben.page.getByTestId('composer-reply'), 0);
    for (const page of [ann.page, ben.page]) {
      await expectTexts(messageWith(page, 'yes, 12:30').getByTestId('message-quote').locator('span'), ['Ann', '@Ben noodles today?']);
    }
    assertNoPageErrors(ann, ben);
  });
});
