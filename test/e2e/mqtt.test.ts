/**
 * Devices over MQTT (docs/mqtt.md): a real server with its MQTT listener on
 * port 0, real MQTT clients (the `mqtt` package), and SDK clients on the
 * other side. What a device relies on: a refused token is refused, a QoS 1
 * publish is acknowledged only once stored and is stored once, a
 * subscription gets the conversation in seq order, a device that was away
 * with a persistent session gets what it missed, once, QoS 0 signals are not
 * stored, and bad input closes that device's connection while everyone
 * else is served.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { type Message, ParleyClient, type Signal } from '@parley/client';
import { type ServerOptions, createDevCertificate } from '@parley/server';
import { type IClientOptions, type MqttClient, connectAsync } from 'mqtt';
import { natsSkipReason, postgresSkipReason } from '../../packages/server/test/support/cluster-services.js';
import { type TestServer, eventually, startTestServer } from '../support/fixtures.js';
import { startTwoNodes } from '../support/two-nodes.js';

/** What a device receives on a conversation's topic. */
interface Delivery {
  conversationId: string;
  seq?: number;
  id?: string;
  senderId: string;
  text?: string;
  data?: string;
  createdAt?: number;
  signal?: boolean;
  type?: string;
  key?: string;
  toUserId?: string;
}

interface Device {
  client: MqttClient;
  received: Delivery[];
}

async function serverWith(t: TestContext, userIds: string[], options: ServerOptions = {}): Promise<TestServer> {
  const fixture = await startTestServer(t, { mqttPort: 0, ...options });
  for (const id of userIds) await fixture.api.createUser(id);
  return fixture;
}

function mqttUrl(fixture: TestServer): string {
  const url = fixture.server.mqttUrl;
  assert.ok(url !== undefined, 'the MQTT listener is on');
  return url;
}

/**
 * An MQTT client for `userId` (its token as password; MQTT 3.1.1 sends a
 * password only with a user name) that records what it receives; closed
 * after the test.
 */
async function device(t: TestContext, fixture: TestServer, userId: string, options: IClientOptions = {}): Promise<Device> {
  const client = await connectAsync(mqttUrl(fixture), { username: userId, password: await fixture.api.token(userId), reconnectPeriod: 0, ...options });
  t.after(() => client.endAsync(true));
  const received: Delivery[] = [];
  client.on('message', (_topic, payload) => received.push(JSON.parse(payload.toString('utf8'))));
  return { client, received };
}

/** An SDK client on the WebSocket, recording the messages it emits; closed after the test. */
async function sdk(t: TestContext, fixture: TestServer, userId: string): Promise<{ client: ParleyClient; messages: Message[] }> {
  const client = new ParleyClient({ url: fixture.server.wsUrl, token: () => fixture.api.token(userId) });
  t.after(() => client.close());
  const messages: Message[] = [];
  client.on('message', (message) => messages.push(message));
  await client.connect();
  return { client, messages };
}

/**
 * A server with `sdkUser`, `peerId` and `others`, `sdkUser` connected with
 * the SDK, and the direct conversation of the two.
 */
async function directChat(t: TestContext, sdkUser: string, peerId: string, others: string[] = [], options: ServerOptions = {}) {
  const fixture = await serverWith(t, [sdkUser, peerId, ...others], options);
  const parley = await sdk(t, fixture, sdkUser);
  return { fixture, parley, conversationId: await parley.client.direct(peerId) };
}

/** The stored user messages of a conversation, oldest first. */
async function stored(fixture: TestServer, conversationId: string): Promise<Array<{ seq: number; senderId: string; text?: string; data?: string }>> {
  const { status, body } = await fixture.api.call('GET', `/v1/conversations/${encodeURIComponent(conversationId)}/messages?after=0&limit=100`);
  assert.equal(status, 200, JSON.stringify(body));
  return body.messages.filter((message: { type: string }) => message.type === 'user');
}

/** Resolves when the client's connection closes (or is refused). */
function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.connected) resolve();
    client.once('close', () => resolve());
  });
}

/** Why the cluster test cannot run here (no NATS or PostgreSQL), or undefined. */
const clusterSkip = (await natsSkipReason()) ?? (await postgresSkipReason());

const settle = (ms = 100) => new Promise((resolve) => setTimeout(resolve, ms));
const textsOf = (messages: ReadonlyArray<{ text?: string }>) => messages.map((message) => message.text);

