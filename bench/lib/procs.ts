// Child processes of the benchmark: the bot (the production entry, dist/src/main.js, as `npm start`
// runs it) and the floors, each in its own process with its output in bench/out. Readiness is
// polled over HTTP, memory read from /proc (VmHWM is the kernel's own peak-RSS record, so a short
// spike between samples is not missed).
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export const REPO = join(__dirname, '..', '..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One GET on a fresh connection; the status, or 0 when nothing answers yet. */
export function getStatus(url: string, timeoutMs = 2_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', () => resolve({ status: 0, body: '' }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

export function postJson(url: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

export interface MemoryMb {
  rss: number;
  /** Peak resident set since the process started. */
  peakRss: number;
}

export function memoryOf(pid: number): MemoryMb {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') / 1024, peakRss: kb('VmHWM') / 1024 };
}

/** CPU time the process (every thread of it) has used so far, in ms: user + system, from /proc. */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may itself hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 a second on Linux).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

export class Child {
  readonly startedAt = performance.now();
  private exited: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    readonly url: string,
    readonly logPath: string,
  ) {
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  memory(): MemoryMb {
    return memoryOf(this.pid);
  }

  /** Wait until GET `path` answers 200; the milliseconds since spawn. */
  async waitReady(path: string, timeoutMs = 30_000, pollMs = 5): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (!this.alive) throw new Error(`${this.name} exited before it was ready; see ${this.logPath}`);
      if ((await getStatus(`${this.url}${path}`, 1_000)).status === 200) return performance.now() - this.startedAt;
      if (performance.now() > deadline) throw new Error(`${this.name} was not ready within ${timeoutMs} ms; see ${this.logPath}`);
      await sleep(pollMs);
    }
  }

  /** SIGTERM (graceful shutdown), then SIGKILL if it lingers. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.alive) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface SpawnOptions {
  name: string;
  /** Arguments after `node`. */
  args: string[];
  env: Record<string, string | undefined>;
  port: number;
  logDir: string;
  /** Extra node flags (`--cpu-prof`…). */
  nodeFlags?: string[];
}

export function spawnNode(opts: SpawnOptions): Child {
  const logPath = join(opts.logDir, `${opts.name}.log`);
  const log = createWriteStream(logPath, { flags: 'a' });
  // Only what the process needs: the runner's own settings (DATABASE_URL…) must not leak into a bot.
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production' };
  for (const [k, v] of Object.entries(opts.env)) if (v !== undefined) env[k] = v;
  const proc = spawn(process.execPath, [...(opts.nodeFlags ?? []), ...opts.args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout?.pipe(log);
  proc.stderr?.pipe(log);
  return new Child(opts.name, proc, `http://127.0.0.1:${opts.port}`, logPath);
}

/** The bot as `npm start` runs it (after the build the runner did). */
export function spawnBot(opts: Omit<SpawnOptions, 'args'>): Child {
  return spawnNode({ ...opts, args: [...startFlags(), 'dist/src/main.js'], env: { HOST: '127.0.0.1', PORT: String(opts.port), ...opts.env } });
}

/** A floor app, run from its TypeScript source through tsx (only module loading differs from plain JS). */
export function spawnFloor(opts: Omit<SpawnOptions, 'args'> & { script: string }): Child {
  return spawnNode({ ...opts, args: ['--disable-warning=DEP0111', '--import', 'tsx', opts.script], env: { PORT: String(opts.port), ...opts.env } });
}

/** Resolves when the child prints a line matching `pattern` on stdout (the floors print `ready`). */
export function waitForLine(child: Child, pattern: RegExp, timeoutMs = 30_000): Promise<number> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${child.name}: no line matching ${pattern} within ${timeoutMs} ms; see ${child.logPath}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      if (pattern.test(seen)) {
        clearTimeout(timer);
        child.proc.stdout?.off('data', onData);
        resolve(performance.now() - child.startedAt);
      }
    };
    child.proc.stdout?.on('data', onData);
    child.proc.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`${child.name} exited before printing ${pattern}; see ${child.logPath}`));
    });
  });
}

/** The node flags `npm start` gives the bot (package.json), so the bot is measured as it runs. */
export function startFlags(): string[] {
  const start = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const words = start.split('&&').at(-1)!.trim().split(/\s+/);
  if (words[0] !== 'node' || words.at(-1) !== 'dist/src/main.js') throw new Error(`npm start no longer runs node … dist/src/main.js: ${start}`);
  return words.slice(1, -1);
}
