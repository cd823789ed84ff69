/** The PostgreSQL store against the Store contract: each test database is a schema of its own on the machine's PostgreSQL. */
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { storeContract } from './contract/store-contract.js';
import { POSTGRES_URL, dropSchema, postgresSkipReason, uniqueSchema } from './support/cluster-services.js';

storeContract(
  'postgres',
  async () => {
    const schema = uniqueSchema();
    return {
      open: () => PostgresStore.open({ url: POSTGRES_URL, schema, poolSize: 6 }),
      destroy: () => dropSchema(schema),
    };
  },
  await postgresSkipReason(),
);
