/**
 * Browser test support: a headless Chromium (see chromium.ts: the one shipped
 * in an npm package, or PARLEY_CHROMIUM) driven by playwright-core, a real Parley server serving the built web app, and
 * helpers that act like a user (sign up, open a chat, type and send). Every
 * wait is on visible UI state, never a fixed sleep.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type TestContext, after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ServerOptions } from '@parley/server';
import { type Browser, type BrowserContext, type Locator, type Page, chromium } from 'playwright-core';
import { type TestServer, startTestServer } from '../support/fixtures.js';
import { chromiumExecutable } from './chromium.js';

export { browserSkipReason } from './chromium.js';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  // Background tabs must keep their timers and sockets going: two tabs of one user are a scenario.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

/** The built web app (npm run build builds it before npm test runs). */
export const WEB_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../packages/web/dist');

/** How long UI expectations wait: generous for a loaded CI machine; they poll, never sleep a fixed time. */
export const UI_TIMEOUT_MS = 10_000;
const POLL_MS = 40;

/** Polls `read` until `accept` holds; fails with the last value seen. */
export async function until<T>(read: () => Promise<T>, accept: (value: T) => boolean, what: string, timeoutMs = UI_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await read();
      if (accept(last)) return last;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const seen = last === undefined ? `error: ${String(lastError)}` : `last seen: ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${seen})`);
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, POLL_MS));
  }
}

/** The elements' texts, in order, become exactly `expected`. */
export async function expectTexts(locator: Locator, expected: string[], timeoutMs?: number): Promise<void> {
  await until(
    () => locator.allTextContents(),
    (texts) => texts.length === expected.length && texts.every((text, index) => text === expected[index]),
    `texts ${JSON.stringify(expected)} of ${locator}`,
    timeoutMs,
  );
}

/** Exactly one element, with this text. */
export async function expectText(locator: Locator, expected: string, timeoutMs?: number): Promise<void> {
  await expectTexts(locator, [expected], timeoutMs);
}

export async function expectAttribute(locator: Locator, name: string, expected: string, timeoutMs?: number): Promise<void> {
  await until(() => locator.getAttribute(name, { timeout: 1000 }), (value) => value === expected, `${name}="${expected}" on ${locator}`, timeoutMs);
}

export async function expectCount(locator: Locator, expected: number, timeoutMs?: number): Promise<void> {
  await until(() => locator.count(), (count) => count === expected, `${expected} of ${locator}`, timeoutMs);
}

export async function expectVisible(locator: Locator, timeoutMs = UI_TIMEOUT_MS): Promise<void> {
  await locator.waitFor({ state: 'visible', timeout: timeoutMs });
}

export async function expectGone(locator: Locator, timeoutMs = UI_TIMEOUT_MS): Promise<void> {
  await locator.waitFor({ state: 'detached', timeout: timeoutMs });
}

export const PASSWORD = 'correct horse battery';

/** Launches Chromium with a fresh temporary profile; closed after the test when `t` is given, else by the caller. */
export async function launchBrowser(t?: TestContext): Promise<Browser> {
  const executablePath = await chromiumExecutable();
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true });
  } catch (error) {
    // The bundled build needs a few system libraries (libnss3, libnspr4, libexpat) that desktop-ready images have.
    throw new Error(`Chromium at ${executablePath} did not start; if it names a missing library such as libnss3.so: sudo apt-get install libnss3`, { cause: error });
  }
  t?.after(() => browser.close());
  return browser;
}

/** A real server on free ports serving the built web app. */
export async function startWebServer(t: TestContext | undefined, options: ServerOptions = {}): Promise<TestServer> {
  if (!existsSync(join(WEB_ROOT, 'index.html'))) throw new Error(`${WEB_ROOT} has no index.html: run npm run build first`);
  return startTestServer(t, { tcpPort: false, webRoot: WEB_ROOT, ...options });
}

/**
 * One server serving the built web app for a describe block: started before
 * its tests unless they are skipped, closed after them. Call inside
 * describe(), after suiteBrowser() (its contexts close first).
 */
export function suiteWebServer(skip: string | undefined): { readonly fixture: TestServer; readonly baseUrl: string } {
  let fixture: TestServer | undefined;
  before(async () => {
    if (skip === undefined) fixture = await startWebServer(undefined);
  });
  after(async () => {
    await fixture?.close();
  });
  return {
    get fixture(): TestServer {
      if (fixture === undefined) throw new Error('the suite server is not running (tests skipped, or used outside a test)');
      return fixture;
    },
    get baseUrl(): string {
      return this.fixture.server.httpUrl;
    },
  };
}

export interface BrowserUser {
  context: BrowserContext;
  page: Page;
  /** Uncaught page errors and console errors: a test ends by checking there were none. */
  errors: string[];
}

/** A browser context (its own storage: another person) with one page, errors recorded. */
export async function newUser(browser: Browser, viewport = { width: 1280, height: 800 }): Promise<BrowserUser> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  return { context, page, errors: watchErrors(page) };
}

/**
 * One browser for a describe block: launched before its tests unless they are
 * skipped (`skip`, from browserSkipReason), closed after them together with
 * every user made through it. Call inside describe().
 */
