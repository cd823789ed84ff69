/**
 * A Parley server in its own process, for tests that kill it (kill -9) and
 * restart it on the same data. Prints one JSON line with its URLs when ready.
 * Settings come from PARLEY_* environment variables.
 */
import { startServer } from '@parley/server';

const server = await startServer({ logLevel: 'silent' });
process.stdout.write(`${JSON.stringify({ httpUrl: server.httpUrl, wsUrl: server.wsUrl, tcpUrl: server.tcpUrl })}\n`);
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
