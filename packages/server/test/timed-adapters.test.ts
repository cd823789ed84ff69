/**
 * The timing decorators the server wraps its adapters in (store/timed-store.ts,
 * util/timed-bus.ts) against the Store and Bus contracts: wrapped, an adapter
 * keeps every guarantee it gave.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bus } from '../src/bus/bus.js';
import { LocalBus } from '../src/bus/local-bus.js';
import { NatsBus } from '../src/bus/nats-bus.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { TimedStore } from '../src/store/timed-store.js';
import { DurationHistogram, DurationHistograms } from '../src/util/duration-histogram.js';
import { TimedBus } from '../src/util/timed-bus.js';
import { busContract } from './contract/bus-contract.js';
import { storeContract } from './contract/store-contract.js';
import { NATS_URL, natsSkipReason, uniquePrefix } from './support/cluster-services.js';

const BOUNDS = [0.001, 0.01, 0.1, 1];

storeContract('timed sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
  return {
    async open() {
      return new TimedStore(new SqliteStore({ path: join(dir, 'parley.db') }), { write: new DurationHistogram(BOUNDS), read: new DurationHistograms(BOUNDS) });
    },
    async destroy() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

function timed(bus: Bus): TimedBus {
  return new TimedBus(bus, { publish: new DurationHistograms(BOUNDS), transit: new DurationHistograms(BOUNDS) });
}

busContract('timed local', async () => {
  const bus = new LocalBus();
  return { nodes: [timed(bus), timed(bus)], close: () => bus.close() };
});

busContract(
  'timed nats',
  async () => {
    const prefix = uniquePrefix();
    const nodes = await Promise.all(['a', 'b'].map(async (name) => timed(await NatsBus.connect({ servers: NATS_URL, prefix, name }))));
    return { nodes, close: async () => void (await Promise.all(nodes.map((node) => node.close()))) };
  },
  await natsSkipReason(),
);
