// The Store over SQL (PostgreSQL dialect), the same on PGlite and PostgreSQL.
// Times that decide anything (due, lease, expiry) come from the caller's clock, never the database's:
// tests and local mode move time by hand. `done_at`, `failed_at` and `cancelled_at` use the database
// clock because they are only read by people inspecting the table.
import type { AccessRequest, AuditEvent } from '../core/types';
import type {
  AuditQuery,
  Commit,
  Job,
  JobKind,
  JobSpec,
  RequestQuery,
  Store,
  StoreHealth,
  StoredMessageRef,
} from '../app/ports';
import {
  JOB_COLUMNS,
  decodeAudit,
  decodeJob,
  decodeMessageRef,
  decodeRequest,
  requestColumns,
  type AuditRow,
  type JobRow,
  type MessageRefRow,
  type RequestRow,
} from './codec';
import { Coalescer } from './coalesce';
import { MIGRATIONS, migrate } from './migrations';
import type { Sql } from './sql';

export interface SqlStoreOptions {
  /** The schema the connection's search_path names; the migration creates it when missing. */
  schema?: string;
}

// Expired idempotency keys are taken over when the same key comes again; the rest are swept now and
// then so a bot that sees millions of distinct Slack retries keeps a small table.
const SWEEP_EVERY_CLAIMS = 256;
const SWEEP_BATCH = 1_000;
// PostgreSQL takes at most 65535 parameters per statement.
const MAX_ROWS_PER_INSERT = 1_000;

const JOB_ID = /^\d{1,18}$/;

export class SqlStore implements Store {
  private claimsSinceSweep = 0;
  // The point statements every scheduled job makes, coalesced under load (see coalesce.ts).
  private readonly requests: Coalescer<string, RequestRow, AccessRequest | null>;
  private readonly refs: Coalescer<string, MessageRefRow[], StoredMessageRef[]>;
  private readonly completions = new Map<string, Coalescer<string, never, void>>();
  private readonly values: Coalescer<string, { value: unknown }, unknown>;

