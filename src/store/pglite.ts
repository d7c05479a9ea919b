// PGlite engine: PostgreSQL compiled to WASM, in this process, one connection. Everything sent to one
// database goes through one queue, so a transaction never interleaves with another caller's query.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, rmdirSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { PGlite, parse, protocol } from '@electric-sql/pglite';
import { assertSchemaName, type Sql } from './sql';

/** Runs tasks one at a time, in call order; a failed task does not block the next. */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/**
 * PostgreSQL sizes shared_buffers at 128 MB by default, and PGlite's WASM heap takes all of it at
 * start and never gives it back: 130 MB of the bot's resident memory for a database of a few
 * megabytes. 32 MB holds the working set of tens of thousands of requests and their jobs; pages
 * beyond it come from the operating system's file cache, one system call each through PGlite's file
 * system (with 16 MB, a burst of 10,000 expiries, whose jobs table passed 50 MB, spent seconds in
 * those reads). A start parameter, not postgresql.conf, so nothing is written into the user's data
 * directory.
 */
const START_PARAMS = [...PGlite.defaultStartParams, '-c', 'shared_buffers=32MB'];

/**
 * PGlite runs PostgreSQL in single-user mode, where no autovacuum daemon runs: tables were never
 * analyzed (without statistics the planner scanned a whole partial index of open jobs to cancel one
 * request's jobs, 1 to 5 ms instead of 0.3) nor vacuumed (each claimed and finished job leaves dead
 * rows behind). So the engine does what autovacuum would: ANALYZE when a database with tables is
 * opened, then VACUUM (ANALYZE) of the tables once enough was written. Like autovacuum, it keeps out
 * of the way: the one connection is blocked while it runs (hundreds of milliseconds on a big jobs
 * table, which made expiry notices a second late), so it waits for a quiet second, and only after
 * ten busy minutes runs regardless.
 */
const MAINTENANCE_CHECK_MS = 10_000;
const MAINTENANCE_AFTER_STATEMENTS = 1_000;
const MAINTENANCE_QUIET_MS = 1_000;
const MAINTENANCE_AT_LATEST_MS = 10 * 60_000;
const USER_TABLES = `SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS name FROM pg_tables
  WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`;

/**
 * V8 compiles WASM twice: quickly (Liftoff) at once, then again with its optimizing compiler for the
 * functions that run hot. For PGlite's 9 MB module the optimized code and its compilation cost the
 * bot ~60 MB resident for good (277 against 213 MB idle after a start, measured side by side) and a
 * second of CPU at start, for statements ~25 % faster once warm. A bot waits most of its life, so
 * local mode keeps to Liftoff; a busy deployment belongs on PostgreSQL, which this does not touch.
 * Set before the module is compiled; process-wide, and the only other WASM in the process is Node's
 * own HTTP parser for fetch, which the bot does not use on a hot path.
 */
function preferLeanWasm(): void {
  setFlagsFromString('--liftoff-only');
}

/**
 * PGlite's own `query` costs six trips into the WASM backend per statement (parse, describe, bind,
 * describe, execute, sync), each with its own message encoding and result handling: about 0.3 ms of
 * fixed cost, more than the lookups and inserts the bot makes. So the statements the store sends
 * again and again are prepared once per connection (a named statement, parsed and described once)
 * and each later call is bind, describe, execute and sync in one trip: ~0.1 ms (microbenchmark,
 * Liftoff). Parameters and results go through PGlite's own serializers and parsers, as in `query`.
 * The store's texts are a few dozen, plus variants by row count; the least recently used are closed
 * past the limit. PostgreSQL re-plans a prepared statement when a table it uses or the search_path
 * changes, and the key includes the schema, so test stores sharing one database stay apart.
 */
const PREPARED_LIMIT = 256;

