// `node --import tsx bench/profile-summary.ts <file.cpuprofile> [top]`: where a `--cpu-prof` profile
// spent its time, by function (self time) and by package, to find what the bot does wrong under load.
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

function main(): void {
  const [file, topArg] = process.argv.slice(2);
  if (!file) throw new Error('usage: profile-summary <file.cpuprofile> [top]');
  const top = Number(topArg ?? 30);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const where = (url: string): string => {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    if (m) return m[1];
    if (url.includes('/src/') || url.includes('/dist/src/')) return `jitbot:${url.replace(/^.*\/(?:dist\/)?src\//, '')}`;
    if (url.startsWith('node:') || url === '') return url || '(native/idle)';
    return url;
  };
  const fn = new Map<string, number>();
  const pkg = new Map<string, number>();
  // Inclusive time of our own functions: who, in jitbot, the time is spent under.
  const ours = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const key = `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const p = where(n.callFrame.url);
    pkg.set(p, (pkg.get(p) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const c = byId.get(cur)!;
      if (!/\/src\//.test(c.callFrame.url)) continue;
      const k = `${c.callFrame.functionName || '(anonymous)'} ${where(c.callFrame.url)}:${c.callFrame.lineNumber + 1}`;
      if (seen.has(k)) continue;
      seen.add(k);
      ours.set(k, (ours.get(k) ?? 0) + us);
    }
  }
  const show = (title: string, m: Map<string, number>) => {
    process.stdout.write(`\n${title}\n`);
    for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(`${((us / total) * 100).toFixed(1).padStart(6)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}\n`);
    }
  };
  process.stdout.write(`total ${(total / 1000).toFixed(0)} ms sampled\n`);
  show('self time by package', pkg);
  show('self time by function', fn);
  show('inclusive time under jitbot functions', ours);
}

main();
