/**
 * The admin dashboard's pure parts: rates from successive node snapshots,
 * the two-minute window, restarts and vanished nodes, and the #/admin route.
 * The browser test (test/browser/admin-dashboard.test.ts at the root) covers
 * the page in Chromium.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeOverview } from '../src/admin/admin-api.js';
import { NO_SERIES, addOverview, formatRate, formatUptime, latestRate } from '../src/admin/series.js';
import { parseRoute, routeHash } from '../src/route.js';

function node(nodeId: string, at: number, messagesIn: number, messagesOut: number, startedAt = 0): NodeOverview {
  return {
    nodeId,
    startedAt,
    at,
    connections: { ws: 2, tcp: 1, total: 3 },
    usersOnline: 2,
    messagesIn,
    messagesOut,
    rooms: 0,
    roomViewers: 0,
    topRooms: [],
    busiestConversations: [],
    rssBytes: 1,
    eventLoopDelayMs: { mean: 0, p99: 0, max: 0 },
  };
}

test('a rate is the difference between two snapshots over the time between them', () => {
  let series = addOverview(NO_SERIES, { nodes: [node('a', 10_000, 100, 400)] });
  assert.equal(latestRate(series.get('a'), 'inPerSecond'), undefined, 'no rate from one snapshot');
  series = addOverview(series, { nodes: [node('a', 12_000, 110, 440)] });
  assert.equal(latestRate(series.get('a'), 'inPerSecond'), 5);
  assert.equal(latestRate(series.get('a'), 'outPerSecond'), 20);
  assert.equal(series.get('a')?.samples.length, 2);
});

test('the same snapshot polled twice adds nothing', () => {
  const once = addOverview(NO_SERIES, { nodes: [node('a', 10_000, 1, 1)] });
  const twice = addOverview(once, { nodes: [node('a', 10_000, 1, 1)] });
  assert.equal(twice.get('a'), once.get('a'));
});

test('samples older than two minutes go; a restarted node starts over; a vanished node is dropped', () => {
  let series = NO_SERIES;
  for (let at = 0; at <= 200_000; at += 2000) series = addOverview(series, { nodes: [node('a', at, at / 100, at / 100), node('b', at, 0, 0)] });
  const samples = series.get('a')?.samples ?? [];
  assert.ok(samples.every((sample) => sample.at > 200_000 - 120_000));
  assert.equal(samples.length, 60);
  series = addOverview(series, { nodes: [node('a', 202_000, 3, 3, 201_000)] });
  assert.deepEqual(series.get('a')?.samples.map((sample) => sample.inPerSecond), [undefined], 'a restart: no rate from the old totals');
  assert.equal(series.has('b'), false);
});

test('figures read as people read them', () => {
  assert.equal(formatRate(undefined), '–');
  assert.equal(formatRate(0), '0');
  assert.equal(formatRate(0.44), '0.4');
  assert.equal(formatRate(12.4), '12');
  assert.equal(formatRate(1234), '1.2k');
  assert.equal(formatUptime(45_000), '45 s');
  assert.equal(formatUptime(3 * 3_600_000 + 5 * 60_000), '3 h 5 min');
});

test('#/admin is the dashboard', () => {
  assert.deepEqual(parseRoute('#/admin'), { page: 'admin' });
  assert.equal(routeHash({ page: 'admin' }), '#/admin');
  assert.deepEqual(parseRoute('#/administrator'), { page: 'home' });
});
