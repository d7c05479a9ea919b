// The real bot as a child process (test/fixtures/bot.ts: startBot plus the production shutdown
// path), configured only by its environment, for tests that kill, restart or run several of it.
import { spawn, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './paths';

export const BOT_FIXTURE = path.join(REPO_ROOT, 'test', 'fixtures', 'bot.ts');

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
    // Azure's apply delay is not what these tests are about: the simulator applies at once.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', JITBOT_SIM_APPLY_DELAY_MS: '0', ...env },
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

/** POST JSON to a bot route (the console's JSON routes, the local clock); the answer parsed. */
export async function postJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}
