// Shared pieces of the operations tests: bot processes (test/ops/fixtures/bot.ts) with their logs, a
// generated fleet of VMs, waiting and pacing helpers, and reading Prometheus text.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/paths';

export const BOT_FIXTURE = join(__dirname, 'fixtures', 'bot.ts');

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll until `check` returns something truthy (and return it); fail naming `what` after the timeout. */
export async function waitUntil<T>(what: string, check: () => Promise<T> | T, timeoutMs = 30_000, pollMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

/** Run `work` over `items` with at most `lanes` at once; the first failure stops every lane. */
export async function inLanes<T>(items: readonly T[], lanes: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        await work(items[i], i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(lanes, items.length) }, lane));
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A DATABASE_URL whose every connection lands in `schema` (libpq `options`, honoured by node-postgres). */
export function urlWithSearchPath(databaseUrl: string, schema: string): string {
  const options = `options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  return `${databaseUrl}${databaseUrl.includes('?') ? '&' : '?'}${options}`;
}

// ---- a fleet of VMs -------------------------------------------------------------------------------

export interface FleetTarget {
  vm: string;
  port: number;
}

/**
 * A world file like examples/local.yaml (same people and rights) whose rule `fleet` covers `vms`
 * Linux VMs with `portsPerVm` JIT ports each. Each request of the load tests gets its own VM port:
 * Azure lets a newer request on a VM port supersede an older one, and the point here is what the
 * bots do with 300 independent grants, not that race.
 */
export function writeFleetConfig(dir: string, opts: { vms: number; portsPerVm: number; vmsPerGroup?: number }): { path: string; targets: FleetTarget[] } {
  const perGroup = opts.vmsPerGroup ?? 5;
  const targets: FleetTarget[] = [];
  const vmLines: string[] = [];
  for (let v = 1; v <= opts.vms; v++) {
    const name = `web-${String(v).padStart(2, '0')}`;
    const ports = [22, ...Array.from({ length: opts.portsPerVm - 1 }, (_, i) => 2200 + i + 1)];
    vmLines.push(
      `    - name: ${name}`,
      `      resourceGroup: rg-fleet-${String(Math.ceil(v / perGroup)).padStart(2, '0')}`,
      '      location: westeurope',
      '      os: linux',
      '      jit:',
      ...ports.map((p) => `        - { port: ${p}, protocol: TCP, from: [10.0.0.0/8], max: PT3H }`),
    );
    for (const port of ports) targets.push({ vm: name, port });
  }
  const yaml = [
    'people:',
    '  - { email: alice@example.com, name: Alice, groups: [dev] }',
    '  - { email: bob@example.com, name: Bob, groups: [sre] }',
    '  - { email: carol@example.com, name: Carol, groups: [sre, admins] }',
    '  - { email: dave@example.com, name: Dave, groups: [] }',
    'admins: [group:admins]',
    'rules:',
    '  - name: fleet',
    '    vms: { names: ["web-*"] }',
    '    requesters: [group:dev, group:sre]',
    '    approvers: [group:sre]',
    '    approvals: 1',
    '    route: { teams: installed }',
    'reminderMinutes: 10',
    'pendingTimeoutMinutes: 60',
    'azure:',
    '  subscriptionId: 00000000-0000-0000-0000-000000000000',
    '  guard: false',
    '  vms:',
    ...vmLines,
    '',
  ].join('\n');
  const path = join(dir, 'fleet.yaml');
  writeFileSync(path, yaml);
  return { path, targets };
}

// ---- bot processes --------------------------------------------------------------------------------

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Milliseconds from the signal the test sent (or from spawn) to the exit. */
  afterMs: number;
}

export class BotProcess {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<ExitInfo>;
  /** Set once the bot said it listens. */
  url = '';
  private signalledAt = Date.now();

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    proc.stdout!.on('data', (c: Buffer) => this.stdout.push(c.toString('utf8')));
    proc.stderr!.on('data', (c: Buffer) => this.stderr.push(c.toString('utf8')));
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal, afterMs: Date.now() - this.signalledAt })));
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  /** The scheduler's lease owner name in this process (src/main.ts: `${hostname()}-${pid}`). */
  get owner(): string {
    return `${hostname()}-${this.pid}`;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** pino's JSON lines so far (other lines, such as the shutdown notice, are left out). */
  logLines(): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const line of this.stdout.join('').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a line cut short by SIGKILL
      }
    }
    return out;
  }

  signal(sig: NodeJS.Signals): void {
    this.signalledAt = Date.now();
    this.proc.kill(sig);
  }

  /** POST /_local/clock/advance: the answer comes once this bot ran what became due. */
  async advance(by: string): Promise<void> {
    const res = await fetch(`${this.url}/_local/clock/advance`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ by }) });
    if (res.status !== 200) throw new Error(`${this.name}: clock advance answered ${res.status}: ${await res.text()}`);
  }

  /** SIGKILL if still running (test clean-up). */
  async kill(): Promise<void> {
    if (this.alive) this.proc.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * Start test/ops/fixtures/bot.ts with exactly `env` (plus PATH and HOME: nothing of the test runner's
 * own environment, such as TEST_DATABASE_URL, leaks in). Resolves once the bot listens.
 */
export async function spawnBot(name: string, env: Record<string, string>, timeoutMs = 60_000): Promise<BotProcess> {
  const proc = spawn(process.execPath, ['--disable-warning=DEP0111', '--import', 'tsx', BOT_FIXTURE], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const bot = new BotProcess(name, proc);
  bot.url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${timeoutMs} ms: ${bot.stderr.join('')}`));
    }, timeoutMs);
    proc.once('message', (m: { url?: unknown }) => {
      clearTimeout(timer);
      if (typeof m?.url === 'string') resolve(m.url);
      else reject(new Error(`${name} sent ${JSON.stringify(m)}`));
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before it was ready: ${bot.stderr.join('')}`));
    });
  });
  // The IPC channel has done its job; it must not keep either process alive.
  proc.disconnect();
  return bot;
}

export async function getJson(url: string): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Prometheus text and the like stay text
  }
  return { status: res.status, body, text };
}

/** One sample of a Prometheus text exposition, by metric name and (a subset of) labels. */
export function metricValue(exposition: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of exposition.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}
