/**
 * One cluster node in its own process, as test/support/server-process.ts,
 * plus a heartbeat a test may shorten (PARLEY_TEST_HEARTBEAT_MS; the server
 * reads no variable for it): with faults that leave connections silently
 * dead, both ends then notice within seconds. Prints one JSON line with its
 * URLs when ready; SIGTERM closes it cleanly.
 */
import { startServer } from '@parley/server';

const heartbeatIntervalMs = Number(process.env.PARLEY_TEST_HEARTBEAT_MS ?? '') || undefined;
const server = await startServer({ logLevel: 'silent', ...(heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs }) });
process.stdout.write(`${JSON.stringify({ httpUrl: server.httpUrl, wsUrl: server.wsUrl, tcpUrl: server.tcpUrl })}\n`);
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
