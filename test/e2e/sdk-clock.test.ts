/**
 * The SDK on an injected clock against a real server: waits that take tens of
 * seconds of protocol time (a silent connection detected by heartbeat after
 * twice the server's 25 s interval, a request giving up after
 * connectionWaitMs) happen by moving a ManualClock, not by sleeping.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock, ParleyClient, ParleyError } from '@parley/client';
import { proxyInFront } from '../support/devices.js';
import { eventually, startTestServer } from '../support/fixtures.js';

/** Moves the clock in steps, letting real I/O run between them. */
async function advance(clock: ManualClock, totalMs: number, stepMs = 1_000): Promise<void> {
  for (let moved = 0; moved < totalMs; moved += stepMs) {
    clock.advance(Math.min(stepMs, totalMs - moved));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('SDK on a manual clock', () => {
  test('a silent connection is declared dead after twice the heartbeat interval, and replaced', async (t) => {
    const fixture = await startTestServer(t);
    const proxy = await proxyInFront(fixture, t);
    await fixture.api.createUser('alice');
    const clock = new ManualClock();
    const client = new ParleyClient({ url: proxy.urlFor(fixture.server.wsUrl), token: () => fixture.api.token('alice'), clock });
    t.after(() => client.close());
    await client.connect();

    proxy.set({ stalled: true });
    await advance(clock, 45_000);
    assert.equal(client.state, 'open', 'less than twice the 25 s interval: still open');
    await advance(clock, 10_000);
    await eventually(() => client.state === 'reconnecting', 2000, 'the dead connection to be noticed');

    proxy.set({ stalled: false });
    proxy.resetAll();
    // The reconnect backoff runs on the same clock.
    for (let step = 0; step < 40 && client.state !== 'open'; step++) await advance(clock, 500, 500);
    await eventually(() => client.state === 'open', 2000, 'the reconnect');
  });

  test('a connection that goes silent before the welcome is given up after handshakeTimeoutMs, and retried', async (t) => {
    const fixture = await startTestServer(t);
    const proxy = await proxyInFront(fixture, t);
    await fixture.api.createUser('alice');
    const clock = new ManualClock();
    const client = new ParleyClient({ url: proxy.urlFor(fixture.server.wsUrl), token: () => fixture.api.token('alice'), clock });
    t.after(() => client.close());
    const failures: string[] = [];
    client.on('state', ({ error }) => {
      if (error !== undefined) failures.push(error.message);
    });
    proxy.set({ stalled: true });
    const connected = client.connect();
    await eventually(() => proxy.connectionCount > 0, 2000, 'the transport opens');
    await advance(clock, 9_000);
    assert.equal(failures.length, 0, 'still within the handshake bound');
    await advance(clock, 2_000);
    await eventually(() => failures.some((message) => message.includes('no welcome')), 2000, 'the handshake to be given up');
    proxy.set({ stalled: false });
    for (let step = 0; step < 40 && client.state !== 'open'; step++) await advance(clock, 500, 500);
    await connected;
  });

  test('a request made while disconnected gives up after connectionWaitMs of clock time', async (t) => {
    const fixture = await startTestServer(t);
    const proxy = await proxyInFront(fixture, t);
    await fixture.api.createUser('alice');
    await fixture.api.createUser('bob');
    const clock = new ManualClock();
    const client = new ParleyClient({
      url: proxy.urlFor(fixture.server.wsUrl),
      token: () => fixture.api.token('alice'),
      clock,
      connectionWaitMs: 60_000,
    });
    t.after(() => client.close());
    await client.connect();
    proxy.set({ refuseConnections: true });
    proxy.resetAll();
    await eventually(() => client.state === 'reconnecting', 2000, 'the client notices');

    const settled: { outcome?: unknown } = {};
    client.direct('bob').then(
      () => (settled.outcome = 'resolved'),
      (error: unknown) => (settled.outcome = error),
    );
    await advance(clock, 59_000);
    assert.equal(settled.outcome, undefined, 'still waiting before the bound');
    await advance(clock, 2_000);
    await eventually(() => settled.outcome !== undefined, 2000, 'the request to give up');
    const outcome = settled.outcome as unknown;
    assert.ok(outcome instanceof ParleyError && outcome.codeName === 'TIMEOUT');
  });
});
