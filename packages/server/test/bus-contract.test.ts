/** The in-process bus against the Bus contract: a one-process cluster, two "nodes" on one LocalBus. */
import { LocalBus } from '../src/bus/local-bus.js';
import { busContract } from './contract/bus-contract.js';

busContract('local', async () => {
  const bus = new LocalBus();
  return { nodes: [bus, bus], close: () => bus.close() };
});
