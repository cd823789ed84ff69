/**
 * The Bus adapters against the Bus contract: the in-process bus (a one-process
 * cluster, two "nodes" on one LocalBus) and NATS (two nodes, each with its own
 * connection, on a subject prefix of this run's own).
 */
import { LocalBus } from '../src/bus/local-bus.js';
import { NatsBus } from '../src/bus/nats-bus.js';
import { busContract } from './contract/bus-contract.js';
import { NATS_URL, natsSkipReason, uniquePrefix } from './support/cluster-services.js';

busContract('local', async () => {
  const bus = new LocalBus();
  return { nodes: [bus, bus], close: () => bus.close() };
});

busContract(
  'nats',
  async () => {
    const prefix = uniquePrefix();
    const nodes = await Promise.all(['a', 'b'].map((name) => NatsBus.connect({ servers: NATS_URL, prefix, name })));
    return { nodes, close: async () => void (await Promise.all(nodes.map((node) => node.close()))) };
  },
  await natsSkipReason(),
);