  constructor(
    private readonly sql: Sql,
    private readonly opts: SqlStoreOptions = {},
  ) {
    this.requests = new Coalescer(
      async (ids) => {
        const rows = await this.sql.query<RequestRow & { id: string }>('SELECT id, version, data FROM requests WHERE id = ANY($1::text[])', [ids]);
        return new Map<string, RequestRow>(rows.map((r) => [r.id, r]));
      },
      // A second caller for the same id gets its own copy, as its own SELECT would have given it.
      (row, first) => (row ? decodeRequest(first ? row : { version: row.version, data: structuredClone(row.data) }) : null),
    );
    this.refs = new Coalescer(
      async (ids) => {
        const rows = await this.sql.query<MessageRefRow>('SELECT request_id, kind, ref FROM message_refs WHERE request_id = ANY($1::text[]) ORDER BY id', [ids]);
        const byRequest = new Map<string, MessageRefRow[]>();
        for (const r of rows) byRequest.set(r.request_id, [...(byRequest.get(r.request_id) ?? []), r]);
        return byRequest;
      },
      (rows, first) => (rows ?? []).map((r) => decodeMessageRef(first ? r : { ...r, ref: structuredClone(r.ref) })),
    );
    this.values = new Coalescer(
      async (keys) => {
        const pairs = keys.map((k) => JSON.parse(k) as [string, string]);
        const rows = await this.sql.query<{ namespace: string; key: string; value: unknown }>(
          `SELECT kv.namespace, kv.key, kv.value FROM kv
           JOIN unnest($1::text[], $2::text[]) AS wanted(namespace, key) ON kv.namespace = wanted.namespace AND kv.key = wanted.key`,
          [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
        );
        return new Map(rows.map((r) => [JSON.stringify([r.namespace, r.key]), { value: r.value }]));
      },
      (row, first) => (row ? (first ? row.value : structuredClone(row.value)) : null),
    );
  }

  async migrate(): Promise<void> {
    await migrate(this.sql, { schema: this.opts.schema });
  }

  async ping(): Promise<StoreHealth> {
    const rows = await this.sql.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations');
    return { schemaVersion: Number(rows[0]?.version ?? 0), expectedVersion: Math.max(0, ...MIGRATIONS.map((m) => m.version)) };
  }

  close(): Promise<void> {
    return this.sql.close();
  }

  // ---- requests -------------------------------------------------------------------------------

  getRequest(id: string): Promise<AccessRequest | null> {
    return this.requests.load(id);
  }

  async listRequests(query: RequestQuery): Promise<AccessRequest[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => `$${params.push(value)}`;
    if (query.states) where.push(`state = ANY(${param(query.states)}::text[])`);
    if (query.requesterEmail !== undefined) where.push(`requester_email = ${param(query.requesterEmail.toLowerCase())}`);
    if (query.vmName !== undefined) where.push(`vm_keys @> ARRAY[${param(query.vmName.toLowerCase())}::text]`);
    const limit = query.limit === undefined ? '' : ` LIMIT ${param(query.limit)}`;
    const rows = await this.sql.query<RequestRow>(
      `SELECT version, data FROM requests${where.length ? ` WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at DESC, id${limit}`,
      params,
    );
    return rows.map(decodeRequest);
  }

  commit(change: Commit): Promise<boolean> {
    const { request, expectedVersion } = change;
    const c = requestColumns(request);
    return this.sql.transaction(async (tx) => {
      if (expectedVersion === null) {
        const inserted = await tx.query(
          `INSERT INTO requests (id, version, state, requester_email, created_at, opened_at, ends_at, vm_names, vm_keys, data)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text[], $9::text[], $10::jsonb)
           ON CONFLICT (id) DO NOTHING
           RETURNING id`,
          [request.id, request.version, c.state, c.requesterEmail, c.createdAt, c.openedAt, c.endsAt, c.vmNames, c.vmKeys, c.data],
        );
        if (!inserted.length) return false;
      } else {
        // The stored version is always expectedVersion + 1, whatever the object says, so two
        // writers holding the same version can never both succeed.
        const updated = await tx.query(
          `UPDATE requests
           SET version = $2::integer + 1, state = $3, requester_email = $4, created_at = $5, opened_at = $6, ends_at = $7,
               vm_names = $8::text[], vm_keys = $9::text[],
               data = jsonb_set($10::jsonb, '{version}', to_jsonb($2::integer + 1))
           WHERE id = $1 AND version = $2::integer
           RETURNING id`,
          [request.id, expectedVersion, c.state, c.requesterEmail, c.createdAt, c.openedAt, c.endsAt, c.vmNames, c.vmKeys, c.data],
        );
        if (!updated.length) return false;
      }
      if (change.audit?.length) await insertAudit(tx, change.audit);
      if (change.cancelJobs) await cancelJobs(tx, change.cancelJobs.requestId, change.cancelJobs.kinds);
      if (change.schedule?.length) await insertJobs(tx, change.schedule);
      return true;
    });
  }

  // ---- audit ----------------------------------------------------------------------------------

  async appendAudit(events: AuditEvent[]): Promise<void> {
    if (!events.length) return;
    await this.sql.transaction((tx) => insertAudit(tx, events));
  }

  /** Oldest first (by insertion); `limit` keeps the first rows after `since`. */
  async listAudit(query: AuditQuery): Promise<AuditEvent[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => `$${params.push(value)}`;
    if (query.since) where.push(`at >= ${param(query.since)}`);
    if (query.requestId !== undefined) where.push(`request_id = ${param(query.requestId)}`);
    if (query.vmName !== undefined) {
      where.push(`EXISTS (SELECT 1 FROM unnest(vm_names) AS n WHERE lower(n) = ${param(query.vmName.toLowerCase())})`);
    }
    const limit = query.limit === undefined ? '' : ` LIMIT ${param(query.limit)}`;
    const rows = await this.sql.query<AuditRow>(
      `SELECT at, request_id, type, actor, platform, vm_names, details FROM audit
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id${limit}`,
      params,
    );
    return rows.map(decodeAudit);
  }

  async lastAccessByVm(): Promise<Map<string, Date>> {
    const rows = await this.sql.query<{ name: string; at: Date }>(
      `SELECT n AS name, max(opened_at) AS at
       FROM requests, unnest(vm_names) AS n
       WHERE opened_at IS NOT NULL
       GROUP BY n`,
    );
    return new Map(rows.map((r) => [r.name, r.at]));
  }

  // ---- message references -----------------------------------------------------------------------

  async saveMessageRef(ref: StoredMessageRef): Promise<void> {
    // Saving the same reference again (a retried job) keeps one row.
    await this.sql.query(
      `INSERT INTO message_refs (request_id, kind, platform, ref) VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (request_id, kind, ref) DO NOTHING`,
      [ref.requestId, ref.kind, ref.ref.platform, JSON.stringify(ref.ref)],
    );
  }

  listMessageRefs(requestId: string): Promise<StoredMessageRef[]> {
    return this.refs.load(requestId);
  }

  // ---- idempotency and key-value ----------------------------------------------------------------

  async claimKey(key: string, ttlMs: number, now: Date): Promise<boolean> {
    const rows = await this.sql.query(
      `INSERT INTO idempotency (key, expires_at) VALUES ($1, $2)
       ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at
       WHERE idempotency.expires_at <= $3
       RETURNING key`,
      [key, new Date(now.getTime() + ttlMs), now],
    );
    if (++this.claimsSinceSweep >= SWEEP_EVERY_CLAIMS) {
      this.claimsSinceSweep = 0;
      await this.sql.query(
        'DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE expires_at <= $1 LIMIT $2)',
        [now, SWEEP_BATCH],
      );
    }
    return rows.length === 1;
  }

  async releaseKey(key: string): Promise<void> {
    await this.sql.query('DELETE FROM idempotency WHERE key = $1', [key]);
  }

  async getValue<T = unknown>(namespace: string, key: string): Promise<T | null> {
    // Every Teams turn reads a few of these (conversation, member, people) before it can answer.
    return (await this.values.load(JSON.stringify([namespace, key]))) as T | null;
  }

  async setValue(namespace: string, key: string, value: unknown): Promise<void> {
    await this.sql.query(
      `INSERT INTO kv (namespace, key, value) VALUES ($1, $2, $3::jsonb)
       ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
      [namespace, key, JSON.stringify(value ?? null)],
    );
  }

