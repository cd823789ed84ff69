/**
 * Browser notifications with the app's real service worker (packages/web's
 * public/sw.js, served by the server as /sw.js): the app registers it, a Web
 * Push message in the server's payload format becomes a notification for its
 * conversation, clicking that notification shows the conversation in the
 * open window, and the Notifications control says honestly what this browser
 * can do.
 *
 * The push is handed to the worker through the DevTools protocol
 * (ServiceWorker.deliverPushMessage): the browser fires a real `push` event
 * with those bytes, as it does with what a push service delivers decrypted.
 * No push service is reachable from a test, so subscribing itself cannot
 * succeed here.
 *
 * What the browser lets a test see differs between Chromium builds:
 * - A full Chromium (Debian's, CI's browser of record; headless is its "new"
 *   headless mode) grants the `notifications` permission to a context and
 *   keeps shown notifications: the test reads them back with
 *   getNotifications() and clicks the one shown.
 * - The headless shell (the build inside @sparticuz/chromium, used where no
 *   Chromium is installed) has no notification service at all:
 *   Notification.permission is 'denied' whatever is granted, and no launch
 *   flag changes that (--headless=new is not part of that build). There the
 *   worker's own push handler still runs on the real push event, but the
 *   browser's showNotification is replaced by a recorder inside the worker,
 *   and the click is dispatched with a stand-in for the notification carrying
 *   what the handler passed. Each test says which path it took (diagnostic).
 *
 * The click is a synthetic `notificationclick` in both: Chromium has no
 * DevTools command to click a notification. Its `waitUntil` is replaced so
 * the test awaits what the worker asked the browser to wait for (a
 * script-made event's own waitUntil throws).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BrowserContext, Page, Worker } from 'playwright-core';
import {
  assertNoPageErrors,
  type BrowserUser,
  browserSkipReason,
  expectAttribute,
  expectText,
  expectVisible,
  send,
  signUp,
  startDirectChat,
  suiteBrowser, suiteWebServer,
  until,
} from './support.js';

// Without a browser: every test below is counted as skipped, with a banner (a failure in CI).
const skip = browserSkipReason('notifications.test.ts');

/** The decrypted Web Push payload the server sends (docs/push.md). */
interface PushPayload {
  v: 1;
  title: string;
  body: string;
  conversationId: string;
  seq: number;
  count: number;
  badge: number;
}

/**
 * The parts of a service worker's global scope the tests touch, inside
 * worker.evaluate (the tests are type-checked with the DOM library, which has
 * no ServiceWorkerGlobalScope).
 */
interface WorkerScope extends EventTarget {
  registration: ServiceWorkerRegistration;
  navigator: { setAppBadge?: (contents?: number) => Promise<void> };
  /** Set by watchWorker. */
  recordedNotifications?: Array<{ title: string; options: NotificationOptions }>;
  recordedBadges?: number[];
}
declare const NotificationEvent: new (type: string, init: { notification: Notification }) => Event;

/** A notification as the page or the worker sees it, reduced to what the app sets. */
interface ShownNotification {
  title: string;
  body: string;
  tag: string;
  icon: string;
  data: unknown;
}