/**
 * After five executions PostgreSQL may keep a prepared statement's generic plan for good, and that
 * plan is costed for the tables as they were then. A bot starts on empty tables, and PGlite's
 * maintenance (the only ANALYZE, whose new statistics would have the plans made again) waits for a
 * quiet second: under steady load the job completion's plan stayed a sequential scan chosen while the
 * jobs table had a page or two, 4.5 ms a completion with 23,000 jobs against 0.4 ms through the
 * primary key (decision benchmark, 1,000 approvals). So the statements are prepared afresh each time
 * the number run has doubled, from REPLAN_FIRST on: their plans follow the tables as they grow, at
 * the cost of a few dozen extra parses, a handful of times in a process's life.
 */
const REPLAN_FIRST = 2_000;

interface Prepared {
  name: string;
  paramTypes: number[];
}

/** One PGlite database and the state of its single connection. */
class PgliteSession {
  readonly queue = new SerialQueue();
  /** The schema the connection's search_path points at; null while it is the database default. */
  searchPath: string | null = null;
  /** Prepared statements by schema and text, least recently used first. */
  private readonly prepared = new Map<string, Prepared>();
  private nextName = 1;
  private executed = 0;
  private replanAt = REPLAN_FIRST;

  constructor(readonly db: PGlite) {}