test('a connect with a bad token, or a user name that is not the token\u2019s, is refused as not authorised', async (t) => {
  const fixture = await serverWith(t, ['alice']);
  for (const options of [{ username: 'alice', password: 'not-a-token' }, {}, { username: 'mallory', password: await fixture.api.token('alice') }]) {
    await assert.rejects(connectAsync(mqttUrl(fixture), { reconnectPeriod: 0, ...options }), (error: Error & { code?: number }) => error.code === 5);
  }
  // MQTT 5 is not spoken (aedes 1.x): refused as an unacceptable protocol version.
  await assert.rejects(
    connectAsync(mqttUrl(fixture), { reconnectPeriod: 0, protocolVersion: 5, username: 'alice', password: await fixture.api.token('alice') }),
    (error: Error & { code?: number }) => error.code === 1,
  );
  // The server keeps serving: alice's own device connects (an empty user name stands for the token's user).
  const alice = await device(t, fixture, 'alice', { username: '' });
  assert.equal(alice.client.connected, true);
});

test('with TLS the MQTT port speaks mqtts:// with the server\u2019s certificate', async (t) => {
  const certificateDir = mkdtempSync(join(tmpdir(), 'parley-cert-'));
  t.after(() => rmSync(certificateDir, { recursive: true, force: true }));
  const certificate = await createDevCertificate(certificateDir);
  const fixture = await startTestServer(t, { mqttPort: 0, tls: { cert: certificate.cert, key: certificate.key } });
  assert.match(mqttUrl(fixture), /^mqtts:\/\//);
  // The development certificate names localhost.
  const url = mqttUrl(fixture).replace('127.0.0.1', 'localhost');
  // The handshake and the CONNECT get through: the (made-up) token is what is refused.
  await assert.rejects(
    connectAsync(url, { reconnectPeriod: 0, ca: certificate.cert, username: 'alice', password: 'not-a-token' }),
    (error: Error & { code?: number }) => error.code === 5,
  );
  await assert.rejects(connectAsync(url, { reconnectPeriod: 0, username: 'alice', password: 'not-a-token' }), /self-signed|certificate/);
});

test('MQTT connections count with the user\u2019s other connections against the per-user limit', async (t) => {
  const fixture = await serverWith(t, ['alice'], { limits: { maxConnectionsPerUser: 2 } });
  await sdk(t, fixture, 'alice');
  await device(t, fixture, 'alice');
  await assert.rejects(
    connectAsync(mqttUrl(fixture), { reconnectPeriod: 0, username: 'alice', password: await fixture.api.token('alice') }),
    (error: Error & { code?: number }) => error.code === 5,
  );
});

test('a device is disconnected when its token expires or the user\u2019s tokens are revoked', async (t) => {
  const fixture = await serverWith(t, ['alice']);
  const expiring = await device(t, fixture, 'alice', { password: await fixture.api.token('alice', 1) });
  const revoked = await device(t, fixture, 'alice');
  const gone = [closed(expiring.client), closed(revoked.client)];
  await gone[0];
  assert.equal(revoked.client.connected, true, 'a token that has not expired keeps its connection');
  assert.equal((await fixture.api.call('POST', '/v1/users/alice/revoke')).status, 200);
  await gone[1];
});

test('a QoS 1 publish is stored once by the token\u2019s user and reaches SDK clients and subscribed devices', async (t) => {
  const { fixture, parley: bob, conversationId } = await directChat(t, 'bob', 'alice');
  const sensor = await device(t, fixture, 'alice');
  await sensor.client.subscribeAsync(`conversations/${conversationId}`, { qos: 1 });
  // Resolves on the PUBACK, which the server sends only after the commit.
  await sensor.client.publishAsync(`conversations/${conversationId}`, 'temperature 21.5', { qos: 1 });
  const messages = await stored(fixture, conversationId);
  assert.deepEqual(messages.map(({ senderId, text }) => ({ senderId, text })), [{ senderId: 'alice', text: 'temperature 21.5' }]);
  await eventually(() => bob.messages.length === 1, 3000, 'the SDK client gets the message');
  assert.equal(bob.messages[0]?.text, 'temperature 21.5');
  assert.equal(bob.messages[0]?.senderId, 'alice');
  // The publishing device sees its message once, as Parley stored it (not the raw publish as well).
  await eventually(() => sensor.received.length === 1, 3000, 'the device gets its own message back');
  await settle();
  assert.equal(sensor.received.length, 1);
  assert.deepEqual(
    { ...sensor.received[0], id: undefined, createdAt: undefined },
    { conversationId, seq: messages[0]?.seq, senderId: 'alice', text: 'temperature 21.5', id: undefined, createdAt: undefined },
  );
  // Bytes that are not UTF-8 text are stored as data.
  const bytes = Buffer.from([0xff, 0x00, 0x01]);
  await sensor.client.publishAsync(`conversations/${conversationId}`, bytes, { qos: 1 });
  assert.equal((await stored(fixture, conversationId))[1]?.data, bytes.toString('base64'));
  await eventually(() => sensor.received.length === 2, 3000, 'the data message');
  assert.equal(sensor.received[1]?.data, bytes.toString('base64'));
});

test('a publish naming its clientMsgId in the topic is stored once however often it is sent', async (t) => {
  const { fixture, conversationId } = await directChat(t, 'bob', 'alice');
  const sensor = await device(t, fixture, 'alice');
  for (let attempt = 0; attempt < 3; attempt++) await sensor.client.publishAsync(`conversations/${conversationId}/reading-42`, 'door opened', { qos: 1 });
  // Even from another connection.
  const again = await device(t, fixture, 'alice');
  await again.client.publishAsync(`conversations/${conversationId}/reading-42`, 'door opened', { qos: 1 });
  assert.deepEqual(textsOf(await stored(fixture, conversationId)), ['door opened']);
});

test('a publish sent again after its connection dropped before the PUBACK is stored once', async (t) => {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let asked = 0;
  const { fixture, conversationId } = await directChat(t, 'bob', 'alice', [], {
    // The hook holds the first attempt until the device has reconnected and sent it again.
    moderation: {
      beforeSend: async () => {
        asked += 1;
        await held;
        return { action: 'allow' };
      },
    },
  });
  const token = await fixture.api.token('alice');
  const sensor = await connectAsync(mqttUrl(fixture), { username: 'alice', password: token, clientId: 'alice-sensor', clean: false, reconnectPeriod: 50 });
  t.after(() => sensor.endAsync(true));
  const acked = sensor.publishAsync(`conversations/${conversationId}`, 'valve closed', { qos: 1 });
  await eventually(() => asked === 1, 3000, 'the first attempt reaches the hook');
  // The connection drops while the message is being stored; the client resends on reconnect.
  sensor.stream.destroy();
  await eventually(() => asked === 2, 5000, 'the repeat reaches the hook');
  release();
  await acked;
  assert.deepEqual(textsOf(await stored(fixture, conversationId)), ['valve closed']);
});

test('a subscribed device gets an SDK client\u2019s messages as JSON, in seq order', async (t) => {
  const { fixture, parley: alice, conversationId } = await directChat(t, 'alice', 'bob');
  const display = await device(t, fixture, 'bob');
  const granted = await display.client.subscribeAsync(`conversations/${conversationId}`, { qos: 1 });
  assert.deepEqual(
    granted.map(({ qos }) => qos),
    [1],
  );
  const sent = [];
  for (const text of ['one', 'two', 'three']) sent.push(await alice.client.send(conversationId, { text }));
  await eventually(() => display.received.length === 3, 3000, 'three deliveries');
  assert.deepEqual(
    display.received.map(({ seq, text, senderId, id }) => ({ seq, text, senderId, id })),
    sent.map(({ seq, text, senderId, id }) => ({ seq, text, senderId, id })),
  );
});

test('only active members may subscribe: others get the SUBACK failure code', async (t) => {
  const { fixture, parley: alice, conversationId } = await directChat(t, 'alice', 'bob', ['carol']);
  const carol = await device(t, fixture, 'carol');
  const topics = [`conversations/${conversationId}`, 'conversations/+', '#', `conversations/${conversationId}/x`];
  // The `mqtt` package turns a SUBACK with a failure code into an error that carries the packet.
  await assert.rejects(carol.client.subscribeAsync(topics, { qos: 1 }), (error: Error & { packet?: { granted?: number[] } }) => {
    assert.deepEqual(error.packet?.granted, [0x80, 0x80, 0x80, 0x80]);
    return true;
  });
  // Wildcards are refused to members too; the conversation itself is granted.
  const bob = await device(t, fixture, 'bob');
  await assert.rejects(bob.client.subscribeAsync([`conversations/${conversationId}`, 'conversations/#'], { qos: 1 }), (error: Error & { packet?: { granted?: number[] } }) => {
    assert.deepEqual(error.packet?.granted, [1, 0x80]);
    return true;
  });
  await alice.client.send(conversationId, { text: 'private' });
  await eventually(() => bob.received.length === 1, 3000, 'the member\u2019s delivery');
  await settle();
  assert.deepEqual(carol.received, []);
  // Refused subscriptions leave the connection open.
  assert.equal(carol.client.connected, true);
});

test('a device away with a persistent session gets what it missed after reconnecting, in order, once', async (t) => {
  const { fixture, parley: alice, conversationId } = await directChat(t, 'alice', 'bob');
  const options = { clientId: 'bob-display', clean: false } as const;
  const first = await device(t, fixture, 'bob', options);
  await first.client.subscribeAsync(`conversations/${conversationId}`, { qos: 1 });
  await alice.client.send(conversationId, { text: 'before' });
  await eventually(() => first.received.length === 1, 3000, 'the first message');
  await first.client.endAsync();
  for (const text of ['m1', 'm2', 'm3', 'm4', 'm5']) await alice.client.send(conversationId, { text });
  const again = await device(t, fixture, 'bob', options);
  // The session was kept: the device does not subscribe again.
  await eventually(() => again.received.length === 5, 3000, 'the missed messages');
  await alice.client.send(conversationId, { text: 'live' });
  await eventually(() => again.received.length === 6, 3000, 'the live message after them');
  await settle();
  assert.deepEqual(textsOf(again.received), ['m1', 'm2', 'm3', 'm4', 'm5', 'live']);
  const seqs = again.received.map(({ seq }) => seq as number);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  assert.equal((first.received[0]?.seq as number) + 1, seqs[0], 'nothing between the last one seen and the first one missed');
  // A clean session starts afresh: nothing is replayed.
  await again.client.endAsync();
  const fresh = await device(t, fixture, 'bob', { clientId: 'bob-display', clean: true });
  await fresh.client.subscribeAsync(`conversations/${conversationId}`, { qos: 1 });
  await settle(200);
  assert.deepEqual(fresh.received, []);
});

test('a persistent session survives a restart of the server: the device resumes where it was', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-mqtt-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const post = async (fixture: TestServer, text: string) => {
    const { status } = await fixture.api.call('POST', '/v1/conversations/home/messages', { senderId: 'alice', text });
    assert.equal(status, 201);
  };
  const options = { clientId: 'bob-display', clean: false } as const;
  const first = await startTestServer(undefined, { mqttPort: 0, dataDir });
  for (const id of ['alice', 'bob']) await first.api.createUser(id);
  await first.api.createGroup({ id: 'home', name: 'Home', ownerId: 'alice', memberIds: ['bob'] });
  const before = await device(t, first, 'bob', options);
  await before.client.subscribeAsync('conversations/home', { qos: 1 });
  await post(first, 'before');
  await eventually(() => before.received.length === 1, 3000, 'the message before the restart');
  await before.client.endAsync();
  await first.close();

  const second = await startTestServer(t, { mqttPort: 0, dataDir });
  for (const text of ['after 1', 'after 2']) await post(second, text);
  const after = await device(t, second, 'bob', options);
  await eventually(() => after.received.length === 2, 3000, 'what was committed while the device was away');
  await settle();
  assert.deepEqual(textsOf(after.received), ['after 1', 'after 2']);
});

