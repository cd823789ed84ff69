/**
 * Hostile input against a live server: random bytes, random and extreme
 * frames, on both transports. The server must answer or close the offending
 * connection, keep memory bounded, and keep serving a well-behaved client
 * throughout.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type Frame, type MessageContent, encodeFrameEntry } from '@parley/protocol';
import { RawConnection, type TestServer, startTestServer } from '../support/fixtures.js';

type Body = NonNullable<Frame['body']>;

async function setup(t: Parameters<typeof startTestServer>[0]): Promise<{ fixture: TestServer; token: string; probe: () => Promise<void> }> {
  const fixture = await startTestServer(t, { limits: { requestsPerSecond: 100_000, requestBurst: 100_000, sendsPerSecondPerUser: 100_000, sendBurstPerUser: 100_000 } });
  for (const id of ['fuzzer', 'victim']) await fixture.api.createUser(id);
  await fixture.api.createGroup({ id: 'g', name: 'G', ownerId: 'victim', memberIds: ['fuzzer'] });
  const token = await fixture.api.token('fuzzer');
  const victim = await RawConnection.open(fixture.server.wsUrl);
  await victim.hello(await fixture.api.token('victim'));
  let probes = 0;
  const probe = async () => {
    const reply = await victim.request({ $case: 'send', value: { conversationId: 'g', clientMsgId: `probe-${probes++}`, text: 'still alive' } });
    assert.equal(reply.body?.$case, 'sendAck', 'a well-behaved client keeps being served');
  };
  return { fixture, token, probe };
}

/** Keeps one authenticated raw connection open, reopening it when the server closed it. */
function fuzzConnection(url: string, token: string) {
  let current: RawConnection | undefined;
  return async (): Promise<RawConnection> => {
    if (current === undefined || current.closed) {
      current = await RawConnection.open(url);
      const welcome = await current.hello(token);
      assert.equal(welcome.body?.$case, 'welcome');
    }
    return current;
  };
}

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.constant(''), fc.string({ minLength: 60, maxLength: 200 }));
const bigNumber = fc.oneof(fc.nat(), fc.constant(0), fc.constant(2 ** 32 - 1), fc.constant(Number.MAX_SAFE_INTEGER), fc.integer({ min: 0, max: 1000 }));
const uint32 = fc.oneof(fc.nat(), fc.constant(0), fc.constant(2 ** 32 - 1), fc.integer({ min: 0, max: 1000 }));
const conversation = fc.oneof(fc.constant('g'), fc.constant('nope'), fc.constant(''), text);
const ids = fc.array(fc.oneof(text, fc.constant('victim'), fc.constant('fuzzer')), { maxLength: 30 });

const mediaRef = fc.record({ mediaId: fc.oneof(text, fc.stringMatching(/^[0-9a-f]{32}$/)), mimeType: text, size: bigNumber, fileName: text });
const double = fc.oneof(fc.double(), fc.constant(Number.NaN), fc.constant(Number.POSITIVE_INFINITY), fc.double({ min: -200, max: 200 }));
const content: fc.Arbitrary<MessageContent> = fc.record({
  kind: fc.oneof(
    fc.constant(undefined),
    fc.record({ $case: fc.constant('image' as const), value: fc.record({ media: fc.option(mediaRef, { nil: undefined }), width: uint32, height: uint32, thumbhash: fc.uint8Array({ maxLength: 50 }), animated: fc.boolean(), caption: text }) }),
    fc.record({ $case: fc.constant('file' as const), value: fc.record({ media: fc.option(mediaRef, { nil: undefined }), caption: fc.string({ maxLength: 2000 }) }) }),
    fc.record({ $case: fc.constant('voice' as const), value: fc.record({ media: fc.option(mediaRef, { nil: undefined }), durationMs: uint32, waveform: fc.uint8Array({ maxLength: 300 }) }) }),
    fc.record({ $case: fc.constant('video' as const), value: fc.record({ media: fc.option(mediaRef, { nil: undefined }), width: uint32, height: uint32, durationMs: uint32, posterMediaId: text, thumbhash: fc.uint8Array({ maxLength: 50 }), caption: text }) }),
    fc.record({ $case: fc.constant('location' as const), value: fc.record({ latitude: double, longitude: double, name: fc.string({ maxLength: 600 }), address: text }) }),
    fc.record({ $case: fc.constant('custom' as const), value: fc.record({ type: fc.oneof(text, fc.constant('shop.card')), json: fc.oneof(fc.json(), text, fc.string({ maxLength: 70_000 })) }) }),
  ),
});

