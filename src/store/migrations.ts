// Versioned schema changes, kept in code so they ship inside dist/. Append new versions; never edit
// one that has shipped. Every version runs in the same transaction as its bookkeeping row.
import type { Sql } from './sql';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'requests, audit, message refs, idempotency, kv, jobs',
    sql: `
CREATE TABLE requests (
  id              text PRIMARY KEY,
  version         integer NOT NULL,
  state           text NOT NULL,
  requester_email text,
  created_at      timestamptz NOT NULL,
  opened_at       timestamptz,
  ends_at         timestamptz,
  vm_names        text[] NOT NULL,
  -- Lower-cased names: Azure resource names are case-insensitive, and so are lookups by name.
  vm_keys         text[] NOT NULL,
  data            jsonb NOT NULL
);
CREATE INDEX requests_state_idx ON requests (state);
CREATE INDEX requests_requester_idx ON requests (requester_email);
CREATE INDEX requests_vm_keys_idx ON requests USING gin (vm_keys);

CREATE TABLE audit (
  id         bigserial PRIMARY KEY,
  at         timestamptz NOT NULL,
  request_id text,
  type       text NOT NULL,
  actor      jsonb,
  platform   text,
  vm_names   text[] NOT NULL DEFAULT '{}',
  details    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_request_idx ON audit (request_id);
CREATE INDEX audit_at_idx ON audit (at);

-- The trail must outlive mistakes in code as well as grants: the database itself refuses edits.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit trail is append-only';
END
$$;
CREATE TRIGGER audit_no_update_or_delete BEFORE UPDATE OR DELETE ON audit
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
  FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

CREATE TABLE message_refs (
  id         bigserial PRIMARY KEY,
  request_id text NOT NULL,
  kind       text NOT NULL,
  platform   text NOT NULL,
  ref        jsonb NOT NULL,
  UNIQUE (request_id, kind, ref)
);

CREATE TABLE idempotency (
  key        text PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
CREATE INDEX idempotency_expires_idx ON idempotency (expires_at);

CREATE TABLE kv (
  namespace  text NOT NULL,
  key        text NOT NULL,
  value      jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (namespace, key)
);

CREATE TABLE jobs (
  id           bigserial PRIMARY KEY,
  kind         text NOT NULL,
  request_id   text,
  key          text NOT NULL,
  due_at       timestamptz NOT NULL,
  payload      jsonb NOT NULL DEFAULT '{}',
  attempts     integer NOT NULL DEFAULT 0,
  lease_owner  text,
  lease_until  timestamptz,
  done_at      timestamptz,
  cancelled_at timestamptz,
  failed_at    timestamptz,
  last_error   text,
  created_at   timestamptz NOT NULL DEFAULT now()
);
-- A cancelled job gives its key back, so a commit may cancel a request's expiry and schedule the
-- new one under the same key; done and failed jobs keep theirs, so replays never run work twice.
CREATE UNIQUE INDEX jobs_key_idx ON jobs (key) WHERE cancelled_at IS NULL;
CREATE INDEX jobs_due_idx ON jobs (due_at) WHERE done_at IS NULL AND failed_at IS NULL;
CREATE INDEX jobs_request_idx ON jobs (request_id) WHERE done_at IS NULL AND failed_at IS NULL;
CREATE INDEX jobs_lease_owner_idx ON jobs (lease_owner) WHERE done_at IS NULL AND failed_at IS NULL;
`,
  },
  {
    version: 2,
    name: 'claiming a job writes no index entries',
    // Every job is claimed once, and a claim changes only the lease (owner, until, attempts). With the
    // owner indexed, each claim wrote a new entry into every index of the table and left the old
    // ones dead until a vacuum; under a burst of expiries the claim's scan of the due index waded
    // through them (PGlite, which has no autovacuum: 24 ms a claim). Unindexed, and with room left
    // on each page, the claim is a heap-only update. Releasing a stopping process's leases, the one
    // reader of that index, finds its jobs through the due index instead.
    sql: `
DROP INDEX jobs_lease_owner_idx;
ALTER TABLE jobs SET (fillfactor = 70);
`,
  },
  {
    version: 3,
    name: 'card references are unique by a digest of the reference',
    // The unique index held each whole reference (~110 bytes of JSON) and outgrew its table; every
    // card, copy and reply adds an entry at a random place in it (request ids are random). With a
    // 16-byte digest in its place the index is a third of the size, so more of the database's
    // working set stays in PGlite's 32 MB of buffers. jsonb's text form is canonical, so equal
    // references have equal digests.
    sql: `
ALTER TABLE message_refs DROP CONSTRAINT message_refs_request_id_kind_ref_key;
CREATE UNIQUE INDEX message_refs_unique_idx ON message_refs (request_id, kind, (decode(md5(ref::text), 'hex')));
`,
  },
];

// Any fixed number works; it only has to differ from other advisory locks taken on the database.
const MIGRATION_LOCK_ID = 0x6a697462; // 'jitb'

/**
 * Apply the migrations this database lacks, in order, in one transaction. The advisory lock makes a
 * second process starting at the same moment wait, then find everything applied.
 * Returns the versions applied now.
 */
export async function migrate(sql: Sql, opts: { schema?: string; migrations?: readonly Migration[] } = {}): Promise<number[]> {
  const migrations = [...(opts.migrations ?? MIGRATIONS)].sort((a, b) => a.version - b.version);
  return sql.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_ID]);
    if (opts.schema) await tx.query(`CREATE SCHEMA IF NOT EXISTS ${opts.schema}`);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const rows = await tx.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((r) => r.version));
    const appliedNow: number[] = [];
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      await runScript(tx, m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      appliedNow.push(m.version);
    }
    return appliedNow;
  });
}

// PGlite's query() speaks the extended protocol, one statement at a time, so scripts are split on the
// semicolons that end a line outside a `$$` function body.
async function runScript(tx: Sql, script: string): Promise<void> {
  for (const statement of splitStatements(script)) await tx.query(statement);
}

export function splitStatements(script: string): string[] {
  const statements: string[] = [];
  let current: string[] = [];
  let inBody = false;
  for (const line of script.split('\n')) {
    if (!current.length && (line.trim() === '' || line.trim().startsWith('--'))) continue;
    current.push(line);
    if ((line.match(/\$\$/g)?.length ?? 0) % 2 === 1) inBody = !inBody;
    if (!inBody && line.trimEnd().endsWith(';')) {
      statements.push(current.join('\n').trim());
      current = [];
    }
  }
  if (current.join('').trim()) statements.push(current.join('\n').trim());
  return statements;
}
