/**
 * The PushSender contract, run against any adapter: notifications handed
 * over reach the platform intact, each once; a platform that fails is
 * retried and never makes `send` throw; `close` settles what is in flight.
 * A factory gives an adapter and the platform's side: what it received, and
 * a switch that makes it fail.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PushNotification, PushSender } from '../../src/push/push-sender.js';

export interface PushPlatform {
  sender: PushSender;
  /** Notifications the platform accepted, in arrival order. */
  received: PushNotification[];
  /** The platform refuses the next `count` deliveries. */
  failNext(count: number): void;
  close(): Promise<void>;
}

async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function notification(userId: string, seq: number): PushNotification {
  return { userId, conversationId: 'd:ann:bob', seq, count: 1, title: 'Ann', body: `héllo ${seq} 👋`, badge: seq };
}

export function pushSenderContract(name: string, create: () => Promise<PushPlatform>): void {
  describe(`PushSender contract: ${name}`, () => {
    test('notifications reach the platform intact, each once', async (t) => {
      const platform = await create();
      t.after(() => platform.close());
      await platform.sender.send([notification('bob', 1), notification('cat', 2)]);
      await platform.sender.send([notification('bob', 3)]);
      await eventually(() => platform.received.length === 3, 'three notifications');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(
        [...platform.received].sort((a, b) => a.seq - b.seq),
        [notification('bob', 1), notification('cat', 2), notification('bob', 3)],
      );
    });

    test('a platform that fails for a while gets the notification once it answers; send never throws', async (t) => {
      const platform = await create();
      t.after(() => platform.close());
      platform.failNext(2);
      await platform.sender.send([notification('bob', 7)]);
      await eventually(() => platform.received.length === 1, 'the retried notification');
      assert.deepEqual(platform.received, [notification('bob', 7)]);
    });
  });
}
