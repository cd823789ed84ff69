/**
 * What only a shared database can show, beyond the Store contract: several
 * nodes (PostgresStore instances, each with its own pool) writing one
 * database at once, nodes starting together on a fresh schema, and the
 * database going away under load. Runs on the machine's PostgreSQL, a schema
 * of its own per test.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ParleyError } from '@parley/protocol';
import { FaultProxy } from '../../../test/support/fault-proxy.js';
import { LocalBus } from '../src/bus/local-bus.js';
import { DEFAULT_SERVER_LIMITS } from '../src/config.js';
import { ConversationService } from '../src/services/conversations.js';
import { MessagingService } from '../src/services/messaging.js';
import { SearchService } from '../src/services/search.js';
import { UserService } from '../src/services/users.js';
import { MIGRATIONS } from '../src/store/postgres/migrations.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { POSTGRES_URL, dropSchema, postgresSkipReason, uniqueSchema, withPostgres } from './support/cluster-services.js';

const skip = await postgresSkipReason();

function node(store: PostgresStore) {
  const bus = new LocalBus();
  const limits = { ...DEFAULT_SERVER_LIMITS, maxGroupMembers: 5000 };
  return { store, messaging: new MessagingService(store, bus, limits), conversations: new ConversationService(store, bus, limits), users: new UserService(store, bus) };
}

describe('PostgreSQL store across nodes', { skip }, () => {
  const schemas: string[] = [];
  const stores: PostgresStore[] = [];
  after(async () => {
    for (const store of stores) await store.close().catch(() => undefined);
    for (const schema of schemas) await dropSchema(schema);
  });

  async function nodes(count: number, url = POSTGRES_URL, options: { queryTimeoutMs?: number } = {}) {
    const schema = uniqueSchema();
    schemas.push(schema);
    // Started together: the migration runs once, under its advisory lock.
    const opened = await Promise.all(Array.from({ length: count }, (_, n) => PostgresStore.open({ url, schema, poolSize: 5, applicationName: `node-${n}`, ...options })));
    stores.push(...opened);
    return { schema, nodes: opened.map(node) };
  }

  test('nodes starting at once on a fresh schema migrate it once', async () => {
    const { schema } = await nodes(3);
    const rows = await withPostgres((client) => client.query(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`));
    assert.deepEqual(
      rows.rows.map((row) => row.version),
      MIGRATIONS.map((migration) => migration.version),
    );
  });

  test('the search migration indexes the messages stored before it, typed content by its own words', async () => {
    const { schema, nodes: [a] } = await nodes(1);
    for (const id of ['ann', 'bob']) await a!.users.putUser(id, id);
    await a!.conversations.createGroup('ann', { id: 'g', name: 'G', memberIds: ['bob'] });
    await a!.messaging.send('ann', { conversationId: 'g', clientMsgId: '1', text: 'before search existed' });
    const place = { latitude: 1, longitude: 2, name: 'Old Harbour', address: 'Quay 3' };
    // Typed content as an earlier release stored it (the row alone, no search words).
    await a!.store.write(async (tx) => {
      const seq = ((await tx.lockConversation('g'))?.lastSeq ?? 0) + 1;
      const content = { kind: { $case: 'location' as const, value: place } };
      await tx.insertMessage({ conversationId: 'g', seq, senderId: 'ann', clientMsgId: '2', type: 'user', text: '📍 Old Harbour', content, createdAt: Date.now() });
      await tx.updateConversation('g', { lastSeq: seq });
    });
    const search = new SearchService(a!.store);
    const found = async (text: string) => (await search.search({ userId: 'bob', text })).hits.map((hit) => hit.message.seq);
    assert.equal((await found('existed')).length, 1);
    // As a database from before the migration: nothing indexed. The migration's backfill indexes it again.
    await withPostgres(async (client) => {
      await client.query(`UPDATE "${schema}".messages SET search = NULL`);
      assert.deepEqual(await found('existed'), []);
      await client.query('BEGIN');
      await client.query(`SET LOCAL search_path TO "${schema}"`);
      await MIGRATIONS.find((migration) => migration.version === 6)?.backfill?.(client);
      await client.query('COMMIT');
    });
    assert.equal((await found('existed')).length, 1);
    assert.equal((await found('harbour quay')).length, 1);
    assert.deepEqual(await found('location'), [], 'not by the fallback label');
    assert.deepEqual(await found('created'), [], 'system events stay out of the index');
  });

  test('three nodes sending into one group at once: seqs dense and gapless, each sender in its own order, one version order', async () => {
    const { nodes: [a, b, c] } = await nodes(3);
    const members = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
    await Promise.all(members.map((id) => a!.users.putUser(id, id)));
    await a!.conversations.createGroup('u0', { id: 'g', name: 'G', memberIds: members.slice(1) });
    const cluster = [a!, b!, c!];
    // Each sender sits on one node (as a device does) and sends 60 without waiting.
    const sends = members.flatMap((senderId, index) =>
      Array.from({ length: 60 }, (_, n) =>
        cluster[index % 3]!.messaging.send(senderId, { conversationId: 'g', clientMsgId: `${senderId}-${n}`, text: `${senderId} ${n}` }).then((result) => ({ senderId, n, seq: result.message.seq })),
      ),
    );
    const results = await Promise.all(sends);
    const seqs = results.map((result) => result.seq).sort((x, y) => x - y);
    assert.deepEqual(seqs, Array.from({ length: 360 }, (_, n) => n + 2), 'seq 1 is group_created; 2..361 with no gap and no repeat');
    for (const senderId of members) {
      const own = results.filter((result) => result.senderId === senderId);
      const inSeqOrder = [...own].sort((x, y) => x.seq - y.seq).map((result) => result.n);
      assert.deepEqual(inSeqOrder, own.map((result) => result.n), `${senderId}'s messages in the order it sent them`);
    }
    const pulled = await c!.messaging.pull('u3', 'g', 1, 0, 500, false);
    assert.deepEqual(pulled.messages.map((message) => message.seq), Array.from({ length: 361 }, (_, n) => n + 1));
    assert.equal((await b!.store.getConversation('g'))?.lastSeq, 361);
  });

  test('a retry on another node finds the original: one row per (sender, clientMsgId) across nodes', async () => {
    const { nodes: [a, b] } = await nodes(2);
    await Promise.all(['x', 'y'].map((id) => a!.users.putUser(id, id)));
    const dm = await a!.conversations.openDirect('x', 'y', '');
    const attempts = await Promise.all(
      Array.from({ length: 20 }, (_, n) => (n % 2 === 0 ? a! : b!).messaging.send('x', { conversationId: dm.id, clientMsgId: 'once', text: `attempt ${n}` })),
    );
    assert.equal(attempts.filter((attempt) => !attempt.duplicate).length, 1);
    assert.equal(new Set(attempts.map((attempt) => attempt.message.id)).size, 1);
    assert.equal((await b!.store.getConversation(dm.id))?.lastSeq, 1);
  });

  test('the sync version is one for the cluster: a write on one node shows in a sync on another', async () => {
    const { nodes: [a, b] } = await nodes(2);
    await Promise.all(['p', 'q', 'r'].map((id) => a!.users.putUser(id, id)));
    const pq = await a!.conversations.openDirect('p', 'q', '');
    const first = await b!.messaging.sync('q', 0);
    assert.deepEqual(first.conversations.map((view) => view.id), [pq.id]);
    await a!.messaging.send('p', { conversationId: pq.id, clientMsgId: 'm1', text: 'hi' });
    const second = await b!.messaging.sync('q', first.version);
    assert.ok(second.version > first.version);
    assert.deepEqual(second.conversations.map((view) => [view.id, view.unread]), [[pq.id, 1]]);
    assert.equal(await a!.store.syncVersion(), await b!.store.syncVersion());
    // Nothing changed for q since: an empty answer, on either node.
    assert.deepEqual((await a!.messaging.sync('q', second.version)).conversations, []);
  });

  test("a unit that fails retryably fails the units queued behind it in its conversation, so a device's retry cannot land after its later sends", async () => {
    const { nodes: [a] } = await nodes(1);
    await Promise.all(['s', 't'].map((id) => a!.users.putUser(id, id)));
    const dm = await a!.conversations.openDirect('s', 't', '');
    const ran: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = a!.store.write(async (tx) => {
      await tx.lockConversation(dm.id);
      await held;
      throw new ParleyError('UNAVAILABLE', 'the database went away');
    }, { order: dm.id });
    const behind = a!.store.write(async (tx) => {
      ran.push('behind');
      await tx.lockConversation(dm.id);
    }, { order: dm.id });
    const elsewhere = a!.store.write(async () => {
      ran.push('elsewhere');
    }, { order: 'another-conversation' });
    release();
    await assert.rejects(first, { name: 'UNAVAILABLE' });
    await assert.rejects(behind, { name: 'UNAVAILABLE' });
    await elsewhere;
    assert.deepEqual(ran, ['elsewhere'], 'the unit behind never ran');
    // Sent again afterwards (as the SDK does): it runs.
    await a!.store.write(async (tx) => {
      ran.push('again');
      await tx.lockConversation(dm.id);
    }, { order: dm.id });
    assert.deepEqual(ran, ['elsewhere', 'again']);
  });

  test('a database from a newer release is refused at start', async () => {
    const { schema } = await nodes(1);
    await withPostgres((client) => client.query(`INSERT INTO "${schema}".schema_migrations (version, description, applied_at) VALUES (9999, 'from the future', 0)`));
    await assert.rejects(PostgresStore.open({ url: POSTGRES_URL, schema }), (error: unknown) => error instanceof ParleyError && error.codeName === 'UNAVAILABLE' && /9999/.test(error.message));
  });

  test('the database going away: writes fail UNAVAILABLE (never a false ack), a retry after it returns stores once', async () => {
    const target = new URL(POSTGRES_URL);
    const proxy = await FaultProxy.start(target.hostname, Number(target.port || 5432));
    after(() => proxy.close());
    const viaProxy = new URL(POSTGRES_URL);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const { nodes: [a] } = await nodes(1, viaProxy.toString(), { queryTimeoutMs: 1500 });
    await Promise.all(['s', 't'].map((id) => a!.users.putUser(id, id)));
    const dm = await a!.conversations.openDirect('s', 't', '');
    await a!.messaging.send('s', { conversationId: dm.id, clientMsgId: 'before', text: 'before' });

    // Every open connection cut and new ones refused: a network partition from the database.
    proxy.set({ refuseConnections: true });
    proxy.resetAll();
    const during = await Promise.allSettled(
      Array.from({ length: 5 }, (_, n) => a!.messaging.send('s', { conversationId: dm.id, clientMsgId: `during-${n}`, text: `during ${n}` })),
    );
    for (const outcome of during) {
      assert.equal(outcome.status, 'rejected');
      assert.ok(outcome.reason instanceof ParleyError && outcome.reason.codeName === 'UNAVAILABLE', String(outcome.reason));
    }
    await assert.rejects(a!.store.getConversation(dm.id), { name: 'UNAVAILABLE' });

    proxy.set({ refuseConnections: false });
    // What a client does with UNAVAILABLE: the same sends again, same ids.
    const retried = await Promise.all(
      Array.from({ length: 5 }, (_, n) => a!.messaging.send('s', { conversationId: dm.id, clientMsgId: `during-${n}`, text: `during ${n}` })),
    );
    const seqs = retried.map((result) => result.message.seq).sort((x, y) => x - y);
    assert.deepEqual(seqs, [2, 3, 4, 5, 6]);
    const stored = await a!.messaging.pull('t', dm.id, 1, 0, 50, false);
    assert.deepEqual(stored.messages.map((message) => message.clientMsgId), ['before', ...Array.from({ length: 5 }, (_, n) => `during-${n}`)].sort((x, y) => (x === 'before' ? -1 : y === 'before' ? 1 : x.localeCompare(y))));
  });
});