export interface SuiteBrowser {
  newUser(viewport?: { width: number; height: number }): Promise<BrowserUser>;
  /** A new person who signed up at `baseUrl` through the app's form, online. */
  signedUp(baseUrl: string, userId: string, name: string, viewport?: { width: number; height: number }): Promise<BrowserUser>;
}

export function suiteBrowser(skip: string | undefined): SuiteBrowser {
  let browser: Browser | undefined;
  const users: BrowserUser[] = [];
  before(async () => {
    if (skip === undefined) browser = await launchBrowser();
  });
  after(async () => {
    for (const user of users) await user.context.close();
    await browser?.close();
  });
  const suite: SuiteBrowser = {
    async newUser(viewport) {
      if (browser === undefined) throw new Error('the suite browser is not running (tests skipped, or used outside a test)');
      const user = await newUser(browser, viewport);
      users.push(user);
      return user;
    },
    async signedUp(baseUrl, userId, name, viewport) {
      const user = await suite.newUser(viewport);
      await signUp(user.page, baseUrl, userId, name);
      return user;
    },
  };
  return suite;
}

/** Fails when any of these pages had an uncaught exception or a console error (see watchErrors). */
export function assertNoPageErrors(...people: BrowserUser[]): void {
  for (const user of people) assert.deepEqual(user.errors, [], 'no page errors or console errors');
}

/** Records uncaught exceptions and console errors of a page (CSP violations among them). */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    // The browser logs failed connection attempts while the server is down; the app shows them in its UI.
    if (/WebSocket connection to .* failed|Failed to load resource|ERR_CONNECTION_REFUSED/u.test(text)) return;
    errors.push(`console: ${text}`);
  });
  return errors;
}

/** Signs up through the app's development sign-up form and waits for the chat UI, online. */
export async function signUp(page: Page, baseUrl: string, userId: string, name: string): Promise<void> {
  await page.goto(`${baseUrl}/`);
  await page.getByTestId('mode-signup').click();
  await page.getByTestId('signin-user-id').fill(userId);
  await page.getByTestId('signin-name').fill(name);
  await page.getByTestId('signin-password').fill(PASSWORD);
  await page.getByTestId('signin-submit').click();
  await expectText(page.getByTestId('me-name'), name);
  await expectAttribute(page.getByTestId('connection-state'), 'data-state', 'online');
}

/** Signs in an existing user through the app's development sign-in form (another device of theirs) and waits for the chat UI, online. */
export async function signIn(page: Page, baseUrl: string, userId: string, name: string): Promise<void> {
  await page.goto(`${baseUrl}/`);
  await page.getByTestId('mode-signin').click();
  await page.getByTestId('signin-user-id').fill(userId);
  await page.getByTestId('signin-password').fill(PASSWORD);
  await page.getByTestId('signin-submit').click();
  await expectText(page.getByTestId('me-name'), name);
  await expectAttribute(page.getByTestId('connection-state'), 'data-state', 'online');
}

/** Starts (or opens) a direct chat by user id through the "New chat" dialog. */
export async function startDirectChat(page: Page, userId: string): Promise<void> {
  await page.getByTestId('new-chat').click();
  await page.getByTestId('mode-direct').click();
  await page.getByTestId('direct-user-id').fill(userId);
  // Leaving the field closes its suggestions, which may cover the buttons.
  await page.getByTestId('direct-user-id').blur();
  await page.getByTestId('new-conversation-submit').click();
  await expectGone(page.getByTestId('new-conversation'));
  await expectVisible(page.getByTestId('chat-view'));
}

/** Creates a group through the "New chat" dialog; the new group opens. */
export async function createGroup(page: Page, name: string, memberIds: string[]): Promise<void> {
  await page.getByTestId('new-chat').click();
  await page.getByTestId('mode-group').click();
  await page.getByTestId('group-name').fill(name);
  await page.getByTestId('group-members').fill(memberIds.join(', '));
  await page.getByTestId('group-members').blur();
  await page.getByTestId('new-conversation-submit').click();
  await expectText(page.getByTestId('chat-title'), name);
}

/** Types a message and sends it with Enter. */
export async function send(page: Page, text: string): Promise<void> {
  const input = page.getByTestId('composer-input');
  await input.fill(text);
  await input.press('Enter');
  await until(() => input.inputValue(), (value) => value === '', 'the composer to empty');
}

/** The conversation list entry whose name is `name`. */
export function conversationItem(page: Page, name: string): Locator {
  return page.getByTestId('conversation-item').filter({ has: page.getByTestId('conversation-name').getByText(name, { exact: true }) });
}

/** Opens a conversation from the list. */
export async function openConversation(page: Page, name: string): Promise<void> {
  await conversationItem(page, name).click();
  await expectText(page.getByTestId('chat-title'), name);
}

/** The messages of the open conversation. */
export function messages(page: Page): Locator {
  return page.getByTestId('chat-view').getByTestId('message');
}

/** Opens a message's options menu (hovering shows the button) and returns the menu. */
export async function openMessageMenu(page: Page, message: Locator): Promise<Locator> {
  await message.hover();
  await message.getByRole('button', { name: 'Message options' }).click();
  return page.getByRole('menu', { name: 'Message options' });
}

/** The texts of the open conversation's text messages, in order. */
export function messageTexts(page: Page): Locator {
  return page.getByTestId('chat-view').getByTestId('message-text');
}