const requestBody: fc.Arbitrary<Body> = fc.oneof(
  fc.record({
    $case: fc.constant('send' as const),
    value: fc.record({
      conversationId: conversation,
      clientMsgId: text,
      text: fc.option(fc.string({ maxLength: 9000 }), { nil: undefined }),
      data: fc.option(fc.uint8Array({ maxLength: 70_000 }), { nil: undefined }),
      content: fc.option(content, { nil: undefined }),
    }),
  }),
  fc.record({ $case: fc.constant('pull' as const), value: fc.record({ conversationId: conversation, fromSeq: bigNumber, toSeq: bigNumber, limit: uint32, descending: fc.boolean() }) }),
  fc.record({ $case: fc.constant('sync' as const), value: fc.record({ sinceVersion: bigNumber, recentLimit: uint32, positions: fc.array(fc.record({ conversationId: conversation, seq: bigNumber }), { maxLength: 40 }) }) }),
  fc.record({ $case: fc.constant('markRead' as const), value: fc.record({ conversationId: conversation, seq: bigNumber }) }),
  fc.record({ $case: fc.constant('openDirect' as const), value: fc.record({ peerId: fc.oneof(text, fc.constant('victim')), subject: text }) }),
  fc.record({ $case: fc.constant('createGroup' as const), value: fc.record({ id: text, name: text, memberIds: ids }) }),
  fc.record({ $case: fc.constant('updateMembers' as const), value: fc.record({ conversationId: conversation, add: ids, remove: ids }) }),
  fc.record({ $case: fc.constant('rename' as const), value: fc.record({ conversationId: conversation, name: text }) }),
  fc.record({ $case: fc.constant('setRole' as const), value: fc.record({ conversationId: conversation, userId: text, role: fc.integer({ min: -1, max: 5 }) }) }),
  fc.record({ $case: fc.constant('members' as const), value: fc.record({ conversationId: conversation }) }),
  fc.record({ $case: fc.constant('hello' as const), value: fc.record({ protocolVersion: uint32, token: text, client: text }) }),
);

for (const transport of ['ws', 'tcp'] as const) {
  test(`random bytes over ${transport}: answered or closed, never a crash, memory bounded`, async (t) => {
    const { fixture, token, probe } = await setup(t);
    const url = transport === 'ws' ? fixture.server.wsUrl : (fixture.server.tcpUrl as string);
    const connection = fuzzConnection(url, token);
    const rssBefore = process.memoryUsage().rss;
    let closes = 0;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 2048 }), async (bytes) => {
        const raw = await connection();
        raw.sendRaw(bytes);
        // Follow with a ping: either it is answered (the garbage was handled) or the connection closes.
        const before = raw.frames.length;
        try {
          await raw.request({ $case: 'ping', value: { nonce: 1 } }, 3000);
        } catch {
          assert.ok(raw.closed || raw.frames.length > before, 'the server answered or closed');
          closes++;
        }
      }),
      { numRuns: 150 },
    );
    await probe();
    const growthMb = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
    assert.ok(growthMb < 200, `memory grew ${growthMb.toFixed(0)} MB`);
    assert.ok(closes > 0, 'garbage does get connections closed');
  });

  test(`random and extreme frames over ${transport}: every request gets a reply or an error`, async (t) => {
    const { fixture, token, probe } = await setup(t);
    const url = transport === 'ws' ? fixture.server.wsUrl : (fixture.server.tcpUrl as string);
    const connection = fuzzConnection(url, token);
    const names = new Set<string>();
    await fc.assert(
      fc.asyncProperty(requestBody, async (body) => {
        const raw = await connection();
        let reply: Frame;
        try {
          reply = await raw.request(body, 5000);
        } catch {
          // Only an oversized packet may close the connection.
          assert.ok(raw.closed, 'no reply only when the connection was closed');
          assert.ok(encodeFrameEntry({ requestId: 1, body }).length > 256 * 1024 || body.$case === 'hello', `closed on ${body.$case}`);
          return;
        }
        assert.ok(reply.body !== undefined);
        if (reply.body?.$case === 'error') names.add(reply.body.value.name);
      }),
      { numRuns: 300 },
    );
    await probe();
    assert.ok(names.has('INVALID_ARGUMENT') || names.has('NOT_FOUND') || names.has('FORBIDDEN'));
  });
}

test('truncated and oversized TCP frames close only their connection', async (t) => {
  const { fixture, probe } = await setup(t);
  for (const bytes of [
    new Uint8Array([0, 0, 0, 10, 1, 2, 3]), // prefix promises more than ever comes
    new Uint8Array([0x7f, 0xff, 0xff, 0xff]), // 2 GB
    new Uint8Array([0, 0, 0, 0]), // empty packet
  ]) {
    const raw = await RawConnection.tcp(fixture.server.tcpUrl as string);
    const socket = (raw as unknown as { rawSocket: import('node:net').Socket }).rawSocket;
    socket.write(bytes);
    socket.end();
    await raw.waitClosed();
  }
  await probe();
});
