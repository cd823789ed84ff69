/**
 * Typing indicators in the web app, in a real browser against a real server:
 * each person in their own browser context. What one types (and has not
 * sent) shows in the others' open chat, in a polite status line, and in
 * their conversation list in place of the preview; clearing the text,
 * leaving the conversation or sending ends it at once, and an indicator
 * nobody renews goes away by itself after a few seconds.
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
  expectText,
  expectTexts,
  messageTexts,
  openConversation,
  send,
  startDirectChat,
  suiteBrowser, suiteWebServer,
  until,
} from './support.js';

// Without a browser: every test below is counted as skipped, with a banner (a failure in CI).
const skip = browserSkipReason('typing.test.ts');

/**
 * An indicator nobody renews lapses 6 s after it arrived. Gone within this
 * long of an action (shortly after it showed) means the action ended it,
 * not the lapse.
 */
const ENDED_BY_ACTION_MS = 3000;
/** Generous bounds on the 6 s lapse: it outlasts a pause, and it does end. */
const LAPSE_AT_LEAST_MS = 3000;
const LAPSE_AT_MOST_MS = 15_000;

function typingIndicator(page: Page) {
  return page.getByTestId('chat-view').getByTestId('typing-indicator');
}

function previewOf(page: Page, name: string) {
  return conversationItem(page, name).getByTestId('conversation-preview');
}

/** Types into the open conversation's composer key by key, as a person does. */
async function typeText(page: Page, text: string): Promise<void> {
  await page.getByTestId('composer-input').pressSequentially(text, { delay: 15 });
}

/** Empties the composer from the keyboard, without sending. */
async function clearComposer(page: Page): Promise<void> {
  const input = page.getByTestId('composer-input');
  await input.press('ControlOrMeta+a');
  await input.press('Backspace');
  await until(() => input.inputValue(), (value) => value === '', 'the composer to empty');
}

/** The animation the indicator's first dot runs ('none' when it is still). */
function dotAnimation(page: Page): Promise<string> {
  return typingIndicator(page)
    .locator('.typing-dots span')
    .first()
    .evaluate((dot) => getComputedStyle(dot).animationName);
}

describe('typing indicators in the web app', { timeout: 120_000 }, () => {
  const browser = suiteBrowser(skip);
  const web = suiteWebServer(skip);

  const person = (userId: string, name: string) => browser.signedUp(web.baseUrl, userId, name);

  test('typing shows in the other’s open chat and list; clearing the text or sending ends it at once', { skip }, async () => {
    const alice = await person('typ-alice', 'Alice');
    const bob = await person('typ-bob', 'Bob');
    await startDirectChat(alice.page, 'typ-bob');
    await send(alice.page, 'hello');
    await openConversation(bob.page, 'Alice');
    await expectTexts(messageTexts(bob.page), ['hello']);
    const indicator = typingIndicator(bob.page);
    await expectAttribute(indicator, 'role', 'status');
    await expectAttribute(indicator, 'aria-live', 'polite');
    await expectText(indicator, '');

    await typeText(alice.page, 'I am writ');
    await expectText(indicator, 'Alice is typing…');
    await expectText(previewOf(bob.page, 'Alice'), 'typing…');
    await until(() => dotAnimation(bob.page), (name) => name === 'typing-dot', 'the dots to move');
    // Nobody is shown their own typing.
    await expectText(typingIndicator(alice.page), '');

    await clearComposer(alice.page);
    await expectText(indicator, '', ENDED_BY_ACTION_MS);
    await expectText(previewOf(bob.page, 'Alice'), 'hello');

    await typeText(alice.page, 'See you at 8');
    await expectText(indicator, 'Alice is typing…');
    await alice.page.getByTestId('composer-input').press('Enter');
    await expectTexts(messageTexts(bob.page), ['hello', 'See you at 8']);
    await expectText(indicator, '', ENDED_BY_ACTION_MS);
    await expectText(previewOf(bob.page, 'Alice'), 'See you at 8');
    assertNoPageErrors(alice, bob);
  });

  test('in a group, two typing at once are both named, in the chat and the list; switching conversation ends one', { skip }, async () => {
    const alice = await person('typ3-alice', 'Alice');
    const bob = await person('typ3-bob', 'Bob');
    const carol = await person('typ3-carol', 'Carol');
    // A second conversation for Carol to switch to.
    await startDirectChat(alice.page, 'typ3-carol');
    await send(alice.page, 'hi Carol');
    await createGroup(alice.page, 'Typing trio', ['typ3-bob', 'typ3-carol']);
    await send(alice.page, 'plans?');
    for (const other of [bob, carol]) {
      await openConversation(other.page, 'Typing trio');
      await expectTexts(messageTexts(other.page), ['plans?']);
    }
    const indicator = typingIndicator(bob.page);

    await typeText(alice.page, 'maybe the lake');
    await expectText(indicator, 'Alice is typing…');
    await expectText(previewOf(bob.page, 'Typing trio'), 'Alice is typing…');
    await typeText(carol.page, 'or the hills');
    // In the order they started.
    await expectText(indicator, 'Alice and Carol are typing…');
    await expectText(previewOf(bob.page, 'Typing trio'), 'Alice and Carol are typing…');
    // Alice goes on typing (which keeps her shown however slow the steps are); each typer sees only the other.
    await typeText(alice.page, ' or');
    await expectText(typingIndicator(alice.page), 'Carol is typing…');
    await expectText(typingIndicator(carol.page), 'Alice is typing…');

    // Carol switches to another conversation with her text unsent: she is no longer typing in the group.
    await typeText(alice.page, ' so');
    await openConversation(carol.page, 'Alice');
    await expectText(indicator, 'Alice is typing…', ENDED_BY_ACTION_MS);

    await clearComposer(alice.page);
    await expectText(indicator, '', ENDED_BY_ACTION_MS);
    await expectText(previewOf(bob.page, 'Typing trio'), 'Alice: plans?');
    assertNoPageErrors(alice, bob, carol);
  });

  test('someone who stops typing without clearing stops being shown after a few seconds; the dots keep still for reduced motion', { skip }, async () => {
    const alice = await person('lapse-alice', 'Alice');
    const bob = await person('lapse-bob', 'Bob');
    await bob.page.emulateMedia({ reducedMotion: 'reduce' });
    await startDirectChat(alice.page, 'lapse-bob');
    await send(alice.page, 'one thing');
    await openConversation(bob.page, 'Alice');
    await expectTexts(messageTexts(bob.page), ['one thing']);
    const indicator = typingIndicator(bob.page);

    await typeText(alice.page, 'and anoth');
    await expectText(indicator, 'Alice is typing…');
    const shownAt = Date.now();
    assert.equal(await dotAnimation(bob.page), 'none');

    // Alice pauses with her text still there: nothing renews the indicator.
    await expectText(indicator, '', LAPSE_AT_MOST_MS);
    const shownFor = Date.now() - shownAt;
    assert.ok(shownFor >= LAPSE_AT_LEAST_MS, `shown for a while before it lapsed (${shownFor} ms)`);
    await expectText(previewOf(bob.page, 'Alice'), 'one thing');
    assert.equal(await alice.page.getByTestId('composer-input').inputValue(), 'and anoth');
    assertNoPageErrors(alice, bob);
  });
});
