/**
 * Takes the README's screenshots of the web app into docs/screenshots/: a
 * real server, a few people and conversations made through the SDK, and the
 * browser tests' headless Chromium (test/browser/chromium.ts). Not a test;
 * run it after changing how the app looks:
 *
 *   npm run build && node --import tsx test/browser/screenshots.ts
 *
 * The app's font is Inter where installed (Debian: fonts-inter), as on most
 * desktops; without it Chromium falls back to DejaVu Sans.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ParleyClient } from '@parley/client';
import type { Page } from 'playwright-core';
import {
  PASSWORD,
  conversationItem,
  expectAttribute,
  expectCount,
  expectText,
  expectVisible,
  launchBrowser,
  messageTexts,
  startWebServer,
} from './support.js';

const OUT = resolve(dirname(fileURLToPath(import.meta.url)), '../../docs/screenshots');

const PEOPLE = [
  { userId: 'alice', name: 'Alice Martin' },
  { userId: 'bob', name: 'Bob Chen' },
  { userId: 'carol', name: 'Carol Diaz' },
  { userId: 'dan', name: 'Dan Okafor' },
] as const;
type UserId = (typeof PEOPLE)[number]['userId'];

const fixture = await startWebServer(undefined);
const base = fixture.server.httpUrl;
const clients = new Map<UserId, ParleyClient>();
const browser = await launchBrowser();

try {
  mkdirSync(OUT, { recursive: true });
  for (const person of PEOPLE) {
    const response = await fetch(`${base}/dev/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...person, password: PASSWORD }),
    });
    const { token } = (await response.json()) as { token: string };
    const client = new ParleyClient({ url: fixture.server.wsUrl, token });
    await client.connect();
    clients.set(person.userId, client);
  }
  const as = (userId: UserId) => clients.get(userId) as ParleyClient;
  const say = async (userId: UserId, conversationId: string, ...texts: string[]) => {
    for (const text of texts) await as(userId).send(conversationId, { text });
  };
  /** Alice reads everything up to now, once her client has received it. */
  const aliceReads = async (conversationId: string) => {
    const lastSeq = as('alice').conversation(conversationId)?.lastSeq ?? 0;
    const target = Math.max(lastSeq, ...[...clients.values()].map((client) => client.conversation(conversationId)?.lastSeq ?? 0));
    while ((as('alice').conversation(conversationId)?.lastSeq ?? 0) < target) await new Promise((resolveWait) => setTimeout(resolveWait, 20));
    await as('alice').markRead(conversationId);
  };

  // Oldest activity first: the list shows them in reverse.
  const danChat = await as('alice').direct('dan');
  await say('alice', danChat, 'Here are the slides from today’s review.');
  await say('dan', danChat, 'Thanks! See you on Monday 👋');
  await aliceReads(danChat);

  const hike = await as('dan').createGroup({ name: 'Weekend hike', memberIds: ['alice', 'bob', 'carol'] });
  await say('dan', hike.id, 'Forecast looks great for Saturday ☀️');
  await say('bob', hike.id, 'I’m in');
  await say('carol', hike.id, 'Me too! Meet at the station at 8?');

  const design = await as('alice').createGroup({ name: 'Design team', memberIds: ['bob', 'carol', 'dan'] });
  await as('alice').setRole(design.id, 'carol', 'admin');
  await say('carol', design.id, 'New mockups for the conversation list are up.');
  await say('dan', design.id, 'Love the unread badges.');
  const question = await as('alice').send(design.id, { text: 'Looks clean. Can we try a slightly darker accent?' });
  await say('carol', design.id, 'Sure, pushing a variant in a minute.');
  await say('bob', design.id, 'Ship it 🚀');
  await aliceReads(design.id);
  // A thread under Alice's question: she follows it, so its replies are new to her.
  await as('carol').send(design.id, { text: 'Two variants are up: #3b5bdb and #364fc7.', threadRoot: question.seq });
  await as('dan').send(design.id, { text: 'The second one reads better on the badges.', threadRoot: question.seq });

  const carolChat = await as('carol').direct('alice');
  await say('carol', carolChat, 'Are you joining the design review at 3?', 'I can move it if later works better.');

  const bobChat = await as('bob').direct('alice');
  await say('bob', bobChat, 'Morning! Did you get a chance to look at the release notes?');
  await say('alice', bobChat, 'Yes, just finished. The reconnect section reads much better now.', 'Messages typed offline going out on reconnect is a nice touch.');
  await say('bob', bobChat, 'Great. I also added the numbers from the load test.');
  await say('alice', bobChat, 'Shall we ship it today?');
  await aliceReads(bobChat);
  await say('bob', bobChat, 'Let’s do it after the standup.', 'I’ll tag the build and post the link here:\nhttps://example.com/parley/releases/0.1');

  const signIn = async (page: Page) => {
    await page.goto(`${base}/`);
    await page.getByTestId('signin-user-id').fill('alice');
    await page.getByTestId('signin-password').fill(PASSWORD);
    await page.getByTestId('signin-submit').click();
    await expectAttribute(page.getByTestId('connection-state'), 'data-state', 'online');
    await expectCount(page.getByTestId('conversation-item'), 5);
  };
  const shoot = async (page: Page, file: string, { keepFocus = false } = {}) => {
    // Nothing blinking or half-faded in a still picture (unless the focus is the subject).
    if (!keepFocus) await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.screenshot({ path: join(OUT, file), animations: 'disabled', caret: 'hide' });
    console.log(`wrote docs/screenshots/${file}`);
  };

  // 1. Sign-in, on the "Create account" tab, with the development-only note.
  {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${base}/`);
    await page.getByTestId('mode-signup').click();
    await page.getByTestId('signin-user-id').fill('erin');
    await page.getByTestId('signin-name').fill('Erin Walsh');
    await shoot(page, 'sign-in.png');
    await context.close();
  }

  // 2. Desktop: the list and a direct chat with a new-message divider.
  // 3. A group with its members panel.
  {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await signIn(page);
    await conversationItem(page, 'Bob Chen').click();
    await expectText(messageTexts(page).last(), 'I’ll tag the build and post the link here:\nhttps://example.com/parley/releases/0.1');
    await expectVisible(page.getByTestId('unread-divider'));
    // The pointer out of the way: no hover highlight in the picture.
    await page.mouse.move(0, 799);
    await shoot(page, 'chat.png');

    await conversationItem(page, 'Design team').click();
    await expectText(messageTexts(page).last(), 'Ship it 🚀');
    await page.getByTestId('panel-button-members').click();
    await expectCount(page.getByTestId('member'), 4);
    await page.mouse.move(0, 799);
    await shoot(page, 'group-members.png');

    // 3a. The thread under Alice's question, beside the conversation.
    await page.getByTestId('message').filter({ hasText: 'darker accent' }).getByTestId('thread-link').click();
    await expectCount(page.getByTestId('thread-replies').getByTestId('message'), 2);
    await page.mouse.move(0, 799);
    await shoot(page, 'thread.png');
    await page.getByRole('button', { name: 'Close thread' }).click();

    // 3b. New chat: people suggested from the user directory as a name is typed.
    await fixture.api.createUser('dana', 'Dana Reyes');
    await page.getByTestId('new-chat').click();
    await page.getByTestId('direct-user-id').click();
    await page.keyboard.type('da');
    await expectCount(page.getByTestId('user-suggestion'), 2);
    await page.keyboard.press('ArrowDown');
    await page.mouse.move(0, 799);
    await shoot(page, 'new-chat-search.png', { keepFocus: true });
    await context.close();
  }

  // 4. Phone: the list, and a conversation.
  {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    await signIn(page);
    await shoot(page, 'phone-list.png');
    await conversationItem(page, 'Weekend hike').click();
    await expectText(messageTexts(page).last(), 'Me too! Meet at the station at 8?');
    await shoot(page, 'phone-chat.png');
    await context.close();
  }

  // 5. The server goes away: the app says so, and what is typed waits to be sent.
  {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await signIn(page);
    await conversationItem(page, 'Dan Okafor').click();
    await expectText(messageTexts(page).last(), 'Thanks! See you on Monday 👋');
    await fixture.close();
    await expectAttribute(page.getByTestId('connection-state'), 'data-state', 'reconnecting');
    const input = page.getByTestId('composer-input');
    await input.fill('Sure, see you then!');
    await input.press('Enter');
    await expectAttribute(page.getByTestId('message').last(), 'data-state', 'sending');
    await page.mouse.move(0, 799);
    await shoot(page, 'reconnecting.png');
    await context.close();
  }
} finally {
  for (const client of clients.values()) await client.close();
  await browser.close();
  await fixture.close();
}