  async listValues<T = unknown>(namespace: string): Promise<Array<{ key: string; value: T }>> {
    return this.sql.query<{ key: string; value: T }>('SELECT key, value FROM kv WHERE namespace = $1 ORDER BY key', [namespace]);
  }

  // ---- jobs -------------------------------------------------------------------------------------

  async scheduleJobs(jobs: JobSpec[]): Promise<void> {
    if (!jobs.length) return;
    await this.sql.transaction((tx) => insertJobs(tx, jobs));
  }

  async claimJobs(owner: string, now: Date, leaseMs: number, limit: number): Promise<Job[]> {
    if (limit <= 0) return [];
    // Materialized so the locking select runs once; SKIP LOCKED lets several processes claim side by side.
    const rows = await this.sql.query<JobRow>(
      `WITH due AS MATERIALIZED (
         SELECT id FROM jobs
         WHERE done_at IS NULL AND failed_at IS NULL AND due_at <= $2
           AND (lease_until IS NULL OR lease_until < $2)
         ORDER BY due_at
         LIMIT $4
         FOR UPDATE SKIP LOCKED
       )
       UPDATE jobs SET lease_owner = $1, lease_until = $3, attempts = attempts + 1
       FROM due WHERE jobs.id = due.id
       RETURNING ${JOB_COLUMNS}`,
      [owner, now, new Date(now.getTime() + leaseMs), limit],
    );
    return rows.map(decodeJob).sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime() || Number(a.id) - Number(b.id));
  }

  async claimJob(id: string, owner: string, now: Date, leaseMs: number): Promise<Job | null> {
    if (!/^\d{1,18}$/.test(id)) return null;
    const rows = await this.sql.query<JobRow>(
      `WITH due AS MATERIALIZED (
         SELECT id FROM jobs
         WHERE id = $4::bigint AND done_at IS NULL AND failed_at IS NULL AND due_at <= $2
           AND (lease_until IS NULL OR lease_until < $2)
         FOR UPDATE SKIP LOCKED
       )
       UPDATE jobs SET lease_owner = $1, lease_until = $3, attempts = attempts + 1
       FROM due WHERE jobs.id = due.id
       RETURNING ${JOB_COLUMNS}`,
      [owner, now, new Date(now.getTime() + leaseMs), id],
    );
    return rows.length ? decodeJob(rows[0]) : null;
  }

  // The three below act only while `owner` still holds the lease: once it lapsed and another
  // process took the job over, the late finisher's word no longer counts.

  async completeJob(id: string, owner: string): Promise<void> {
    // Checked here, not by the statement: one malformed id must not fail the others of its batch.
    if (!JOB_ID.test(id)) throw new Error(`invalid job id "${id}"`);
    let completions = this.completions.get(owner);
    if (!completions) {
      completions = new Coalescer(
        async (ids) => {
          await this.sql.query(
            `UPDATE jobs SET done_at = now(), lease_until = NULL
             WHERE id = ANY($1::bigint[]) AND lease_owner = $2 AND done_at IS NULL AND failed_at IS NULL`,
            [ids, owner],
          );
          return new Map<string, never>();
        },
        (): void => undefined,
      );
      this.completions.set(owner, completions);
    }
    await completions.load(id);
  }

  async retryJob(id: string, owner: string, dueAt: Date, error: string): Promise<void> {
    await this.sql.query(
      `UPDATE jobs SET due_at = $3, last_error = $4, lease_owner = NULL, lease_until = NULL
       WHERE id = $1::bigint AND lease_owner = $2 AND done_at IS NULL AND failed_at IS NULL`,
      [id, owner, dueAt, error],
    );
  }

  async failJob(id: string, owner: string, error: string): Promise<void> {
    await this.sql.query(
      `UPDATE jobs SET failed_at = now(), last_error = $3, lease_until = NULL
       WHERE id = $1::bigint AND lease_owner = $2 AND done_at IS NULL AND failed_at IS NULL`,
      [id, owner, error],
    );
  }

  async releaseLeases(owner: string): Promise<void> {
    await this.sql.query(
      `UPDATE jobs SET lease_owner = NULL, lease_until = NULL
       WHERE lease_owner = $1 AND done_at IS NULL AND failed_at IS NULL`,
      [owner],
    );
  }

  async findJobIds(keys: string[]): Promise<Map<string, string>> {
    if (!keys.length) return new Map();
    const rows = await this.sql.query<{ key: string; id: string }>(
      `SELECT key, id::text AS id FROM jobs
       WHERE key = ANY($1::text[]) AND done_at IS NULL AND failed_at IS NULL`,
      [keys],
    );
    return new Map(rows.map((r) => [r.key, r.id]));
  }
}

