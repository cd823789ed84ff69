/**
 * The admin dashboard (#/admin) in a real browser at phone width against a
 * real server with SDK clients on it: reached from the sign-in page's
 * footer, a wrong key is refused there, the right one is kept in the tab's
 * sessionStorage only; the node's card shows its connections and charts, the
 * conversation with traffic heads the busiest list, closing a room from the
 * dashboard closes it for a viewer on the SDK, and revoking a user closes
 * their SDK connection and refuses their old token afterwards. A key that
 * stops working sends the page back to its sign-in, saying so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ParleyClient, ParleyError, type StateChange } from '@parley/client';
import type { Page } from 'playwright-core';
import { ADMIN_KEY, type TestServer } from '../support/fixtures.js';
import {
  assertNoPageErrors,
  browserSkipReason,
  expectAttribute,
  expectCount,
  expectText,
  expectVisible,
  startWebServer,
  suiteBrowser,
  until,
} from './support.js';

// Without a browser: every test below is counted as skipped, with a banner (a failure in CI).
const skip = browserSkipReason('admin-dashboard.test.ts');

const PHONE = { width: 390, height: 844 };

/** An SDK client of `userId`, connected, with a token of its own (kept to try again after a revocation). */
async function online(fixture: TestServer, userId: string): Promise<{ client: ParleyClient; token: string; states: StateChange[] }> {
  const token = await fixture.api.token(userId);
  const client = new ParleyClient({ url: fixture.server.wsUrl, token, reconnect: { minDelayMs: 10, maxDelayMs: 100 } });
  const states: StateChange[] = [];
  client.on('state', (change) => states.push(change));
  await client.connect();
  return { client, token, states };
}

/** The page's horizontal overflow, in CSS pixels (0: nothing sticks out at this width). */
function overflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

