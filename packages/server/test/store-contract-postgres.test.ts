/** The PostgreSQL store against the Store contract: each test database is a schema of its own on the machine's PostgreSQL. */
import pg from 'pg';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { storeContract } from './contract/store-contract.js';
import { POSTGRES_URL, postgresSkipReason, uniqueSchema } from './support/cluster-services.js';

storeContract(
  'postgres',
  async () => {
    const schema = uniqueSchema();
    return {
      open: () => PostgresStore.open({ url: POSTGRES_URL, schema, poolSize: 6 }),
      async destroy() {
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      },
    };
  },
  await postgresSkipReason(),
);
