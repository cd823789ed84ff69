/**
 * A send that was committed but refused (its flush failed: the sender never
 * got an ack) is published when the sender retries it, so recipients get the
 * push instead of waiting for a later message to reveal the gap.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ParleyError } from '@parley/protocol';
import type { BusEvent } from '../src/bus/bus.js';
import { LocalBus } from '../src/bus/local-bus.js';
import { DEFAULT_SERVER_LIMITS } from '../src/config.js';
import { ConversationService } from '../src/services/conversations.js';
import { MessagingService } from '../src/services/messaging.js';
import { UserService } from '../src/services/users.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { Store } from '../src/store/store.js';

test('a committed send whose ack was refused is published on its retry', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-republish-'));
  const inner = new SqliteStore({ path: join(dir, 'parley.db') });
  t.after(async () => {
    await inner.close();
    rmSync(dir, { recursive: true, force: true });
  });
  let failNextAfterCommit = false;
  // Commits, then reports a failed flush once: what a lost disk flush looks like to the domain.
  const store: Store = Object.create(inner, {
    write: {
      value: async (unit: Parameters<Store['write']>[0], options?: Parameters<Store['write']>[1]) => {
        const value = await inner.write(unit, options);
        if (failNextAfterCommit) {
          failNextAfterCommit = false;
          throw new ParleyError('UNAVAILABLE', 'the flush failed');
        }
        return value;
      },
    },
  });
  const bus = new LocalBus();
  const published: BusEvent[] = [];
  bus.subscribe((event) => published.push(event));
  const users = new UserService(store, bus);
  const conversations = new ConversationService(store, bus, DEFAULT_SERVER_LIMITS);
  const messaging = new MessagingService(store, bus, DEFAULT_SERVER_LIMITS);
  await users.putUser('a', 'A');
  await users.putUser('b', 'B');
  const dm = await conversations.openDirect('a', 'b', '');
  failNextAfterCommit = true;
  await assert.rejects(messaging.send('a', { conversationId: dm.id, clientMsgId: 'm1', text: 'hello' }), { name: 'UNAVAILABLE' });
  assert.equal(published.filter((event) => event.type === 'message').length, 0, 'refused: not published');
  const retry = await messaging.send('a', { conversationId: dm.id, clientMsgId: 'm1', text: 'hello' });
  assert.equal(retry.duplicate, true);
  const pushed = published.filter((event) => event.type === 'message');
  assert.deepEqual(pushed.map((event) => (event.type === 'message' ? event.message.seq : 0)), [retry.message.seq]);
});
