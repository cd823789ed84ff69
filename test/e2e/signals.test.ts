/**
 * Signals, end to end: ephemeral custom events reach the conversation's
 * other members (or the one they are for), in the sender's order, never an
 * outsider; they are bounded in rate and size; keyed ones are kept as each
 * member's latest value for members who ask later, cleared by an empty one,
 * and never stored as messages.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { ParleyClient, type Signal } from '@parley/client';
import { ManualClock, encodeFrameEntry } from '@parley/protocol';
import { type TestServer, eventually, signedIn, startTestServer } from '../support/fixtures.js';

async function device(t: TestContext, fixture: TestServer, userId: string): Promise<ParleyClient & { signals: Signal[] }> {
  const parley = new ParleyClient({ url: fixture.server.wsUrl, token: () => fixture.api.token(userId), reconnect: { minDelayMs: 10, maxDelayMs: 100 } });
  t.after(() => parley.close());
  const signals: Signal[] = [];
  parley.on('signal', (signal) => signals.push(signal));
  await parley.connect();
  return Object.assign(parley, { signals });
}

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (signal: Signal | undefined) => (signal === undefined ? undefined : new TextDecoder().decode(signal.data));
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('members get signals in the sender’s order; one addressed to a member reaches only them; outsiders neither get nor send any', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'bob', 'cat', 'out']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const bob = await device(t, fixture, 'bob');
  const cat = await device(t, fixture, 'cat');
  const outsider = await device(t, fixture, 'out');
  const board = (await ann.createGroup({ name: 'Board', memberIds: ['bob', 'cat'] })).id;

  for (let n = 0; n < 20; n++) assert.equal(ann.signal(board, 'board.stroke', bytes(`stroke ${n}`)), true);
  await eventually(() => bob.signals.length === 20 && cat.signals.length === 20, 5000, 'every stroke reaches both');
  assert.deepEqual(
    bob.signals.map(text),
    Array.from({ length: 20 }, (_, n) => `stroke ${n}`),
    'in order',
  );
  assert.deepEqual([bob.signals[0]?.senderId, bob.signals[0]?.type, bob.signals[0]?.conversationId], ['ann', 'board.stroke', board]);
  assert.equal(ann.signals.length, 0, 'not back to the sender');

  cat.signal(board, 'game.move', bytes('e2e4'), { to: 'bob' });
  await eventually(() => bob.signals.some((signal) => signal.type === 'game.move'), 5000, 'bob gets the move');
  await pause(300);
  assert.equal(ann.signals.length, 0, 'ann does not');
  assert.equal(bob.signals.at(-1)?.to, 'bob');

  outsider.signal(board, 'board.stroke', bytes('graffiti'));
  await pause(300);
  assert.equal(outsider.signals.length, 0);
  assert.ok(!bob.signals.some((signal) => text(signal) === 'graffiti'), 'an outsider cannot send');
  // Nothing was stored: the conversation holds only its creation.
  assert.equal(bob.conversation(board)?.lastSeq, 1);
});

test('bounded: oversized or badly named signals and a flood past the rate are dropped, and the connection goes on', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'bob']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const bob = await device(t, fixture, 'bob');
  const dm = await ann.direct('bob');
  // The server answers no signal; what it would drop, the SDK refuses at once.
  assert.throws(() => ann.signal(dm, 'big', new Uint8Array(5000)), { name: 'TOO_LARGE' });
  assert.throws(() => ann.signal(dm, 'Not A Type', bytes('x')), { name: 'INVALID_ARGUMENT' });
  // A client that skips those checks is dropped by the server.
  const raw = await signedIn(fixture.server.wsUrl, await fixture.api.token('ann'));
  t.after(() => raw.close());
  const rawSignal = (type: string, data: Uint8Array) =>
    raw.sendRaw(encodeFrameEntry({ requestId: 0, body: { $case: 'signal', value: { conversationId: dm, type, data, toUserId: '', key: '' } } }));
  rawSignal('big', new Uint8Array(5000));
  rawSignal('Not A Type', bytes('x'));
  for (let n = 0; n < 200; n++) rawSignal('flood', bytes(String(n)));
  await pause(800);
  const flood = bob.signals.filter((signal) => signal.type === 'flood').length;
  assert.ok(flood >= 38 && flood <= 60, `the burst and a little more, not all 200 (got ${flood})`);
  assert.equal(bob.signals.filter((signal) => signal.type !== 'flood').length, 0);
  ann.signal(dm, 'still.here', bytes('ok'));
  await eventually(() => bob.signals.some((signal) => signal.type === 'still.here'), 5000, 'the sender goes on');
});

test('the SDK holds itself to the rate: past its budget it says so and sends nothing, so nothing it sends is dropped', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'bob']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const bob = await device(t, fixture, 'bob');
  const dm = await ann.direct('bob');
  let sent = 0;
  for (let n = 0; n < 100; n++) if (ann.signal(dm, 'game.move', bytes(String(n)))) sent += 1;
  assert.ok(sent >= 20 && sent < 30, `a second's worth at once (sent ${sent})`);
  await pause(500);
  for (let n = 0; n < 100; n++) if (ann.signal(dm, 'game.move', bytes(String(n)))) sent += 1;
  assert.ok(sent >= 28 && sent < 40, `and the rate after a pause (sent ${sent} in all)`);
  await eventually(() => bob.signals.length === sent, 5000, 'every one sent arrives');
  await pause(200);
  assert.equal(bob.signals.length, sent);
  await ann.close();
  assert.equal(ann.signal(dm, 'game.move', bytes('late')), false, 'not connected: not sent, and not kept for later');
});

test('keyed signals are each member’s latest value, for members who ask later; an empty one clears it', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'bob', 'cat', 'out']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const bob = await device(t, fixture, 'bob');
  const trip = (await ann.createGroup({ name: 'Trip', memberIds: ['bob', 'cat'] })).id;
  ann.signal(trip, 'geo.position', bytes('52.52,13.40'), { key: 'location' });
  ann.signal(trip, 'geo.position', bytes('52.53,13.41'), { key: 'location' });
  bob.signal(trip, 'geo.position', bytes('48.85,2.35'), { key: 'location' });
  bob.signal(trip, 'geo.note', bytes('for ann'), { key: 'note', to: 'ann' });
  await eventually(() => ann.signals.length === 2, 5000, 'ann gets bob’s two');

  // Cat joins the screen later and asks.
  const cat = await device(t, fixture, 'cat');
  const values = await cat.signalValues(trip);
  assert.deepEqual(values.map((value) => [value.senderId, value.key, text(value)]).sort(), [
    ['ann', 'location', '52.53,13.41'],
    ['bob', 'location', '48.85,2.35'],
  ]);
  assert.ok((await ann.signalValues(trip)).some((value) => value.key === 'note'), 'a value addressed to ann is hers to see');

  bob.signal(trip, 'geo.position', new Uint8Array(0), { key: 'location' });
  await eventually(async () => (await cat.signalValues(trip)).length === 1, 5000, 'bob stopped sharing');
  const outsider = await device(t, fixture, 'out');
  assert.deepEqual(await outsider.signalValues(trip), [], 'outsiders see no values');
});

test('keyed and unkeyed signals of one sender keep their order, though keyed ones go to every node', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'bob', 'cat']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const bob = await device(t, fixture, 'bob');
  const game = (await ann.createGroup({ name: 'Game', memberIds: ['bob', 'cat'] })).id;
  for (let n = 0; n < 20; n++) ann.signal(game, 'game.tick', bytes(String(n)), n % 2 === 0 ? { key: 'state' } : {});
  await eventually(() => bob.signals.length === 20, 5000, 'every tick reaches bob');
  assert.deepEqual(
    bob.signals.map(text),
    Array.from({ length: 20 }, (_, n) => String(n)),
  );
});

test('a kept value lapses ten minutes after it was sent', async (t) => {
  const clock = new ManualClock();
  const fixture = await startTestServer(t, { clock });
  for (const id of ['ann', 'bob']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const dm = await ann.direct('bob');
  ann.signal(dm, 'geo.position', bytes('52.52,13.40'), { key: 'location' });
  const early = await device(t, fixture, 'bob');
  await eventually(async () => (await early.signalValues(dm)).length === 1, 5000, 'the value is kept');
  clock.advance(9 * 60_000);
  assert.equal((await (await device(t, fixture, 'bob')).signalValues(dm)).length, 1, 'still there after nine minutes');
  clock.advance(60_000 + 1);
  assert.deepEqual(await (await device(t, fixture, 'bob')).signalValues(dm), [], 'gone after ten');
});

test('a member who leaves takes their values along', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'bob', 'cat']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const bob = await device(t, fixture, 'bob');
  const trip = (await ann.createGroup({ name: 'Trip', memberIds: ['bob', 'cat'] })).id;
  ann.signal(trip, 'geo.position', bytes('52.52,13.40'), { key: 'location' });
  bob.signal(trip, 'geo.position', bytes('48.85,2.35'), { key: 'location' });
  const cat = await device(t, fixture, 'cat');
  await eventually(async () => (await cat.signalValues(trip)).length === 2, 5000, 'both values kept');
  await bob.leave(trip);
  await eventually(async () => (await cat.signalValues(trip)).map((value) => value.senderId).join() === 'ann', 5000, 'only ann’s is left');
  assert.deepEqual(await bob.signalValues(trip), [], 'and bob, no longer a member, is served nothing');
});
