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
import { Batcher, Coalescer } from './coalesce';
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

const JOB_ID = /^\d{1,18}$/;
/**
 * "Not finished", for statements that pick jobs by id or key. Spelled so that it does not imply the
 * predicate of the partial indexes on unfinished jobs (`done_at IS NULL AND failed_at IS NULL`):
 * when it did, the plan PostgreSQL caches for a prepared statement could walk one of those indexes,
 * every unfinished job, and filter by id. Each completion then cost more with every pending
 * reminder and expiry (234 ms against 1 ms with 10,500 pending jobs; the Slack benchmark's CPU per
 * command doubled over five rounds). Written this way, the id or key index is the only way in.
 */
const UNFINISHED = 'coalesce(done_at, failed_at) IS NULL';

export class SqlStore implements Store {
  private claimsSinceSweep = 0;
  // The point statements every scheduled job makes, coalesced under load (see coalesce.ts).
  private readonly requests: Coalescer<string, RequestRow, AccessRequest | null>;
  private readonly refs: Coalescer<string, MessageRefRow[], StoredMessageRef[]>;
  private readonly completions = new Map<string, Coalescer<string, never, void>>();
  private readonly values: Coalescer<string, { value: unknown }, unknown>;
  private readonly lists: Coalescer<string, Array<{ key: string; value: unknown }>, Array<{ key: string; value: unknown }>>;
  // Group commit: the commits made while one transaction runs share the next (see commitBatch).
  /** Per change: null when it lost its compare-and-set, else the jobs it leased (Commit.lease). */
  private readonly commits: Batcher<Commit, Job[] | null>;
  private readonly claims: Batcher<{ key: string; ttlMs: number; now: Date }, boolean>;
  private readonly savedRefs: Coalescer<string, never, void>;

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
        for (const r of rows) {
          const list = byRequest.get(r.request_id) ?? [];
          list.push(r);
          byRequest.set(r.request_id, list);
        }
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
    this.lists = new Coalescer(
      async (namespaces) => {
        const rows = await this.sql.query<{ namespace: string; key: string; value: unknown }>(
          'SELECT namespace, key, value FROM kv WHERE namespace = ANY($1::text[]) ORDER BY namespace, key',
          [namespaces],
        );
        const byNamespace = new Map<string, Array<{ key: string; value: unknown }>>();
        for (const r of rows) {
          const list = byNamespace.get(r.namespace) ?? [];
          list.push({ key: r.key, value: r.value });
          byNamespace.set(r.namespace, list);
        }
        return byNamespace;
      },
      (rows, first) => (rows ? (first ? rows : structuredClone(rows)) : []),
    );
    this.commits = new Batcher((changes) => this.sql.transaction((tx) => commitBatch(tx, changes)), {
      maxBatch: 100,
      // Two changes of one request would both compare-and-set the same row: one per transaction.
      keysOf: (c) => (c.cancelJobs && c.cancelJobs.requestId !== c.request.id ? [c.request.id, c.cancelJobs.requestId] : [c.request.id]),
      retryAlone: undoneByDatabase,
    });
    this.claims = new Batcher(async (asked) => {
      // The same key twice in one batch: the first caller has it, the later ones are duplicates.
      const first = new Map<string, { expiresAt: Date }>();
      for (const c of asked) if (!first.has(c.key)) first.set(c.key, { expiresAt: new Date(c.now.getTime() + c.ttlMs) });
      // One moment for the batch, the earliest: a key is taken over only once it lapsed for every caller.
      const now = new Date(Math.min(...asked.map((c) => c.now.getTime())));
      const rows = await this.sql.query<{ key: string }>(
        `INSERT INTO idempotency (key, expires_at)
         SELECT * FROM unnest($1::text[], $2::timestamptz[])
         ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at
         WHERE idempotency.expires_at <= $3
         RETURNING key`,
        [[...first.keys()], [...first.values()].map((v) => v.expiresAt), now],
      );
      const granted = new Set(rows.map((r) => r.key));
      return asked.map((c) => granted.delete(c.key));
    });
    this.savedRefs = new Coalescer(
      async (rows) => {
        await this.sql.query(
          `INSERT INTO message_refs (request_id, kind, platform, ref)
           SELECT x.request_id, x.kind, x.platform, x.ref
           FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (request_id text, kind text, platform text, ref jsonb))
             WITH ORDINALITY AS x(request_id, kind, platform, ref, n)
           ORDER BY x.n
           ON CONFLICT (request_id, kind, (decode(md5(ref::text), 'hex'))) DO NOTHING`,
          [`[${rows.join(',')}]`],
        );
        return new Map<string, never>();
      },
      (): void => undefined,
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

  async commit(change: Commit): Promise<boolean> {
    const leased = await this.commits.submit(change);
    if (leased === null) return false;
    if (change.lease && leased.length > 0) change.lease.adopt(leased);
    return true;
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
    // Saving the same reference again (a retried job) keeps one row. The row is the batch key, so the
    // same reference saved twice at one moment is sent once.
    await this.savedRefs.load(JSON.stringify({ request_id: ref.requestId, kind: ref.kind, platform: ref.ref.platform, ref: ref.ref }));
  }

  listMessageRefs(requestId: string): Promise<StoredMessageRef[]> {
    return this.refs.load(requestId);
  }

  // ---- idempotency and key-value ----------------------------------------------------------------

  async claimKey(key: string, ttlMs: number, now: Date): Promise<boolean> {
    const granted = await this.claims.submit({ key, ttlMs, now });
    if (++this.claimsSinceSweep >= SWEEP_EVERY_CLAIMS) {
      this.claimsSinceSweep = 0;
      await this.sql.query(
        'DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE expires_at <= $1 LIMIT $2)',
        [now, SWEEP_BATCH],
      );
    }
    return granted;
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
    // Teams reads its conversations for every card it posts.
    return (await this.lists.load(namespace)) as Array<{ key: string; value: T }>;
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

  async nextDueAt(now: Date): Promise<Date | null> {
    const rows = await this.sql.query<{ at: Date | null }>(
      'SELECT min(due_at) AS at FROM jobs WHERE done_at IS NULL AND failed_at IS NULL AND (lease_until IS NULL OR lease_until < $1)',
      [now],
    );
    return rows[0]?.at ?? null;
  }

  async claimJob(id: string, owner: string, now: Date, leaseMs: number): Promise<Job | null> {
    if (!/^\d{1,18}$/.test(id)) return null;
    const rows = await this.sql.query<JobRow>(
      `WITH due AS MATERIALIZED (
         SELECT id FROM jobs
         WHERE id = $4::bigint AND ${UNFINISHED} AND due_at <= $2
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
             WHERE id = ANY($1::bigint[]) AND lease_owner = $2 AND ${UNFINISHED}`,
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
       WHERE id = $1::bigint AND lease_owner = $2 AND ${UNFINISHED}`,
      [id, owner, dueAt, error],
    );
  }

  async failJob(id: string, owner: string, error: string): Promise<void> {
    await this.sql.query(
      `UPDATE jobs SET failed_at = now(), last_error = $3, lease_until = NULL
       WHERE id = $1::bigint AND lease_owner = $2 AND ${UNFINISHED}`,
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
    // A cancelled job is finished too; saying so lets the key index, partial on it, serve the lookup.
    const rows = await this.sql.query<{ key: string; id: string }>(
      `SELECT key, id::text AS id FROM jobs
       WHERE key = ANY($1::text[]) AND cancelled_at IS NULL AND ${UNFINISHED}`,
      [keys],
    );
    return new Map(rows.map((r) => [r.key, r.id]));
  }
}

/**
 * Several commits in one transaction (the caller's), each statement covering all of them: what used
 * to be five round trips per commit is five per batch. Each change's outcome is its own: a change
 * whose insert or compare-and-set finds the row taken writes nothing that came with it, exactly as
 * its own transaction would have. The batch holds at most one change per request (Batcher.keysOf).
 */
async function commitBatch(tx: Sql, changes: Commit[]): Promise<Array<Job[] | null>> {
  const row = (c: Commit) => {
    const col = requestColumns(c.request);
    // `data` is already JSON text; spliced in rather than parsed and serialized again.
    return `{${[
      `"id":${JSON.stringify(c.request.id)}`,
      `"version":${c.expectedVersion === null ? c.request.version : c.expectedVersion}`,
      `"state":${JSON.stringify(col.state)}`,
      `"requester_email":${JSON.stringify(col.requesterEmail)}`,
      `"created_at":${JSON.stringify(col.createdAt)}`,
      `"opened_at":${JSON.stringify(col.openedAt)}`,
      `"ends_at":${JSON.stringify(col.endsAt)}`,
      `"vm_names":${JSON.stringify(col.vmNames)}`,
      `"vm_keys":${JSON.stringify(col.vmKeys)}`,
      `"data":${col.data}`,
    ].join(',')}}`;
  };
  const COLUMNS = 'id text, version integer, state text, requester_email text, created_at timestamptz, opened_at timestamptz, ends_at timestamptz, vm_names text[], vm_keys text[], data jsonb';
  const won = new Set<string>();
  const inserts = changes.filter((c) => c.expectedVersion === null);
  if (inserts.length) {
    const rows = await tx.query<{ id: string }>(
      `INSERT INTO requests (id, version, state, requester_email, created_at, opened_at, ends_at, vm_names, vm_keys, data)
       SELECT id, version, state, requester_email, created_at, opened_at, ends_at, vm_names, vm_keys, data
       FROM jsonb_to_recordset($1::jsonb) AS x(${COLUMNS})
       ON CONFLICT (id) DO NOTHING
       RETURNING id`,
      [`[${inserts.map(row).join(',')}]`],
    );
    for (const r of rows) won.add(r.id);
  }
  const updates = changes.filter((c) => c.expectedVersion !== null);
  if (updates.length) {
    // The stored version is always expectedVersion + 1, whatever the object says, so two writers
    // holding the same version can never both succeed.
    const rows = await tx.query<{ id: string }>(
      `UPDATE requests AS r
       SET version = x.version + 1, state = x.state, requester_email = x.requester_email, created_at = x.created_at,
           opened_at = x.opened_at, ends_at = x.ends_at, vm_names = x.vm_names, vm_keys = x.vm_keys,
           data = jsonb_set(x.data, '{version}', to_jsonb(x.version + 1))
       FROM jsonb_to_recordset($1::jsonb) AS x(${COLUMNS})
       WHERE r.id = x.id AND r.version = x.version
       RETURNING r.id`,
      [`[${updates.map(row).join(',')}]`],
    );
    for (const r of rows) won.add(r.id);
  }
  const winners = changes.filter((c) => won.has(c.request.id));
  const cancels = winners.flatMap((c) => (c.cancelJobs ? [c.cancelJobs] : []));
  if (cancels.length) await cancelJobs(tx, cancels);
  const audit = winners.flatMap((c) => c.audit ?? []);
  if (audit.length) await insertAudit(tx, audit);
  // Jobs already due go in leased to the process that committed (Commit.lease): it runs them next,
  // without a claim statement, and no other process takes them while the lease holds.
  const leaseOf = new Map<string, Commit>();
  const jobs: LeasedSpec[] = winners.flatMap((c) =>
    (c.schedule ?? []).map((j) => {
      const lease = c.lease && j.dueAt.getTime() <= c.lease.now.getTime() ? c.lease : null;
      if (lease && !leaseOf.has(j.key)) leaseOf.set(j.key, c);
      return { ...j, leaseOwner: lease?.owner ?? null, leaseUntil: lease?.until ?? null };
    }),
  );
  const leased = new Map<Commit, Job[]>();
  if (jobs.length) {
    for (const job of await insertJobs(tx, jobs, leaseOf.size > 0)) {
      const c = leaseOf.get(job.key);
      if (c) leased.set(c, [...(leased.get(c) ?? []), job]);
    }
  }
  return changes.map((c) => (won.has(c.request.id) ? (leased.get(c) ?? []) : null));
}

type LeasedSpec = JobSpec & { leaseOwner?: string | null; leaseUntil?: Date | null };

/**
 * Errors after which the database has certainly undone the whole transaction: it refused a
 * statement (an SQLSTATE), not a lost connection, after which a COMMIT may or may not have landed.
 */
function undoneByDatabase(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('08') && !code.startsWith('57');
}

// Rows go in as one JSON array (one parameter, one statement text whatever their number), in order:
// audit rows are read back by id, the order they were inserted in.
async function insertAudit(tx: Sql, events: AuditEvent[]): Promise<void> {
  await tx.query(
    `INSERT INTO audit (at, request_id, type, actor, platform, vm_names, details)
     SELECT x.at, x.request_id, x.type, x.actor, x.platform, x.vm_names, x.details
     FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (at timestamptz, request_id text, type text, actor jsonb, platform text, vm_names text[], details jsonb))
       WITH ORDINALITY AS x(at, request_id, type, actor, platform, vm_names, details, n)
     ORDER BY x.n`,
    [JSON.stringify(events.map((e) => ({ at: e.at, request_id: e.requestId, type: e.type, actor: e.actor ?? null, platform: e.platform, vm_names: e.vmNames, details: e.details ?? {} })))],
  );
}

/** Inserts the jobs; with `returnLeased`, returns those inserted leased (a duplicate key inserts nothing). */
async function insertJobs(tx: Sql, jobs: LeasedSpec[], returnLeased = false): Promise<Job[]> {
  const rows = await tx.query<JobRow & { leased: boolean }>(
    `INSERT INTO jobs (kind, request_id, key, due_at, payload, lease_owner, lease_until, attempts)
     SELECT x.kind, x.request_id, x.key, x.due_at, x.payload, x.lease_owner, x.lease_until, CASE WHEN x.lease_owner IS NULL THEN 0 ELSE 1 END
     FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (kind text, request_id text, key text, due_at timestamptz, payload jsonb, lease_owner text, lease_until timestamptz))
       WITH ORDINALITY AS x(kind, request_id, key, due_at, payload, lease_owner, lease_until, n)
     ORDER BY x.n
     ON CONFLICT (key) WHERE cancelled_at IS NULL DO NOTHING${returnLeased ? `\n     RETURNING ${JOB_COLUMNS}, jobs.lease_owner IS NOT NULL AS leased` : ''}`,
    [
      JSON.stringify(
        jobs.map((j) => ({
          kind: j.kind,
          request_id: j.requestId,
          key: j.key,
          due_at: j.dueAt,
          payload: j.payload ?? {},
          lease_owner: j.leaseOwner ?? null,
          lease_until: j.leaseUntil ?? null,
        })),
      ),
    ],
  );
  return rows.filter((r) => r.leased).map(decodeJob);
}

async function cancelJobs(tx: Sql, cancels: Array<{ requestId: string; kinds?: JobKind[] }>): Promise<void> {
  const every = cancels.filter((c) => !c.kinds).map((c) => c.requestId);
  const pairs = cancels.flatMap((c) => (c.kinds ?? []).map((kind) => [c.requestId, kind] as const));
  // `request_id = ANY(…)` first, so the planner takes the open jobs' request index: a join on a
  // function's rows, which it cannot count, had it scan every job (17 ms a batch against 0.3).
  await tx.query(
    `UPDATE jobs SET done_at = now(), cancelled_at = now(), lease_until = NULL
     WHERE request_id = ANY($1::text[]) AND done_at IS NULL AND failed_at IS NULL
       AND (request_id = ANY($2::text[]) OR (request_id, kind) IN (SELECT * FROM unnest($3::text[], $4::text[])))`,
    [cancels.map((c) => c.requestId), every, pairs.map((p) => p[0]), pairs.map((p) => p[1])],
  );
}
