/**
 * Compiled by request-types.test.ts, never run: the reply type of a request
 * follows from the request table, so a wrong pairing is a compile error.
 */
import type { Connection } from '../../src/connection.js';

export async function pairings(connection: Connection): Promise<void> {
  const pulled = await connection.request({ $case: 'pull', value: { conversationId: 'c', fromSeq: 1, toSeq: 0, limit: 0, descending: false } });
  pulled.coveredTo satisfies number;
  const synced = await connection.request({ $case: 'sync', value: { sinceVersion: 0, recentLimit: 0, positions: [] } });
  synced.totalUnread satisfies number;
  // @ts-expect-error a sync is answered by sync_result, which has no messages
  void synced.messages;
  // @ts-expect-error push is not a request
  void connection.request({ $case: 'push', value: {} });
  // @ts-expect-error delivered has no reply; it goes through notify()
  void connection.request({ $case: 'delivered', value: { conversationId: 'c', seq: 1 } });
}
