import assert from 'node:assert/strict';
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS, newTestSchemaName, openStore, openTestStore, SqlStore } from '../../src/store';
import { makePgliteTemplate, openPgliteSql } from '../../src/store/pglite';
import { jobRows, sampleRequest, type JobRowView } from './helpers';

const FIXTURES = join(__dirname, 'fixtures');

function startWorker(file: string, args: string[]): ChildProcess {
  return fork(join(FIXTURES, file), args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
}

function nextMessage<T>(child: ChildProcess, test: (m: Record<string, unknown>) => boolean): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: Record<string, unknown>) => {
      if (!test(m)) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m as T);
    };
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`worker exited (${code ?? signal}) before the expected message`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Opens (making it when missing) the PGlite database in `dataDir`, asks it one thing, closes it. */
async function opensAndAnswers(dataDir: string, template: string): Promise<void> {
  const sql = await openPgliteSql(dataDir, { template });
  try {
    assert.deepEqual(await sql.query('SELECT 1 AS one'), [{ one: 1 }]);
  } finally {
    await sql.close();
  }
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('Scheduled work across processes', function () {
  // A first start runs initdb in a child process and then opens the database: slow on a busy machine.
  this.timeout(120_000);
  const children: ChildProcess[] = [];

  afterEach(function () {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('should run every expiry exactly once when a PGlite process is killed mid-run and a new one takes over', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'jitbot-restart-'));
    const starts = join(dir, 'starts.log');
    const GRANTS = 40;
    const HANG_AT = 17;
    try {
      const first = startWorker('expiry-worker.ts', [dir, 'first', String(GRANTS), String(HANG_AT), starts]);
      children.push(first);
      const { hanging } = await nextMessage<{ hanging: string }>(first, (m) => 'hanging' in m);
      // Two processes on one PGlite directory would corrupt it: a second opener is turned away.
      await assert.rejects(openStore({ dataDir: dir }), new RegExp(`in use by process ${first.pid}`));
      first.kill('SIGKILL');
      assert.equal((await exited(first)).signal, 'SIGKILL');

      const second = startWorker('expiry-worker.ts', [dir, 'second', String(GRANTS), String(HANG_AT), starts]);
      children.push(second);
      const { drained } = await nextMessage<{ drained: number }>(second, (m) => 'drained' in m);
      assert.equal((await exited(second)).code, 0);
      assert.ok(drained > 0, 'the second process had work left');

      const sql = await openPgliteSql(join(dir, 'pgdata'));
      const store = new SqlStore(sql);
      try {
        const grants = await store.listRequests({});
        assert.equal(grants.length, GRANTS);
        assert.deepEqual(new Set(grants.map((g) => g.state)), new Set(['expired']));

        const expiries = (await store.listAudit({})).filter((e) => e.type === 'request.expired');
        const perGrant = new Map<string, number>();
        for (const e of expiries) perGrant.set(e.requestId!, (perGrant.get(e.requestId!) ?? 0) + 1);
        assert.equal(perGrant.size, GRANTS);
        assert.deepEqual([...new Set(perGrant.values())], [1], 'each grant expired exactly once');

        const rows = await sql.query<JobRowView>(
          'SELECT key, attempts, done_at IS NOT NULL AS done, failed_at IS NOT NULL AS failed FROM jobs ORDER BY key',
        );
        assert.equal(rows.length, GRANTS);
        assert.ok(rows.every((r) => r.done && !r.failed));
        assert.equal(rows.find((r) => r.key === `expire:${hanging}`)?.attempts, 2);

        // The hanging job's handler ran in both processes: its effect still happened once.
        const startLines = readFileSync(starts, 'utf8').trim().split('\n');
        assert.deepEqual(startLines.filter((l) => l.startsWith(`${hanging} `)), [`${hanging} first`, `${hanging} second`]);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should create a new PGlite database even where a killed first start left a half-made one, and keep what it stores', async function () {
    this.timeout(180_000);
    const dir = mkdtempSync(join(tmpdir(), 'jitbot-first-'));
    try {
      // What a first start killed during initdb leaves: the scratch directory beside pgdata.
      mkdirSync(join(dir, 'pgdata.initdb'));
      writeFileSync(join(dir, 'pgdata.initdb', 'PG_VERSION'), 'half');
      const request = sampleRequest();
      const first = await openStore({ dataDir: dir });
      try {
        assert.equal(await first.commit({ request, expectedVersion: null }), true);
      } finally {
        await first.close();
      }
      assert.equal(existsSync(join(dir, 'pgdata.initdb')), false, 'the scratch directory is gone');

      const again = await openStore({ dataDir: dir });
      try {
        assert.equal((await again.getRequest(request.id))?.id, request.id);
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should make a new PGlite database from the build\'s template, private to its owner, and run initdb when the template is from another PGlite or cannot be copied', async function () {
    this.timeout(240_000);
    const dir = mkdtempSync(join(tmpdir(), 'jitbot-template-'));
    const template = join(dir, 'template');
    try {
      assert.equal(await makePgliteTemplate(template), 'made');
      assert.equal(await makePgliteTemplate(template), 'current', 'made once per PGlite version');
      assert.equal((statSync(join(template, 'PG_VERSION')).mode & 0o777).toString(8), '644', 'readable by the user the bot runs as');
      // A file initdb never makes, so a copy is told apart from a database initdb made.
      writeFileSync(join(template, 'made-by-the-build'), '');
      const templateFiles = readdirSync(template, { recursive: true }).sort();

      const copied = join(dir, 'a', 'pgdata');
      const a = new SqlStore(await openPgliteSql(copied, { template }));
      try {
        await a.migrate();
        const request = sampleRequest();
        assert.equal(await a.commit({ request, expectedVersion: null }), true);
        assert.equal((await a.getRequest(request.id))?.id, request.id);
      } finally {
        await a.close();
      }
      assert.ok(existsSync(join(copied, 'made-by-the-build')), 'copied from the template');
      assert.equal((statSync(copied).mode & 0o777).toString(8), '700');
      assert.equal((statSync(join(copied, 'PG_VERSION')).mode & 0o777).toString(8), '600');
      assert.deepEqual(readdirSync(template, { recursive: true }).sort(), templateFiles, 'the template is left as it was');

      const stamp = readFileSync(`${template}.version`, 'utf8');
      writeFileSync(`${template}.version`, '0.0.0\n');
      const made = join(dir, 'b', 'pgdata');
      await opensAndAnswers(made, template);
      assert.equal(existsSync(join(made, 'made-by-the-build')), false, 'initdb, not a copy of another version');

      // A template that cannot be copied (here a named pipe in it) costs the initdb it would have saved.
      writeFileSync(`${template}.version`, stamp);
      execFileSync('mkfifo', [join(template, 'a-pipe')]);
      const fallback = join(dir, 'c', 'pgdata');
      await opensAndAnswers(fallback, template);
      assert.equal(existsSync(join(fallback, 'made-by-the-build')), false, 'initdb after the copy failed');
      assert.equal(existsSync(`${fallback}.initdb`), false, 'no half copy left behind');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const databaseUrl = process.env.TEST_DATABASE_URL;
  if (databaseUrl) it('should run 500 due jobs exactly once in total with two processes on PostgreSQL', async function () {
    const schema = newTestSchemaName();
    const workers = ['a', 'b'].map((owner) => startWorker('claim-worker.ts', [databaseUrl!, schema, `worker-${owner}`]));
    children.push(...workers);
    // Both migrate the empty schema at the same moment; neither may fail.
    await Promise.all(workers.map((w) => nextMessage(w, (m) => 'ready' in m)));

    const store = await openTestStore({ databaseUrl, schema });
    try {
      const now = Date.now();
      await store.scheduleJobs(
        Array.from({ length: 500 }, (_, i) => ({ kind: 'expire' as const, requestId: `R${i}`, dueAt: new Date(now - 1_000 - i), key: `expire:R${i}` })),
      );
      const results = workers.map((w) => nextMessage<{ ran: number }>(w, (m) => 'ran' in m));
      for (const w of workers) w.send('go');
      const ran = (await Promise.all(results)).map((r) => r.ran);
      for (const w of workers) assert.equal((await exited(w)).code, 0);

      assert.equal(ran[0] + ran[1], 500);
      assert.ok(ran[0] > 0 && ran[1] > 0, `both processes ran jobs (${ran.join(' + ')})`);
      const runs = (await store.listAudit({})).filter((e) => e.type === 'job.ran');
      assert.equal(runs.length, 500);
      assert.equal(new Set(runs.map((e) => e.details.jobId)).size, 500);
      assert.ok((await jobRows(store)).every((r) => r.done));
      const migrations = await store.db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(migrations.map((m) => m.version), MIGRATIONS.map((m) => m.version));
    } finally {
      await store.close();
    }
  });
});