test('a QoS 0 publish is a signal: subscribed devices get it, nothing is stored', async (t) => {
  const { fixture, parley: bob, conversationId } = await directChat(t, 'bob', 'alice');
  const display = await device(t, fixture, 'bob');
  await display.client.subscribeAsync(`conversations/${conversationId}`, { qos: 1 });
  const sensor = await device(t, fixture, 'alice');
  await sensor.client.publishAsync(`conversations/${conversationId}`, 'motion', { qos: 0 });
  await eventually(() => display.received.length === 1, 3000, 'the signal');
  assert.deepEqual(display.received[0], { conversationId, senderId: 'alice', signal: true, type: 'mqtt', text: 'motion' });
  // A stored message afterwards still gets seq 1: the signal took none.
  await sensor.client.publishAsync(`conversations/${conversationId}`, 'stored', { qos: 1 });
  assert.deepEqual(
    (await stored(fixture, conversationId)).map(({ seq, text }) => ({ seq, text })),
    [{ seq: 1, text: 'stored' }],
  );
  assert.deepEqual(bob.messages.map((message) => message.text), ['stored']);
});

test('signals meet: a device\u2019s QoS 0 publish reaches members\u2019 apps as a signal, and apps\u2019 signals reach subscribed devices', async (t) => {
  const { fixture, parley: bob, conversationId } = await directChat(t, 'bob', 'alice');
  const signals: Signal[] = [];
  bob.client.on('signal', (signal) => signals.push(signal));
  const sensor = await device(t, fixture, 'alice');
  await sensor.client.subscribeAsync(`conversations/${conversationId}`, { qos: 0 });
  await sensor.client.publishAsync(`conversations/${conversationId}`, '21.5', { qos: 0 });
  await eventually(() => signals.length === 1, 3000, 'the app gets the device\u2019s signal');
  assert.deepEqual([signals[0]?.senderId, signals[0]?.type, new TextDecoder().decode(signals[0]?.data)], ['alice', 'mqtt', '21.5']);

  bob.client.signal(conversationId, 'lamp.set', new TextEncoder().encode('on'));
  bob.client.signal(conversationId, 'lamp.level', new Uint8Array([0xff, 0x80]), { key: 'level' });
  await eventually(() => sensor.received.length === 2, 3000, 'the device gets the app\u2019s signals');
  assert.deepEqual(sensor.received, [
    { conversationId, senderId: 'bob', signal: true, type: 'lamp.set', text: 'on' },
    { conversationId, senderId: 'bob', signal: true, type: 'lamp.level', key: 'level', data: Buffer.from([0xff, 0x80]).toString('base64') },
  ]);
  assert.deepEqual(await stored(fixture, conversationId), [], 'nothing stored either way');
});

