import assert from 'node:assert/strict';
import type { JobSpec } from '../../src/app/ports';
import { SqlStore, type TestStore } from '../../src/store';
import type { Sql } from '../../src/store/sql';
import { storeEngines, T0 } from './helpers';

const HOUR = 3_600_000;

/** A literal for EXECUTE's arguments: the statements here take ids, texts, times and arrays of them. */
function literal(value: unknown): string {
  if (value instanceof Date) return `'${value.toISOString()}'`;
  if (Array.isArray(value)) return `'{${value.map((v) => JSON.stringify(String(v))).join(',')}}'`;
  if (typeof value === 'number') return String(value);
  return `'${String(value).replace(/'/g, "''")}'`;
}

for (const engine of storeEngines()) {
  describe(`Job statements on ${engine.name}`, function () {
    this.timeout(60_000);
    let store: TestStore;

    beforeEach(async function () {
      store = await engine.open();
    });

    afterEach(async function () {
      await store.close();
    });

    // A bot keeps a reminder, an expiry or an approval deadline pending for every open request. The
    // statements that finish, retry, fail or look up one job must not walk all of those: the plan
    // PostgreSQL caches for a prepared statement does not know how many there are, so the test
    // looks at that generic plan, with statistics taken while there were almost none.
    it('finishes, retries, fails and finds a job through its id or key, however many others are pending', async function () {
      // Statistics from a moment when nearly every job was finished, as after a quiet spell.
      await store.scheduleJobs(Array.from({ length: 3_000 }, (_, i) => ({ kind: 'dm' as const, requestId: `D${i}`, dueAt: T0, key: `dm:D${i}` })));
      const done = await store.claimJobs('earlier', T0, 30_000, 3_000);
      await Promise.all(done.map((j) => store.completeJob(j.id, 'earlier')));
      await store.scheduleJobs([{ kind: 'expire', requestId: 'R0', dueAt: T0, key: 'expire:R0' }]);
      await store.db.query('ANALYZE jobs');
      const pending: JobSpec[] = Array.from({ length: 3_000 }, (_, i) => ({ kind: 'remind', requestId: `R${i}`, dueAt: new Date(T0.getTime() + HOUR + i), key: `remind:R${i}` }));
      await store.scheduleJobs([...pending, { kind: 'expire', requestId: 'R1', dueAt: T0, key: 'expire:R1' }, { kind: 'expire', requestId: 'R2', dueAt: T0, key: 'expire:R2' }]);

      const sent: Array<{ text: string; params: unknown[] }> = [];
      const recording = (sql: Sql): Sql => ({
        query: (text, params = []) => {
          sent.push({ text, params });
          return sql.query(text, params);
        },
        transaction: (fn) => sql.transaction((tx) => fn(recording(tx))),
        close: async () => undefined,
      });
      const spy = new SqlStore(recording(store.db), { schema: store.schema });
      const ids = await spy.findJobIds(['expire:R0', 'expire:R1', 'expire:R2']);
      assert.equal(ids.size, 3);
      const now = new Date(T0.getTime() + 1_000);
      for (const id of ids.values()) assert.ok(await spy.claimJob(id, 'me', now, 30_000), 'claimed');
      await spy.completeJob(ids.get('expire:R0')!, 'me');
      await spy.retryJob(ids.get('expire:R1')!, 'me', new Date(T0.getTime() + 60_000), 'later');
      await spy.failJob(ids.get('expire:R2')!, 'me', 'no');
      assert.equal(sent.length, 7);

      const plans = await store.db.transaction(async (tx) => {
        await tx.query('SET LOCAL plan_cache_mode = force_generic_plan');
        const out: string[] = [];
        for (const [i, { text, params }] of sent.entries()) {
          await tx.query(`PREPARE job_statement_${i} AS ${text}`);
          const rows = await tx.query<Record<string, string>>(`EXPLAIN EXECUTE job_statement_${i}(${params.map(literal).join(', ')})`);
          out.push(rows.map((r) => Object.values(r)[0]).join('\n'));
          await tx.query(`DEALLOCATE job_statement_${i}`);
        }
        return out;
      });
      // Through the id or the key: not the indexes of unfinished jobs, and not the whole table.
      const walking = plans.flatMap((plan, i) =>
        /jobs_(due|request)_idx/.test(plan) || !/jobs_pkey|jobs_key_idx/.test(plan) ? [`${sent[i]!.text.trim().split('\n')[0]}\n${plan}`] : [],
      );
      assert.deepEqual(walking, [], 'statements whose plan walks every unfinished job');
    });
  });
}