describe('browser notifications', { timeout: 120_000 }, () => {
  const browser = suiteBrowser(skip);
  const web = suiteWebServer(skip);

  /** Someone who allowed notifications for the app before signing up. */
  const personAllowingNotifications = async (userId: string, name: string): Promise<BrowserUser> => {
    const user = await browser.newUser();
    await user.context.grantPermissions(['notifications'], { origin: web.baseUrl });
    await signUp(user.page, web.baseUrl, userId, name);
    return user;
  };

  test('the worker is served from the root as JavaScript, revalidated on every load', { skip }, async () => {
    const response = await fetch(`${web.baseUrl}/sw.js`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    assert.match(await response.text(), /addEventListener\('push'/u);
  });

  test('a push shows a notification for its conversation; clicking it shows that conversation in the open window', { skip }, async (t) => {
    const ann = await browser.signedUp(web.baseUrl, 'nt-ann', 'Ann');
    const bob = await personAllowingNotifications('nt-bob', 'Bob');
    await startDirectChat(ann.page, 'nt-bob');
    await send(ann.page, 'Lunch at noon?');
    const conversationHash = new URL(ann.page.url()).hash;
    assert.match(conversationHash, /^#\/c\/./u);
    const conversationId = decodeURIComponent(conversationHash.slice('#/c/'.length));

    // The app registered its worker, from the root, and it is active.
    const scriptUrl = await bob.page.evaluate(async () => (await navigator.serviceWorker.ready).active?.scriptURL);
    assert.equal(scriptUrl, `${web.baseUrl}/sw.js`);
    const worker = await appWorker(bob.context);
    const realNotifications = await bob.page.evaluate(() => Notification.permission === 'granted');
    t.diagnostic(realNotifications ? 'the browser shows notifications: read back with getNotifications()' : 'headless shell without notifications: showNotification recorded in the worker');
    await watchWorker(worker, realNotifications);

    // Bob is on the conversation list, not in the conversation.
    assert.equal(new URL(bob.page.url()).hash, '');
    const payload: PushPayload = { v: 1, title: 'Ann', body: 'Lunch at noon?', conversationId, seq: 1, count: 1, badge: 1 };
    await deliverPush(bob.context, bob.page, JSON.stringify(payload));

    const [shown] = await until(() => shownNotifications(realNotifications, bob.page, worker), (list) => list.length === 1, 'the notification');
    assert.deepEqual(shown, {
      title: 'Ann',
      body: 'Lunch at noon?',
      tag: conversationId,
      icon: realNotifications ? `${web.baseUrl}/icon-192.png` : '/icon-192.png',
      data: { conversationId, seq: 1 },
    });
    // The unread total, for the installed app's icon.
    await until(() => recordedBadges(worker), (badges) => badges.length === 1 && badges[0] === 1, 'the badge');

    // A mark on the page that a reload would wipe.
    await bob.page.evaluate(() => {
      (window as unknown as { beforeClick?: boolean }).beforeClick = true;
    });
    await clickNotification(worker, realNotifications);
    // The open window shows the conversation, without a reload (the app changed its hash route).
    await until(async () => new URL(bob.page.url()).hash, (hash) => hash === conversationHash, 'the conversation in the URL');
    assert.equal(await bob.page.evaluate(() => (window as unknown as { beforeClick?: boolean }).beforeClick), true, 'the same page, not reloaded');
    await expectText(bob.page.getByTestId('chat-title'), 'Ann');
    await expectVisible(bob.page.getByTestId('chat-view').getByText('Lunch at noon?'));
    if (realNotifications) {
      // The click closed it.
      await until(() => shownNotifications(true, bob.page, worker), (list) => list.length === 0, 'the notification to close');
    }
    assertNoPageErrors(ann, bob);
  });

  test('a push whose payload cannot be read still shows a notification (a silent push would cost the permission)', { skip }, async (t) => {
    const dana = await personAllowingNotifications('nt-dana', 'Dana');
    const worker = await appWorker(dana.context);
    const realNotifications = await dana.page.evaluate(() => Notification.permission === 'granted');
    t.diagnostic(realNotifications ? 'real notifications' : 'showNotification recorded in the worker');
    await watchWorker(worker, realNotifications);

    // In long full runs Chromium has now and then shown nothing for a push
    // handed over through DevTools (never reproduced alone, even on a loaded
    // machine): it is handed over again, at most twice, and said so.
    let notifications: ShownNotification[] = [];
    for (let delivery = 1; delivery <= 3 && notifications.length === 0; delivery++) {
      if (delivery > 1) t.diagnostic(`nothing shown after delivery ${delivery - 1}: delivering again`);
      await deliverPush(dana.context, dana.page, 'not JSON {');
      notifications = await until(() => shownNotifications(realNotifications, dana.page, worker), (list) => list.length === 1, 'the fallback notification', 5000).catch(
        () => [],
      );
    }
    const [shown] = notifications;
    assert.ok(shown !== undefined, 'a notification for a push it cannot read');
    assert.equal(shown?.title, 'Parley');
    assert.equal(shown?.body, 'New messages');
    assertNoPageErrors(dana);
  });

  test('the Notifications control says what this browser can do, and keeps the preview choice', { skip }, async (t) => {
    const carol = await personAllowingNotifications('nt-carol', 'Carol');
    const { page } = carol;
    await page.getByRole('button', { name: 'Notifications' }).click();
    const dialog = page.getByRole('dialog', { name: 'Notifications' });
    const toggle = dialog.getByRole('switch', { name: 'Notifications in this browser' });
    const status = dialog.getByTestId('notifications-status');
    await until(() => status.getAttribute('data-state'), (state) => state !== 'checking', 'the state to be known');

    const permission = await page.evaluate(() => Notification.permission);
    t.diagnostic(`Notification.permission: ${permission}`);
    if (permission === 'denied') {
      // The headless shell refuses notifications whatever is granted: the app says so and offers no switch to flip.
      await expectAttribute(status, 'data-state', 'blocked');
      assert.match((await status.textContent()) ?? '', /^Blocked by the browser/u);
      assert.equal(await toggle.isDisabled(), true);
      assert.equal(await toggle.isChecked(), false);
    } else {
      await expectAttribute(status, 'data-state', 'off');
      assert.equal(await toggle.isChecked(), false);
      await toggle.click();
      const state = await until(() => status.getAttribute('data-state'), (value) => value !== 'checking' && value !== 'off', 'the outcome of turning on');
      t.diagnostic(`turning on ended: ${state}`);
      if (state === 'on') {
        // A push service answered after all: the switch says on only once subscribed.
        assert.equal(await toggle.isChecked(), true);
      } else {
        // No push service reachable (a test machine; Chromium has no Push API in the incognito contexts tests use).
        assert.equal(state, 'no-push-service');
        assert.match((await status.textContent()) ?? '', /^Not available: this browser has no push service/u);
        assert.equal(await toggle.isChecked(), false, 'not claimed to be on');
        // Chromium's own console note on subscribing there, not the app's.
        carol.errors.splice(0, Infinity, ...carol.errors.filter((error) => !error.includes('does not support the Push API in incognito mode')));
      }
    }

    // The preview setting is the server's, for all of the user's devices: it starts at the deployment's default.
    const preview = dialog.getByRole('group', { name: 'What notifications show, on all your devices' });
    const byDefault = preview.getByRole('radio', { name: 'This server’s default (sender and message)' });
    await until(() => byDefault.isChecked(), (checked) => checked, 'the default to be chosen');
    await preview.getByRole('radio', { name: 'Sender only' }).check();
    await dialog.getByRole('button', { name: 'Close' }).click();
    await expectGoneDialog(page);

    // Read back from the server after a reload.
    await page.reload();
    await page.getByRole('button', { name: 'Notifications' }).click();
    await until(() => preview.getByRole('radio', { name: 'Sender only' }).isChecked(), (checked) => checked, 'the saved choice');
    assertNoPageErrors(carol);
  });
});

async function expectGoneDialog(page: Page): Promise<void> {
  await page.getByRole('dialog', { name: 'Notifications' }).waitFor({ state: 'detached' });
}

/** The app's service worker as Playwright drives it (the page registered it on start). */
async function appWorker(context: BrowserContext): Promise<Worker> {
  const registered = context.serviceWorkers().find((worker) => worker.url().endsWith('/sw.js'));
  if (registered !== undefined) return registered;
  const worker = await context.waitForEvent('serviceworker', { predicate: (candidate) => candidate.url().endsWith('/sw.js') });
  return worker;
}

/** Hands `data` to the app's service worker as a push message, through DevTools. */
async function deliverPush(context: BrowserContext, page: Page, data: string): Promise<void> {
  const origin = new URL(page.url()).origin;
  // A push to a registration whose worker is still installing is dropped: wait until it is active.
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  const cdp = await context.newCDPSession(page);
  try {
    // Enabling reports every registration at once; the app's is the one scoped to the site's root.
    const registrationId = new Promise<string>((resolve) => {
      cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
        const app = registrations.find((registration) => registration.scopeURL === `${origin}/` && !registration.isDeleted);
        if (app !== undefined) resolve(app.registrationId);
      });
    });
    await cdp.send('ServiceWorker.enable');
    await cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId: await registrationId, data });
  } finally {
    await cdp.detach();
  }
}

