// Opening a store: PostgreSQL when a database URL is configured, else PGlite under the data directory.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Store } from '../app/ports';
import { SqlStore } from './sql-store';
import type { Sql } from './sql';

export type { Sql } from './sql';

export { SqlStore } from './sql-store';
export { MIGRATIONS, migrate, type Migration } from './migrations';

export interface OpenStoreOptions {
  /** `postgres://…`; when absent the embedded PGlite database is used. */
  databaseUrl?: string;
  /** Local mode's directory; PGlite keeps its files in `<dataDir>/pgdata`. */
  dataDir: string;
  /** PostgreSQL only: keep the tables in this schema (created when missing) instead of `public`. */
  schema?: string;
  /** PostgreSQL only: pooled connections. */
  poolSize?: number;
  /** Told when an idle pooled PostgreSQL connection breaks (the pool replaces it). */
  onIdleError?: (err: Error) => void;
}

// Each engine is loaded only when it is used: a bot on PostgreSQL does not carry PGlite's module, nor
// a local one the pg driver.
const pglite = () => require('./pglite') as typeof import('./pglite');
const postgres = () => require('./postgres') as typeof import('./postgres');

/** Open the store and bring its schema up to date. */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const sql = opts.databaseUrl
    ? postgres().openPostgresSql({ connectionString: opts.databaseUrl, schema: opts.schema, max: opts.poolSize, onIdleError: opts.onIdleError })
    : await pglite().openPgliteSql(join(opts.dataDir, 'pgdata'));
  const store = new SqlStore(sql, { schema: opts.databaseUrl ? opts.schema : undefined });
  try {
    await store.migrate();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  return store;
}

export interface TestStore extends Store {
  readonly engine: 'pglite' | 'postgres';
  /** The schema holding this store's tables; dropped on close. */
  readonly schema: string;
  /** Raw SQL on the same connection(s), for tests that look under the Store interface. */
  readonly db: Sql;
}

export interface TestStoreOptions {
  /** PostgreSQL to create the schema in; PGlite when absent. */
  databaseUrl?: string;
  poolSize?: number;
  /** Adopt this schema (other processes may have opened it with `openStore({ schema })`). */
  schema?: string;
}

/**
 * A fresh, empty, migrated store that shares nothing with any other: its own schema on PostgreSQL
 * or in a process-wide in-memory PGlite. Closing drops the schema. `'postgres'` means the database
 * named by TEST_DATABASE_URL (tests only: the app reads its settings once, in main).
 */
export async function openTestStore(engineOrOptions: 'pglite' | 'postgres' | TestStoreOptions = {}): Promise<TestStore> {
  const opts = typeof engineOrOptions === 'string' ? testStoreOptions(engineOrOptions) : engineOrOptions;
  const schema = opts.schema ?? newTestSchemaName();
  const engine = opts.databaseUrl ? 'postgres' : 'pglite';
  const sql = opts.databaseUrl
    ? postgres().openPostgresSql({ connectionString: opts.databaseUrl, schema, max: opts.poolSize, dropSchemaOnClose: true })
    : await pglite().openPgliteTestSql(schema);
  const store = Object.assign(new SqlStore(sql, { schema }), { engine, schema, db: sql } as const);
  try {
    await store.migrate();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  return store;
}

function testStoreOptions(engine: 'pglite' | 'postgres'): TestStoreOptions {
  if (engine === 'pglite') return {};
  const databaseUrl = process.env.TEST_DATABASE_URL;
  if (!databaseUrl) throw new Error('TEST_DATABASE_URL is not set: cannot open a PostgreSQL test store');
  return { databaseUrl };
}

export function newTestSchemaName(): string {
  return `jit_test_${randomBytes(6).toString('hex')}`;
}
