// Shared pieces of the operations tests: a generated fleet of VMs, waiting and pacing helpers, and
// reading Prometheus text. Bot processes come from test/helpers/bot-process.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export { BotProcess, spawnBot, type ExitInfo } from '../helpers/bot-process';

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