async function insertAudit(tx: Sql, events: AuditEvent[]): Promise<void> {
  for (let start = 0; start < events.length; start += MAX_ROWS_PER_INSERT) {
    const chunk = events.slice(start, start + MAX_ROWS_PER_INSERT);
    const params: unknown[] = [];
    const values = chunk.map((e) => {
      const base = params.push(
        e.at,
        e.requestId,
        e.type,
        e.actor ? JSON.stringify(e.actor) : null,
        e.platform,
        e.vmNames,
        JSON.stringify(e.details ?? {}),
      );
      const p = (i: number) => `$${base - 7 + i}`;
      return `(${p(1)}::timestamptz, ${p(2)}, ${p(3)}, ${p(4)}::jsonb, ${p(5)}, ${p(6)}::text[], ${p(7)}::jsonb)`;
    });
    await tx.query(
      `INSERT INTO audit (at, request_id, type, actor, platform, vm_names, details) VALUES ${values.join(', ')}`,
      params,
    );
  }
}

async function insertJobs(tx: Sql, jobs: JobSpec[]): Promise<void> {
  for (let start = 0; start < jobs.length; start += MAX_ROWS_PER_INSERT) {
    const chunk = jobs.slice(start, start + MAX_ROWS_PER_INSERT);
    const params: unknown[] = [];
    const values = chunk.map((j) => {
      const base = params.push(j.kind, j.requestId, j.key, j.dueAt, JSON.stringify(j.payload ?? {}));
      const p = (i: number) => `$${base - 5 + i}`;
      return `(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}::timestamptz, ${p(5)}::jsonb)`;
    });
    await tx.query(
      `INSERT INTO jobs (kind, request_id, key, due_at, payload) VALUES ${values.join(', ')}
       ON CONFLICT (key) WHERE cancelled_at IS NULL DO NOTHING`,
      params,
    );
  }
}

async function cancelJobs(tx: Sql, requestId: string, kinds: JobKind[] | undefined): Promise<void> {
  const params: unknown[] = [requestId];
  const byKind = kinds ? ` AND kind = ANY($${params.push(kinds)}::text[])` : '';
  await tx.query(
    `UPDATE jobs SET done_at = now(), cancelled_at = now(), lease_until = NULL
     WHERE request_id = $1 AND done_at IS NULL AND failed_at IS NULL${byKind}`,
    params,
  );
}
