// PostgreSQL engine over a `pg` pool. A transaction runs on one checked-out client from BEGIN to
// COMMIT; plain queries take whichever client is free.
import { Pool, type PoolClient } from 'pg';
import { assertSchemaName, type Sql } from './sql';

export interface PostgresSqlOptions {
  connectionString: string;
  /** Put every connection's search_path on this schema (created by the migration). */
  schema?: string;
  /** Pool size. */
  max?: number;
  /** Drop the schema when the store closes (test stores). */
  dropSchemaOnClose?: boolean;
  /** An idle pooled connection broke (server restart, network); the pool replaces it. */
  onIdleError?: (err: Error) => void;
}

const CONNECT_TIMEOUT_MS = 10_000;
// A statement that runs this long is stuck (a lock held by a dead session); fail it rather than hang a request.
const STATEMENT_TIMEOUT_MS = 30_000;

class PostgresSql implements Sql {
  private closing: Promise<void> | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly beforeEnd: () => Promise<void>,
  ) {}

  async query<T>(text: string, params: unknown[] = []): Promise<T[]> {
    const result = await this.pool.query(text, params);
    return result.rows as T[];
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn(clientSql(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        // The connection itself failed; it must not go back to the pool.
        broken = true;
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.beforeEnd();
      } finally {
        await this.pool.end();
      }
    })();
    return this.closing;
  }
}

function clientSql(client: PoolClient): Sql {
  const sql: Sql = {
    query: async <T>(text: string, params: unknown[] = []) => (await client.query(text, params)).rows as T[],
    transaction: (fn) => fn(sql),
    close: () => Promise.reject(new Error('a transaction cannot close the store')),
  };
  return sql;
}

export function openPostgresSql(opts: PostgresSqlOptions): Sql {
  const schema = opts.schema === undefined ? undefined : assertSchemaName(opts.schema);
  const pool = new Pool({
    connectionString: opts.connectionString,
    max: opts.max ?? 10,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    application_name: 'jitbot',
    // Set at connection start-up, so every pooled connection lands in the schema without a round trip.
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // Without a listener, an idle client's error would be thrown as an uncaught 'error' event.
  pool.on('error', opts.onIdleError ?? (() => undefined));
  const beforeEnd = async () => {
    if (schema && opts.dropSchemaOnClose) await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  };
  return new PostgresSql(pool, beforeEnd);
}