  /** One statement, on the connection as it is (call only inside the queue). */
  async run<T>(text: string, params: unknown[]): Promise<T[]> {
    if (++this.executed >= this.replanAt) await this.forgetPrepared();
    const statement = await this.prepare(text);
    const values = params.map((value, i) => {
      if (value === null || value === undefined) return null;
      const serialize = this.db.serializers[statement.paramTypes[i]];
      return serialize ? serialize(value) : String(value);
    });
    const { serialize } = protocol;
    const { messages } = await this.db.execProtocol(
      concat([serialize.bind({ statement: statement.name, values }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()]),
      { syncToFs: false },
    );
    return (parse.parseResults(messages, this.db.parsers)[0]?.rows ?? []) as T[];
  }

  private async prepare(text: string): Promise<Prepared> {
    const key = `${this.searchPath ?? ''}\0${text}`;
    const known = this.prepared.get(key);
    if (known) {
      this.prepared.delete(key);
      this.prepared.set(key, known);
      return known;
    }
    const name = `jit_${this.nextName++}`;
    const { serialize } = protocol;
    const evicted = this.prepared.size >= PREPARED_LIMIT ? [...this.prepared.keys()][0] : undefined;
    const close = evicted !== undefined ? [serialize.close({ type: 'S', name: this.prepared.get(evicted)!.name })] : [];
    if (evicted !== undefined) this.prepared.delete(evicted);
    const { messages } = await this.db.execProtocol(
      concat([...close, serialize.parse({ name, text, types: [] }), serialize.describe({ type: 'S', name }), serialize.sync()]),
      { syncToFs: false },
    );
    const statement = { name, paramTypes: parse.parseDescribeStatementResults(messages) };
    this.prepared.set(key, statement);
    return statement;
  }

  /** Closes every prepared statement (see REPLAN_FIRST); each is prepared again when next run. */
  private async forgetPrepared(): Promise<void> {
    this.replanAt *= 2;
    if (this.prepared.size === 0) return;
    const { serialize } = protocol;
    const closes = [...this.prepared.values()].map((p) => serialize.close({ type: 'S', name: p.name }));
    this.prepared.clear();
    await this.db.execProtocol(concat([...closes, serialize.sync()]), { syncToFs: false });
  }

  /** BEGIN, COMMIT and ROLLBACK: one simple-protocol trip each. */
  async control(command: 'BEGIN' | 'COMMIT' | 'ROLLBACK'): Promise<void> {
    const { messages } = await this.db.execProtocol(protocol.serialize.query(command), { syncToFs: false });
    // COMMIT of a transaction in which a statement failed answers ROLLBACK rather than an error.
    if (command === 'COMMIT' && parse.parseResults(messages, this.db.parsers)[0]?.command === 'ROLLBACK') {
      throw new Error('the transaction was rolled back: a statement in it failed');
    }
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

class PgliteSql implements Sql {
  private closed = false;
  /** Statements since the last maintenance (persistent databases only). */
  statements = 0;
  /** When the last statement was sent, and the last maintenance ran (Date.now()). */
  lastStatementAt = 0;
  lastMaintenanceAt = Date.now();

  constructor(
    private readonly session: PgliteSession,
    private readonly schema: string | null,
    private readonly onClose: () => Promise<void>,
  ) {}

  query<T>(text: string, params: unknown[] = []): Promise<T[]> {
    this.statements++;
    this.lastStatementAt = Date.now();
    return this.exclusive(() => this.session.run<T>(text, params));
  }

  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    this.statements++;
    this.lastStatementAt = Date.now();
    return this.exclusive(async () => {
      const session = this.session;
      await session.control('BEGIN');
      let result: T;
      try {
        result = await fn(transactionSql(session));
      } catch (err) {
        await session.control('ROLLBACK');
        throw err;
      }
      await session.control('COMMIT');
      return result;
    });
  }

  /** VACUUM (or only ANALYZE) every table, in the queue like any statement; best effort. */
  async maintain(what: 'VACUUM (ANALYZE)' | 'ANALYZE'): Promise<void> {
    this.statements = 0;
    this.lastMaintenanceAt = Date.now();
    try {
      await this.exclusive(async () => {
        const tables = (await this.session.db.query<{ name: string }>(USER_TABLES)).rows.map((r) => r.name);
        if (tables.length > 0) await this.session.db.exec(`${what} ${tables.join(', ')}`);
      });
    } catch {
      // A closed store, or a lock: the next round tries again, and plans only get older meanwhile.
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Queued behind every call already made, so those finish first.
    await this.session.queue.run(this.onClose);
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    return this.session.queue.run(async () => {
      await this.useSchema();
      return task();
    });
  }

  // Several test stores share one in-memory database, each in its own schema; switching is only
  // needed when the previous caller used another one.
  private async useSchema(): Promise<void> {
    if (this.session.searchPath === this.schema) return;
    await this.session.db.exec(this.schema ? `SET search_path TO ${this.schema}` : 'RESET search_path');
    this.session.searchPath = this.schema;
  }
}

function transactionSql(session: PgliteSession): Sql {
  const sql: Sql = {
    query: <T>(text: string, params: unknown[] = []) => session.run<T>(text, params),
    transaction: (fn) => fn(sql),
    close: () => Promise.reject(new Error('a transaction cannot close the store')),
  };
  return sql;
}

export interface PgliteOpenOptions {
  /** A new data directory is copied from this one when it was made by this PGlite; null: always initdb. */
  template?: string | null;
}

/**
 * A persistent PGlite database in `dataDir` (created when missing). PGlite has no lock of its own
 * and two processes on one directory would corrupt it, so a lock file names the owning process.
 */
export async function openPgliteSql(dir: string, opts: PgliteOpenOptions = {}): Promise<Sql> {
  const dataDir = resolve(dir);
  mkdirSync(dirname(dataDir), { recursive: true });
  // Beside the directory, not in it: PGlite's initdb wants an empty directory.
  const releaseLock = acquireDirLock(`${dataDir}.lock`);
  try {
    await createDataDir(dataDir, opts.template === undefined ? PGLITE_TEMPLATE_DIR : opts.template);
    preferLeanWasm();
    const db = await PGlite.create(dataDir, { startParams: START_PARAMS });
    let timer: NodeJS.Timeout | undefined;
    const sql = new PgliteSql(new PgliteSession(db), null, async () => {
      clearInterval(timer);
      try {
        await db.close();
      } finally {
        releaseLock();
      }
    });
    // A restarted bot plans with statistics from its first statement on.
    await sql.maintain('ANALYZE');
    timer = setInterval(() => {
      if (sql.statements < MAINTENANCE_AFTER_STATEMENTS) return;
      const now = Date.now();
      const quiet = now - sql.lastStatementAt >= MAINTENANCE_QUIET_MS;
      if (quiet || now - sql.lastMaintenanceAt >= MAINTENANCE_AT_LATEST_MS) void sql.maintain('VACUUM (ANALYZE)');
    }, MAINTENANCE_CHECK_MS);
    // The HTTP server keeps the process alive; this timer alone should not.
    timer.unref();
    return sql;
  } catch (err) {
    releaseLock();
    throw err;
  }
}

/**
 * initdb grows PGlite's WASM heap to ~700 MB resident, and WASM memory is never given back: a bot
 * that ran initdb in its own process carried that for its whole life (742 MB idle against ~270 MB
 * after a restart). So initdb runs in a short-lived child process, and the bot then opens the
 * directory as it would on a restart. It works in a sibling directory that is renamed into place
 * only when it is complete, so a killed first start leaves no half-made database behind.
 */
const INITDB_TIMEOUT_MS = 5 * 60_000;
const INITDB_CHILD = `
const { PGlite } = require(process.argv[1]);
PGlite.create(process.argv[2]).then((db) => db.close()).then(
  () => process.exit(0),
  (err) => { process.stderr.write(String((err && err.stack) || err)); process.exit(1); },
);`;

/**
 * Where `npm run build` leaves a freshly initialized data directory (dist/pgdata-template, beside
 * dist/src), stamped in `<dir>.version` with what made it (see templateStamp). initdb takes 4 to 6 s of
 * CPU here whatever the directory (in memory too), more than the whole first-start budget, and its
 * result is the same every time: so it runs once per build, as a distribution runs it once per
 * install, and a first start copies the result (~0.2 s for its 40 MB). From the sources (tests,
 * tsx) the path does not exist and a first start runs initdb itself.
 */
export const PGLITE_TEMPLATE_DIR = resolve(__dirname, '..', '..', 'pgdata-template');

/** The installed PGlite's version: a template made by another version is not used. */
function pgliteVersion(): string {
  // Its package.json is not among the package's exports, so it is found beside the entry point.
  for (let dir = dirname(require.resolve('@electric-sql/pglite')); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@electric-sql/pglite' && pkg.version) return pkg.version;
    } catch {
      // not here; one level up
    }
  }
  throw new Error('cannot find the version of @electric-sql/pglite');
}

/** What a template must say it was made from: this PGlite and this initdb script. */
function templateStamp(): string {
  return `${pgliteVersion()} ${createHash('sha256').update(INITDB_CHILD).digest('hex').slice(0, 16)}`;
}

/**
 * The identity of a template made from this PGlite and this script (its directory's inode and
 * modification time), or null when there is none. Read before and after a copy: a build that
 * remakes the template meanwhile removes its stamp first and changes the directory, so a copy of a
 * template in flux is never taken for a database.
 */
function currentTemplate(template: string): string | null {
  try {
    if (!existsSync(join(template, 'PG_VERSION'))) return null;
    if (readFileSync(`${template}.version`, 'utf8').trim() !== templateStamp()) return null;
    const stat = statSync(template);
    return `${stat.ino}:${stat.mtimeMs}`;
  } catch {
    return null;
  }
}

function initdbInChild(target: string, what: string): Promise<void> {
  return new Promise<void>((done, fail) => {
    execFile(
      process.execPath,
      ['-e', INITDB_CHILD, require.resolve('@electric-sql/pglite'), target],
      // Only the child's own flags: a profiler or loader given to the bot has no business here.
      { timeout: INITDB_TIMEOUT_MS, killSignal: 'SIGKILL', env: process.env, maxBuffer: 4 * 1024 * 1024 },
      (err, _stdout, stderr) => (err ? fail(new Error(`creating the PGlite database in ${what} failed: ${stderr.trim() || err.message}`)) : done()),
    );
  });
}

/** Sets the mode of every directory and file under `root`, `root` included; links are left alone (chmod would follow them). */
function chmodTree(root: string, dirMode: number, fileMode: number): void {
  chmodSync(root, dirMode);
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const path = join(root, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) chmodTree(path, dirMode, fileMode);
    else chmodSync(path, fileMode);
  }
}

/**
 * Makes the template a first start copies (`npm run build` calls this through the build script);
 * nothing to do when one made by this PGlite is in place.
 */
export async function makePgliteTemplate(template = PGLITE_TEMPLATE_DIR): Promise<'made' | 'current'> {
  if (currentTemplate(template) !== null) return 'current';
  const scratch = `${template}.initdb`;
  // The stamp goes first, so a first start copying the old template meanwhile notices (see currentTemplate).
  for (const stale of [`${template}.version`, scratch, template]) rmSync(stale, { recursive: true, force: true });
  try {
    await initdbInChild(scratch, template);
    // Readable by whoever runs the bot (the image builds it as root and runs as another user); each
    // copy is made private again.
    chmodTree(scratch, 0o755, 0o644);
    renameSync(scratch, template);
    writeFileSync(`${template}.version`, `${templateStamp()}\n`);
    return 'made';
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function createDataDir(dataDir: string, template: string | null): Promise<void> {
  if (existsSync(join(dataDir, 'PG_VERSION'))) return;
  // A directory with something else in it is left to PGlite, which says what is wrong with it.
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) return;
  const fresh = `${dataDir}.initdb`;
  rmSync(fresh, { recursive: true, force: true });
  try {
    let copied = false;
    const before = template === null ? null : currentTemplate(template);
    if (template !== null && before !== null) {
      try {
        cpSync(template, fresh, { recursive: true, verbatimSymlinks: true });
        if (currentTemplate(template) !== before) throw new Error('the template changed while it was copied');
        // PostgreSQL's own rule for a data directory: the owner's alone.
        chmodTree(fresh, 0o700, 0o600);
        copied = true;
      } catch {
        // An unreadable or vanished template costs the initdb it would have saved, nothing more.
        rmSync(fresh, { recursive: true, force: true });
      }
    }
    if (!copied) await initdbInChild(fresh, dataDir);
    if (existsSync(dataDir)) rmdirSync(dataDir); // empty, checked above
    renameSync(fresh, dataDir);
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
}

let sharedMemory: Promise<PgliteSession> | null = null;

/**
 * An isolated database for a test: a fresh schema in one in-memory PGlite shared by the process,
 * dropped on close. Sharing avoids paying PGlite's start-up (about two seconds) for every test; the
 * schema keeps tests apart exactly as they are kept apart on PostgreSQL. The migration creates it.
 */
export async function openPgliteTestSql(schema: string): Promise<Sql> {
  assertSchemaName(schema);
  sharedMemory ??= PGlite.create().then(
    (db) => new PgliteSession(db),
    (err: unknown) => {
      sharedMemory = null;
      throw err;
    },
  );
  const session = await sharedMemory;
  return new PgliteSql(session, schema, async () => {
    await session.db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });
}

// Our own pid in a lock file may be a leftover from an earlier run (pid 1 in a container), so locks
// this process holds are known here rather than read back from the file.
const heldLocks = new Set<string>();

function acquireDirLock(path: string): () => void {
  if (heldLocks.has(path)) throw new Error(`the data directory is already open in this process (${path})`);
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      heldLocks.add(path);
      return () => {
        heldLocks.delete(path);
        try {
          unlinkSync(path);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder: number;
    try {
      holder = Number(readFileSync(path, 'utf8').trim());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile: try again
      throw err;
    }
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
      throw new Error(`the data directory is in use by process ${holder} (${path}); stop it or use another JITBOT_DATA_DIR`);
    }
    // Left behind by a process that died, or by an earlier run that had our pid.
    unlinkSync(path);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
