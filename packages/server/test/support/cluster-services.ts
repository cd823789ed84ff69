/**
 * Where the cluster suites find their real services: NATS on
 * PARLEY_TEST_NATS (default nats://127.0.0.1:4222) and PostgreSQL on
 * PARLEY_TEST_POSTGRES (default postgres://postgres@127.0.0.1:5432/test). A
 * machine without them skips those suites and says why; under CI (CI=true) a
 * missing service is a failure, never a skip.
 */
import { connect } from 'node:net';
import pg from 'pg';

export const NATS_URL = process.env.PARLEY_TEST_NATS ?? 'nats://127.0.0.1:4222';
export const POSTGRES_URL = process.env.PARLEY_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Resolves true when something listens at host:port. */
export function answers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** undefined when NATS answers; otherwise why the suite is skipped. Throws under CI. */
export async function natsSkipReason(): Promise<string | undefined> {
  const nats = new URL(NATS_URL);
  if (await answers(nats.hostname, Number(nats.port || 4222))) return undefined;
  return skipOutsideCi(`NATS does not answer at ${NATS_URL} (set PARLEY_TEST_NATS, or start nats-server -js)`);
}

/** undefined when PostgreSQL answers; otherwise why the suite is skipped. Throws under CI. */
export async function postgresSkipReason(): Promise<string | undefined> {
  const postgres = new URL(POSTGRES_URL);
  if (await answers(postgres.hostname, Number(postgres.port || 5432))) return undefined;
  return skipOutsideCi(`PostgreSQL does not answer at ${POSTGRES_URL} (set PARLEY_TEST_POSTGRES, or start PostgreSQL)`);
}

/** The reason, outside CI; under CI (CI=true) a missing service fails the run. */
export function skipOutsideCi(reason: string): string {
  if (process.env.CI === 'true') throw new Error(`${reason}: the cluster suites must run in CI`);
  return reason;
}

/** Runs `task` on a connection of its own to the test PostgreSQL, closed afterwards. */
export async function withPostgres<T>(task: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await task(client);
  } finally {
    await client.end();
  }
}

/** Drops a test schema and everything in it. */
export function dropSchema(schema: string): Promise<void> {
  return withPostgres(async (client) => {
    await client.query(`DROP SCHEMA IF EXISTS "${schema.replace(/"/g, '""')}" CASCADE`);
  });
}

/** A PostgreSQL schema of its own for one test database, so that runs sharing a server stay apart. */
export function uniqueSchema(): string {
  return `parley_test_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

/** A subject prefix of its own for one test run, so that runs sharing a NATS stay apart. */
export function uniquePrefix(): string {
  return `parley-test-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
