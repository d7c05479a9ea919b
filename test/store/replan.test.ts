// PGlite keeps the store's statements prepared. A plan PostgreSQL cached while the tables were empty
// must not outlive their growth: a bot starts on an empty database, and under steady load PGlite's
// own maintenance (whose statistics would invalidate the plans) never finds the quiet second it
// waits for.
import assert from 'node:assert/strict';
import type { JobSpec } from '../../src/app/ports';
import { openTestStore, type TestStore } from '../../src/store';
import { T0 } from './helpers';

describe('PGlite statement plans as the tables grow', function () {
  this.timeout(120_000);
  let store: TestStore;

  beforeEach(async function () {
    store = await openTestStore();
  });

  afterEach(async function () {
    await store.close();
  });

  const jobs = (prefix: string, n: number): JobSpec[] => Array.from({ length: n }, (_, i) => ({ kind: 'dm' as const, requestId: `${prefix}${i}`, dueAt: T0, key: `${prefix}:${i}` }));

  /** Claims and completes `n` due jobs one at a time: the completion statement runs `n` times. */
  async function completeOneByOne(n: number): Promise<void> {
    for (const job of await store.claimJobs('me', T0, 30_000, n)) await store.completeJob(job.id, 'me');
  }

  /** The plan the connection would use for the store's prepared job completion. */
  async function completionPlan(): Promise<string> {
    const [prepared] = await store.db.query<{ name: string }>(
      `SELECT name FROM pg_prepared_statements WHERE statement LIKE 'UPDATE jobs SET done_at = now(), lease_until = NULL%'`,
    );
    assert.ok(prepared, 'the completion is a prepared statement');
    const rows = await store.db.query<Record<string, string>>(`EXPLAIN EXECUTE ${prepared.name}('{1,2,3}', 'me')`);
    return rows.map((r) => Object.values(r)[0]).join('\n');
  }

  it('finishes jobs through the primary key once the jobs table has grown, whatever plan was cached while it was empty', async function () {
    // A young bot: statistics taken at start, on empty tables (PGlite's engine analyzes when it
    // opens a database), then a handful of jobs finished one by one, so a plan is cached for them.
    await store.db.query('ANALYZE');
    await store.scheduleJobs(jobs('early', 12));
    await completeOneByOne(12);

    // Thousands of jobs later, most of them finished, and a few thousand statements run meanwhile.
    await store.scheduleJobs(jobs('later', 20_000));
    for (let i = 0; i < 4_100; i++) await store.getValue('probe', `k${i % 10}`);
    await store.scheduleJobs(jobs('now', 12));
    await completeOneByOne(12);

    const plan = await completionPlan();
    assert.match(plan, /jobs_pkey/, plan);
    assert.doesNotMatch(plan, /Seq Scan/, plan);
  });
});
