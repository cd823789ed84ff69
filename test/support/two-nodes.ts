/**
 * Two nodes of one cluster in this process: a PostgreSQL schema and a NATS
 * subject prefix of their own, one token secret, each node with its own id
 * ('a' and 'b'). Closed, and the schema dropped, after the test. The users
 * are created through node a.
 */
import type { TestContext } from 'node:test';
import type { ServerOptions } from '@parley/server';
import { NATS_URL, POSTGRES_URL, dropSchema, uniquePrefix, uniqueSchema } from '../../packages/server/test/support/cluster-services.js';
import { type TestServer, startTestServer } from './fixtures.js';

export async function startTwoNodes(
  t: TestContext,
  users: readonly string[],
  options: ServerOptions = {},
  perNode: { a?: ServerOptions; b?: ServerOptions } = {},
): Promise<[TestServer, TestServer]> {
  const schema = uniqueSchema();
  const shared: ServerOptions = { storeUrl: POSTGRES_URL, storeSchema: schema, busUrl: NATS_URL, busPrefix: uniquePrefix(), tokenSecret: 'cluster-secret', ...options };
  const a = await startTestServer(t, { ...shared, ...perNode.a, nodeId: 'a' });
  const b = await startTestServer(t, { ...shared, ...perNode.b, nodeId: 'b' });
  t.after(async () => {
    await Promise.all([a.close(), b.close()]);
    await dropSchema(schema);
  });
  for (const user of users) await a.api.createUser(user);
  return [a, b];
}