test('an oversize publish, a packet over the size limit or a stranger\u2019s publish closes that connection; the others are served', async (t) => {
  const { fixture, parley: bob, conversationId } = await directChat(t, 'bob', 'alice', ['carol']);
  const display = await device(t, fixture, 'bob');
  await display.client.subscribeAsync(`conversations/${conversationId}`, { qos: 1 });
  const refusals: Array<[string, string | Buffer, number]> = [
    // Over maxDataBytes (64 KiB) and not text: TOO_LARGE.
    [`conversations/${conversationId}`, Buffer.alloc(70 * 1024, 0xff), 1],
    // Over the packet limit (256 KiB): closed before the broker buffers it.
    [`conversations/${conversationId}`, Buffer.alloc(300 * 1024, 0xff), 1],
    ['not/a/conversation', 'hello', 1],
    [`conversations/${conversationId}`, '', 1],
  ];
  for (const [topic, payload, qos] of refusals) {
    const sensor = await device(t, fixture, 'alice');
    const gone = closed(sensor.client);
    sensor.client.publish(topic, payload, { qos: qos as 1 });
    await gone;
  }
  const stranger = await device(t, fixture, 'carol');
  const gone = closed(stranger.client);
  stranger.client.publish(`conversations/${conversationId}`, 'let me in', { qos: 1 });
  await gone;
  const strangerSignal = await device(t, fixture, 'carol');
  const signalGone = closed(strangerSignal.client);
  strangerSignal.client.publish(`conversations/${conversationId}`, 'psst', { qos: 0 });
  await signalGone;
  assert.deepEqual(await stored(fixture, conversationId), []);
  // Everyone else is still served.
  const sensor = await device(t, fixture, 'alice');
  await sensor.client.publishAsync(`conversations/${conversationId}`, 'still here', { qos: 1 });
  await eventually(() => display.received.length === 1 && bob.messages.length === 1, 3000, 'the message after the refusals');
  assert.equal(display.received[0]?.text, 'still here');
});