/**
 * Watches the worker: records the badges it sets (passing them on to the
 * browser), and in a browser without notifications records what it asks to
 * show instead of letting showNotification fail for want of permission.
 * There setAppBadge is not passed on: the headless shell, which has no
 * badge, ends the worker when it is called.
 */
async function watchWorker(worker: Worker, realNotifications: boolean): Promise<void> {
  await worker.evaluate((real) => {
    const scope = self as unknown as WorkerScope;
    const badges: number[] = [];
    scope.recordedBadges = badges;
    const browserSetBadge = scope.navigator.setAppBadge?.bind(scope.navigator);
    scope.navigator.setAppBadge = async (contents?: number) => {
      badges.push(contents ?? 0);
      if (real && browserSetBadge !== undefined) await browserSetBadge(contents);
    };
    if (real) return;
    const recorded: NonNullable<WorkerScope['recordedNotifications']> = [];
    scope.recordedNotifications = recorded;
    scope.registration.showNotification = async (title: string, options: NotificationOptions = {}) => {
      recorded.push({ title, options });
    };
  }, realNotifications);
}

async function recordedBadges(worker: Worker): Promise<number[]> {
  return worker.evaluate(() => (self as unknown as WorkerScope).recordedBadges ?? []);
}

async function shownNotifications(real: boolean, page: Page, worker: Worker): Promise<ShownNotification[]> {
  if (real) {
    return page.evaluate(async () =>
      (await (await navigator.serviceWorker.ready).getNotifications()).map(({ title, body, tag, icon, data }) => ({ title, body, tag, icon, data: data as unknown })),
    );
  }
  return worker.evaluate(() => {
    const scope = self as unknown as WorkerScope;
    return (scope.recordedNotifications ?? []).map(({ title, options }) => ({
      title,
      body: options.body ?? '',
      tag: options.tag ?? '',
      icon: options.icon ?? '',
      data: options.data as unknown,
    }));
  });
}

/** Dispatches `notificationclick` for the one notification shown and waits for what the worker does about it. */
async function clickNotification(worker: Worker, real: boolean): Promise<void> {
  await worker.evaluate(async (realNotification) => {
    const scope = self as unknown as WorkerScope;
    let event: Event;
    if (realNotification) {
      const [notification] = await scope.registration.getNotifications();
      if (notification === undefined) throw new Error('no notification to click');
      event = new NotificationEvent('notificationclick', { notification });
    } else {
      const recorded = scope.recordedNotifications?.[0];
      if (recorded === undefined) throw new Error('no notification to click');
      event = new Event('notificationclick');
      const standIn = { title: recorded.title, ...recorded.options };
      // Function.prototype: a no-op close(). No function literals in here: the
      // test's transpiler would name them with a helper the worker lacks.
      Object.defineProperty(standIn, 'close', { value: Function.prototype });
      Object.defineProperty(event, 'notification', { value: standIn });
    }
    const kept: Promise<unknown>[] = [];
    Object.defineProperty(event, 'waitUntil', { value: kept.push.bind(kept) });
    scope.dispatchEvent(event);
    await Promise.all(kept);
  }, real);
}
