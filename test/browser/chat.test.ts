/**
 * The web app in a real browser (headless Chromium through playwright-core)
 * against a real server: sign-up, direct chats with live messages and unread
 * badges, groups and their members, history and reload, several tabs of one
 * user, the new-message divider, the keyboard, phone-sized screens, and
 * message bodies that try to inject HTML.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../support/fixtures.js';
import {
  assertNoPageErrors,
  conversationItem,
  createGroup,
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
  until,
  watchErrors,
} from './support.js';

// Without a browser: every test below is counted as skipped, with a banner (a failure in CI).
const skip = browserSkipReason('chat.test.ts');

describe('web app', { timeout: 120_000 }, () => {
  let fixture: TestServer;
  let baseUrl: string;
  // One server and one browser for this file; each test uses its own user ids.
  const browser = suiteBrowser(skip);

  before(async () => {
    if (skip !== undefined) return;
    // A deployment that refuses one word, for the test of refused messages.
    fixture = await startWebServer(undefined, { moderation: { blockedWords: ['zonk'], blockedWordAction: 'reject' } });
    baseUrl = fixture.server.httpUrl;
  });

  after(async () => {
    await fixture?.close();
  });

  const person = (userId: string, name: string, viewport?: { width: number; height: number }) => browser.signedUp(baseUrl, userId, name, viewport);

  test('two users start a direct chat and see each other’s messages live, with correct unread badges', { skip }, async () => {
    const alice = await person('dm-alice', 'Alice');
    const bob = await person('dm-bob', 'Bob');

    await startDirectChat(alice.page, 'dm-bob');
    await expectText(alice.page.getByTestId('chat-title'), 'Bob');
    await send(alice.page, 'Hi Bob!');
    await send(alice.page, 'Are you there?');
    await expectTexts(messageTexts(alice.page), ['Hi Bob!', 'Are you there?']);
    // Both stored: the sender sees them as sent.
    await expectCount(messages(alice.page).and(alice.page.locator('[data-state="sent"]')), 2);

    // Bob has the list open: the conversation arrives live with two unread, also in the title.
    const fromAlice = conversationItem(bob.page, 'Alice');
    await expectText(fromAlice.getByTestId('unread-badge'), '2');
    await expectText(fromAlice.getByTestId('conversation-preview'), 'Are you there?');
    await until(() => bob.page.title(), (title) => title === '(2) Parley', 'the unread total in the title');

    // Opening it shows the messages in order and clears the badge and the title.
    await openConversation(bob.page, 'Alice');
    await expectTexts(messageTexts(bob.page), ['Hi Bob!', 'Are you there?']);
    await expectGone(fromAlice.getByTestId('unread-badge'));
    await until(() => bob.page.title(), (title) => title === 'Parley', 'the title without unread');

    // Bob answers; Alice, who has the conversation open, sees it at once and has nothing unread.
    await send(bob.page, 'Yes! Hi Alice');
    await expectTexts(messageTexts(alice.page), ['Hi Bob!', 'Are you there?', 'Yes! Hi Alice']);
    await expectText(conversationItem(alice.page, 'Bob').getByTestId('conversation-preview'), 'Yes! Hi Alice');
    await expectCount(conversationItem(alice.page, 'Bob').getByTestId('unread-badge'), 0);
    await expectText(bob.page.locator('[data-testid="message"][data-sender="dm-bob"]').getByTestId('message-text'), 'Yes! Hi Alice');

    // A direct chat with a user id that does not exist says so.
    await alice.page.getByTestId('new-chat').click();
    await alice.page.getByTestId('direct-user-id').fill('nobody-here');
    await alice.page.getByTestId('new-conversation-submit').click();
    await expectText(alice.page.getByTestId('new-conversation-error'), 'There is no user with that id.');
    await alice.page.keyboard.press('Escape');
    await expectGone(alice.page.getByTestId('new-conversation'));
    assertNoPageErrors(alice, bob);
  });

  test('what the backend says a conversation is about shows above it; a message the deployment refuses says why', { skip }, async () => {
    const alice = await person('about-alice', 'Alice');
    await person('about-bob', 'Bob');
    await startDirectChat(alice.page, 'about-bob');
    await send(alice.page, 'Is the bike still for sale?');
    await expectGone(alice.page.getByTestId('about-banner'));
    const conversationId = (await alice.page.getByTestId('chat-view').getAttribute('data-conversation-id')) ?? '';
    const set = await fixture.api.call('PUT', `/v1/conversations/${encodeURIComponent(conversationId)}/attributes`, {
      attributes: { title: 'Blue bike, 120 €', url: 'https://shop.example/items/42', item_id: '42' },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const banner = alice.page.getByTestId('about-banner');
    await expectText(banner.locator('.about-title'), 'Blue bike, 120 €');
    await expectAttribute(banner.locator('a.about-title'), 'href', 'https://shop.example/items/42');

    await send(alice.page, 'a zonk of a deal');
    const refused = messages(alice.page).filter({ hasText: 'a zonk of a deal' });
    await expectText(refused.locator('.failed-reason'), 'Not sent: it contains a word this service does not allow.');
    assertNoPageErrors(alice);
  });

  test('a group of three: create, talk, see and change members; newest activity first', { skip }, async () => {
    const alice = await person('grp-alice', 'Alice');
    const bob = await person('grp-bob', 'Bob');
    const carol = await person('grp-carol', 'Carol');

    // An older direct chat, so that the list order can be checked.
    await startDirectChat(alice.page, 'grp-bob');
    await send(alice.page, 'before the group');

    await createGroup(alice.page, 'Weekend trip', ['grp-bob', 'grp-carol']);
    await expectTexts(alice.page.getByTestId('conversation-name'), ['Weekend trip', 'Bob']);
    await expectVisible(messages(alice.page).filter({ hasText: 'You created the group “Weekend trip”' }));
    await send(alice.page, 'Who brings the tent?');

    for (const other of [bob, carol]) {
      await expectText(conversationItem(other.page, 'Weekend trip').getByTestId('unread-badge'), '1');
      await openConversation(other.page, 'Weekend trip');
      await expectTexts(messageTexts(other.page), ['Who brings the tent?']);
    }
    await send(bob.page, 'I do');
    await send(carol.page, 'I bring food');
    await expectTexts(messageTexts(alice.page), ['Who brings the tent?', 'I do', 'I bring food']);
    // In groups, others' messages carry their sender's display name (from the members list).
    await expectTexts(alice.page.getByTestId('message-sender'), ['Bob', 'Carol']);

    // New activity in the direct chat moves it to the top of Alice's list.
    await openConversation(bob.page, 'Alice');
    await send(bob.page, 'psst');
    await expectTexts(alice.page.getByTestId('conversation-name'), ['Bob', 'Weekend trip']);
    await expectText(conversationItem(alice.page, 'Bob').getByTestId('unread-badge'), '1');

    // Members: everyone sees the three; the owner removes Carol.
    await alice.page.getByTestId('panel-button-members').click();
    const members = alice.page.getByTestId('member');
    await until(() => members.evaluateAll((items) => items.map((item) => item.getAttribute('data-user-id'))), (ids) => ids.join() === 'grp-alice,grp-bob,grp-carol', 'three members');
    await openConversation(bob.page, 'Weekend trip');
    await bob.page.getByTestId('panel-button-members').click();
    await expectCount(bob.page.getByTestId('member'), 3);
    await expectCount(bob.page.getByTestId('remove-member'), 0); // a member cannot remove others

    await alice.page.locator('[data-testid="member"][data-user-id="grp-carol"]').getByTestId('remove-member').click();
    await expectCount(members, 2);
    await expectCount(bob.page.getByTestId('member'), 2);
    await expectVisible(messages(bob.page).filter({ hasText: 'Alice removed Carol' }));
    await expectVisible(carol.page.getByText('You are no longer a member of this group.').first());
    await expectVisible(messages(carol.page).filter({ hasText: 'Alice removed you' }));

    // Added back, Carol can write again.
    await alice.page.getByTestId('add-members-input').fill('grp-carol');
    await alice.page.getByTestId('add-members-button').click();
    await expectCount(members, 3);
    await expectVisible(carol.page.getByTestId('composer-input'));
    await send(carol.page, 'back again');
    await expectText(alice.page.getByTestId('message-text').last(), 'back again');
    assertNoPageErrors(alice, bob, carol);
  });

  test('history loads as you scroll up, and a reload keeps it and the open conversation', { skip }, async () => {
    const alice = await person('hist-alice', 'Alice');
    await fixture.api.createUser('hist-bob', 'Bob');
    await startDirectChat(alice.page, 'hist-bob');
    const conversationId = await alice.page.getByTestId('chat-view').getAttribute('data-conversation-id');
    assert.ok(conversationId);
    // 120 messages from Bob through the integration API: more than one page of history.
    for (let n = 1; n <= 120; n++) {
      const { status } = await fixture.api.call('POST', `/v1/conversations/${encodeURIComponent(conversationId)}/messages`, { senderId: n % 3 === 0 ? 'hist-alice' : 'hist-bob', text: `message ${n}` });
      assert.equal(status, 201);
    }
    await expectText(messageTexts(alice.page).last(), 'message 120');

    await alice.page.reload();
    await expectAttribute(alice.page.getByTestId('connection-state'), 'data-state', 'online');
    await expectText(alice.page.getByTestId('chat-title'), 'Bob');
    await expectText(messageTexts(alice.page).last(), 'message 120');
    const shownAfterReload = await messageTexts(alice.page).count();
    assert.ok(shownAfterReload < 120, `a reload shows the newest page, not everything (${shownAfterReload})`);

    // Scrolling up loads older pages until the beginning, in order, each once.
    const scroller = alice.page.getByTestId('message-scroller');
    await until(
      async () => {
        await scroller.evaluate((element) => element.scrollTo({ top: 0 }));
        return alice.page.getByTestId('history-state').getAttribute('data-state');
      },
      (state) => state === 'complete',
      'the whole history to load',
    );
    const texts = await messageTexts(alice.page).allTextContents();
    assert.deepEqual(texts, Array.from({ length: 120 }, (_, index) => `message ${index + 1}`));

    // Another conversation, read before the reload: opening it loads its history at once.
    await fixture.api.createUser('hist-carol', 'Carol');
    await startDirectChat(alice.page, 'hist-carol');
    await send(alice.page, 'hi Carol');
    await alice.page.reload();
    await expectText(messageTexts(alice.page).last(), 'hi Carol');
    await openConversation(alice.page, 'Bob');
    await expectText(messageTexts(alice.page).last(), 'message 120');
    await openConversation(alice.page, 'Carol');
    await expectTexts(messageTexts(alice.page), ['hi Carol']);
    assertNoPageErrors(alice);
  });

  test('two tabs of one user: reading in one clears the badge in the other', { skip }, async () => {
    const alice = await person('tabs-alice', 'Alice');
    const bob = await person('tabs-bob', 'Bob');
    // A second tab of Alice's: same browser context, so the same signed-in session.
    const secondTab = await alice.context.newPage();
    const secondTabErrors = watchErrors(secondTab);
    await secondTab.goto(`${baseUrl}/`);
    await expectText(secondTab.getByTestId('me-name'), 'Alice');
    await expectAttribute(secondTab.getByTestId('connection-state'), 'data-state', 'online');

    await startDirectChat(bob.page, 'tabs-alice');
    await send(bob.page, 'one');
    await send(bob.page, 'two');
    await send(bob.page, 'three');
    for (const tab of [alice.page, secondTab]) {
      await expectText(conversationItem(tab, 'Bob').getByTestId('unread-badge'), '3');
      await until(() => tab.title(), (title) => title === '(3) Parley', 'the unread total in the title');
    }

    // Read in the second tab: the first tab's badge and title clear too.
    await openConversation(secondTab, 'Bob');
    // The divider sits before the first unread message.
    await expectVisible(secondTab.getByTestId('unread-divider'));
    const afterDivider = await secondTab.evaluate(() => document.querySelector('[data-testid="unread-divider"]')?.nextElementSibling?.textContent ?? '');
    assert.match(afterDivider, /^one/u);
    await expectGone(conversationItem(alice.page, 'Bob').getByTestId('unread-badge'));
    await until(() => alice.page.title(), (title) => title === 'Parley', 'the first tab’s title to clear');

    // What Alice sends from one tab appears in the other as hers.
    await send(secondTab, 'hello from tab two');
    await openConversation(alice.page, 'Bob');
    await expectText(alice.page.locator('[data-testid="message"][data-sender="tabs-alice"]').getByTestId('message-text'), 'hello from tab two');
    await expectText(messageTexts(bob.page).last(), 'hello from tab two');
    assert.deepEqual(secondTabErrors, []);
    assertNoPageErrors(alice, bob);
  });

  test('message bodies are text: HTML in a message is shown, never interpreted', { skip }, async () => {
    const alice = await person('xss-alice', 'Alice');
    const bob = await person('xss-bob', 'Bob');
    const attack = '<img src=x onerror="window.__injected = true; document.title = \'pwned\'">';
    const markup = '<b>bold</b> & <script>window.__injected = true</script>';
    await startDirectChat(alice.page, 'xss-bob');
    await send(alice.page, attack);
    await send(alice.page, markup);

    await expectText(conversationItem(bob.page, 'Alice').getByTestId('conversation-preview'), markup);
    await openConversation(bob.page, 'Alice');
    for (const user of [alice, bob]) {
      await expectTexts(messageTexts(user.page), [attack, markup]);
      const chat = user.page.getByTestId('chat-view');
      assert.equal(await chat.locator('img, script, b').count(), 0, 'no element was created from a message body');
      assert.equal(await user.page.evaluate(() => (window as { __injected?: boolean }).__injected), undefined);
      assert.notEqual(await user.page.title(), 'pwned');
    }
    assertNoPageErrors(alice, bob);
  });

  test('keyboard: Enter sends, Shift+Enter starts a new line', { skip }, async () => {
    const alice = await person('kbd-alice', 'Alice');
    await fixture.api.createUser('kbd-bob', 'Bob');
    await startDirectChat(alice.page, 'kbd-bob');
    const input = alice.page.getByTestId('composer-input');
    await input.focus();
    await alice.page.keyboard.type('first line');
    await alice.page.keyboard.press('Shift+Enter');
    await alice.page.keyboard.type('second line');
    assert.equal(await input.inputValue(), 'first line\nsecond line');
    await expectCount(messages(alice.page), 0);
    await alice.page.keyboard.press('Enter');
    await expectTexts(messageTexts(alice.page), ['first line\nsecond line']);
    assert.equal(await input.inputValue(), '');
    // Blank input sends nothing.
    await alice.page.keyboard.press('Enter');
    await expectAttribute(messages(alice.page).last(), 'data-state', 'sent');
    await expectCount(messages(alice.page), 1);
    assertNoPageErrors(alice);
  });

  test('on a phone-sized screen the list and the conversation take turns', { skip }, async () => {
    const phone = { width: 390, height: 844 };
    const alice = await person('phone-alice', 'Alice', phone);
    await fixture.api.createUser('phone-bob', 'Bob');
    await expectVisible(alice.page.getByTestId('new-chat'));
    await startDirectChat(alice.page, 'phone-bob');
    // The conversation fills the screen; the list is hidden.
    assert.equal(await alice.page.getByTestId('conversation-list').isVisible(), false);
    await send(alice.page, 'sent from a phone');
    await expectText(messageTexts(alice.page), 'sent from a phone');
    // Measured once stored: the pending message's element is replaced by the stored one's.
    const sent = alice.page.locator('[data-testid="message"][data-state="sent"]');
    await expectCount(sent, 1);
    const bubble = await sent.locator('.bubble').boundingBox();
    assert.ok(bubble !== null && bubble.x >= 0 && bubble.x + bubble.width <= phone.width, `the message fits the screen (${JSON.stringify(bubble)})`);
    // Back returns to the list.
    await alice.page.getByRole('button', { name: 'Back to conversations' }).click();
    await expectVisible(conversationItem(alice.page, 'Bob'));
    assert.equal(await alice.page.getByTestId('chat-view').count(), 0);
    assertNoPageErrors(alice);
  });
});