describe('the admin dashboard in the web app', { timeout: 120_000 }, () => {
  let fixture: TestServer;
  let baseUrl: string;
  const browser = suiteBrowser(skip);
  const clients: ParleyClient[] = [];

  before(async () => {
    if (skip !== undefined) return;
    fixture = await startWebServer(undefined);
    baseUrl = fixture.server.httpUrl;
  });

  after(async () => {
    for (const client of clients) await client.close();
    await fixture?.close();
  });

  test('sign in with the admin key, watch the node and the busiest conversation, close a room, revoke a user', { skip }, async () => {
    for (const [id, name] of [
      ['ann', 'Ann'],
      ['bob', 'Bob'],
      ['host', 'Hana'],
      ['viewer', 'Vic'],
      ['mallory', 'Mallory'],
    ] as const) {
      await fixture.api.createUser(id, name);
    }
    await fixture.api.createGroup({ id: 'team', name: 'Launch team', ownerId: 'ann', memberIds: ['bob'] });
    assert.equal((await fixture.api.call('POST', '/v1/rooms', { id: 'spring', name: 'Spring launch', hostId: 'host' })).status, 201);

    const ann = await online(fixture, 'ann');
    const bob = await online(fixture, 'bob');
    const viewer = await online(fixture, 'viewer');
    const mallory = await online(fixture, 'mallory');
    clients.push(ann.client, bob.client, viewer.client, mallory.client);
    const room = await viewer.client.joinRoom('spring');
    let roomClosed = false;
    room.on('closed', () => {
      roomClosed = true;
    });
    const direct = await bob.client.direct('ann');
    await bob.client.send(direct, { text: 'one line' });
    for (let index = 1; index <= 6; index++) await ann.client.send('team', { text: `plan ${index}` });

    // Reached from the sign-in page's footer, at phone width.
    const admin = await browser.newUser(PHONE);
    const { page } = admin;
    await page.goto(`${baseUrl}/`);
    await page.getByTestId('admin-link').click();
    await expectVisible(page.getByTestId('admin-signin-form'));
    assert.equal(new URL(page.url()).hash, '#/admin');

    // A wrong key is refused on the sign-in, and not kept.
    await page.getByTestId('admin-key').fill('not-the-key');
    await page.getByTestId('admin-signin-submit').click();
    await expectText(page.getByTestId('admin-signin-error'), 'The server refused that admin key.');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('parley.adminKey')), null);

    await page.getByTestId('admin-key').fill(ADMIN_KEY);
    await page.getByTestId('admin-signin-submit').click();
    await expectVisible(page.getByTestId('admin-dashboard'));
    // Kept for this tab only.
    assert.equal(await page.evaluate(() => sessionStorage.getItem('parley.adminKey')), ADMIN_KEY);
    assert.equal(await page.evaluate(() => Object.keys(localStorage).some((key) => localStorage.getItem(key)?.includes('test-admin-key'))), false);

    // The node's card: four SDK connections, four users, the sends counted.
    const card = page.getByTestId('node-card');
    await expectCount(card, 1);
    await expectAttribute(card.getByTestId('node-connections'), 'data-value', '4');
    await expectAttribute(card.getByTestId('node-users'), 'data-value', '4');
    await expectAttribute(card.getByTestId('node-messages'), 'data-in', '7');
    await expectAttribute(page.getByTestId('total-connections'), 'data-value', '4');

    // The conversation with the traffic heads the busiest list, named.
    const first = page.getByTestId('busiest-conversation').first();
    await expectAttribute(first, 'data-id', 'team');
    await expectText(first.getByTestId('conversation-label'), 'Launch team');
    await expectAttribute(first.getByTestId('conversation-sends'), 'data-value', '6');
    await expectText(page.getByTestId('busiest-conversation').nth(1).getByTestId('conversation-label'), 'Ann & Bob');

    // More traffic: the charts draw from successive snapshots and the rate shows.
    for (let index = 7; index <= 12; index++) await ann.client.send('team', { text: `plan ${index}` });
    await until(() => page.getByTestId('total-in-rate').getAttribute('data-value'), (value) => value !== null && value !== '–' && value !== '0', 'a messages-in rate above 0');
    await until(() => card.getByTestId('chart-messages').locator('polyline').count(), (count) => count === 2, 'the in and out lines');
    await until(() => card.getByTestId('chart-connections').locator('polyline').count(), (count) => count === 1, 'the connections line');
    assert.ok((await overflow(page)) <= 0, 'nothing sticks out at phone width');

    // Closing a room from the dashboard: the viewer's SDK room is closed.
    const roomRow = page.getByTestId('busiest-room').filter({ has: page.getByTestId('room-label').getByText('Spring launch', { exact: true }) });
    await expectAttribute(roomRow.getByTestId('room-viewers'), 'data-value', '1');
    await roomRow.getByTestId('close-room').click();
    await roomRow.getByTestId('confirm-close-room').click();
    await expectText(page.getByTestId('room-action-status'), '“Spring launch” was closed: its viewers were told the live ended.');
    await until(async () => roomClosed, (closed) => closed, 'the viewer’s room to close');
    assert.equal(room.info.closed, true);
    // Once its viewers left, it drops off the list.
    await expectCount(page.getByTestId('busiest-room'), 0);

    // Revoking a user: their connection is closed for good, and their old token no longer gets in.
    await page.getByTestId('revoke-user-id').fill('mallory');
    await page.getByTestId('revoke-user').click();
    await page.getByTestId('confirm-revoke').click();
    await expectText(page.getByTestId('revoke-status'), "mallory's tokens were revoked: their connections were closed, and only a new token lets them back in.");
    await until(async () => mallory.client.state, (state) => state === 'closed', 'mallory’s client to close');
    assert.equal(mallory.states.at(-1)?.error?.name, 'UNAUTHENTICATED');
    const again = new ParleyClient({ url: fixture.server.wsUrl, token: mallory.token, reconnect: false });
    clients.push(again);
    await assert.rejects(again.connect(), (error: unknown) => error instanceof ParleyError && error.name === 'UNAUTHENTICATED');
    // Nobody else was touched.
    assert.equal(ann.client.state, 'open');
    await expectAttribute(card.getByTestId('node-connections'), 'data-value', '3');

    // A key that stops working (here: replaced in the tab) sends the page back to its sign-in, saying so.
    await page.evaluate(() => sessionStorage.setItem('parley.adminKey', 'a-stale-key'));
    await page.reload();
    await expectText(page.getByTestId('admin-notice'), 'The server refused the admin key. Sign in again.');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('parley.adminKey')), null);
    assertNoPageErrors(admin);
  });
});