test('in a cluster, a device on one node gets what is sent on another, and its publishes reach them', { skip: clusterSkip }, async (t) => {
  const [a, b] = await startTwoNodes(t, ['alice', 'bob'], { mqttPort: 0 });
  const alice = await sdk(t, a, 'alice');
  const conversationId = await alice.client.direct('bob');
  // Bob's only connection is this device on node b: the bus routes his messages there because of it.
  const display = await device(t, b, 'bob');
  await display.client.subscribeAsync(`conversations/${conversationId}`, { qos: 1 });
  for (const text of ['one', 'two', 'three']) await alice.client.send(conversationId, { text });
  await eventually(() => display.received.length === 3, 5000, 'the messages on node b');
  assert.deepEqual(textsOf(display.received), ['one', 'two', 'three']);
  await display.client.publishAsync(`conversations/${conversationId}`, 'from b', { qos: 1 });
  await eventually(() => alice.messages.some((message) => message.text === 'from b'), 5000, 'the reply on node a');
  // Signals cross too, both ways.
  const signals: Signal[] = [];
  alice.client.on('signal', (signal) => signals.push(signal));
  await display.client.publishAsync(`conversations/${conversationId}`, 'ping', { qos: 0 });
  await eventually(() => signals.length === 1, 5000, 'a device\u2019s signal on node a');
  alice.client.signal(conversationId, 'lamp.set', new TextEncoder().encode('on'));
  await eventually(() => display.received.some((delivery) => delivery.type === 'lamp.set'), 5000, 'an app\u2019s signal on node b');
});
