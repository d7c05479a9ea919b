// Start the real bot as a child process and talk to it over HTTP (the console's JSON routes and the
// local-mode clock), as a person and an operator would.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './paths';

export interface BotProcess {
  url: string;
  child: ChildProcess;
  /** POST JSON, answer parsed. */
  post(route: string, body: unknown): Promise<{ status: number; body: any }>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

export async function startBotProcess(env: Record<string, string>, opts: { readyTimeoutMs?: number } = {}): Promise<BotProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--disable-warning=DEP0111', path.join(REPO_ROOT, 'test', 'fixtures', 'bot.ts')], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', JITBOT_SIM_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the bot did not start in time: ${stderr}`)), opts.readyTimeoutMs ?? 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the bot exited (${code}) before it was ready: ${stderr}`));
    });
  });
  return {
    url,
    child,
    exited,
    post: async (route, body) => {
      const res = await fetch(`${url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
  };
}
