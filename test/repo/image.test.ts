// The production image, without Docker: the Dockerfile's runtime stage is read and done by hand in a
// temporary folder (its COPY lines, its `npm ci` with production dependencies only and no install
// scripts, its ENV), the built output is what the build stage makes, and the image's CMD must start
// a bot that answers /readyz. A file the image forgets, or a devDependency the code needs at run time,
// fails here before it fails in a container.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { REPO_ROOT } from '../helpers/paths';

const run = promisify(execFile);

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string;
  instructions: Instruction[];
}

/** Stages of the Dockerfile with their instructions (continuation lines joined, comments dropped). */
function readDockerfile(): { args: Record<string, string>; stages: Stage[] } {
  const text = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [, op, rest] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    assert.ok(op && rest !== undefined, `a Dockerfile line the test understands: ${line}`);
    const upper = op.toUpperCase();
    if (upper === 'ARG' && stages.length === 0) {
      const [k, v = ''] = rest.split('=');
      args[k!] = v;
    } else if (upper === 'FROM') {
      const [, image, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest) ?? [];
      stages.push({ from: image!.replace(/\$\{(\w+)\}/g, (_, k: string) => args[k] ?? ''), name: name ?? '', instructions: [] });
    } else {
      stages.at(-1)!.instructions.push({ op: upper, args: rest.replace(/\s+/g, ' ') });
    }
  }
  return { args, stages };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('The production image (Dockerfile and compose.yaml)', function () {
  const { stages } = readDockerfile();
  const runtime = stages.at(-1)!;
  const build = stages.find((s) => s.name === 'build');
  const of = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op);

  it('builds in a stage with dev dependencies and runs on Node 22 or newer, as a non-root user, with a health check and an exec-form CMD', () => {
    assert.ok(build, 'a stage named build');
    assert.ok(of(build, 'RUN').some((r) => /^npm ci\b(?!.*--omit=dev)/.test(r.args)), 'the build stage installs dev dependencies');
    assert.ok(of(build, 'RUN').some((r) => r.args === 'npm run build'), 'and builds');
    const major = Number(/^node:(\d+)/.exec(runtime.from)?.[1]);
    assert.ok(major >= 22, `runtime base ${runtime.from} is Node 22 or newer`);
    assert.ok(of(runtime, 'RUN').some((r) => /^npm ci --omit=dev --ignore-scripts\b/.test(r.args)), 'production dependencies only, no install scripts');
    const user = of(runtime, 'USER').at(-1)?.args;
    assert.ok(user && !/^(root|0)(:|$)/.test(user), `runs as ${user}`);
    assert.equal(of(runtime, 'HEALTHCHECK').length, 1);
    assert.ok(Array.isArray(JSON.parse(of(runtime, 'CMD').at(-1)!.args)), 'CMD is a JSON array');
  });

  it('runs node with the heap limits npm start uses, so the image holds the memory the benchmarks measured', () => {
    const start = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
    const heapFlags = (text: string) => (text.match(/--max-(?:semi|old)-space-size=\d+/g) ?? []).sort();
    const env = of(runtime, 'ENV').map((e) => e.args).join(' ');
    const options = /NODE_OPTIONS="([^"]*)"/.exec(env)?.[1] ?? '';
    assert.equal(heapFlags(start).length, 2, `npm start sets both limits: ${start}`);
    assert.deepEqual(heapFlags(options), heapFlags(start), `the image's NODE_OPTIONS (${options}) match npm start`);
  });

  it('starts from production dependencies and the built output with the image CMD, and answers /readyz', async function () {
    this.timeout(600_000);
    // The build stage's output: dist/, built only if the sources changed since the last build.
    await run(process.execPath, [path.join(REPO_ROOT, 'scripts', 'build-if-changed.cjs')], { cwd: REPO_ROOT });

    const root = mkdtempSync(path.join(tmpdir(), 'jitbot-image-'));
    // The image's /data volume, owned by the bot; JITBOT_DATA_DIR is placed inside it as in the image.
    const volume = path.join(root, 'volume');
    mkdirSync(volume);
    const app = path.join(root, 'app');
    const buildWorkdir = of(build!, 'WORKDIR').at(-1)!.args;
    const env: Record<string, string> = {};
    let cmd: string[] = [];
    let child: ReturnType<typeof spawn> | undefined;
    try {
      for (const { op, args } of runtime.instructions) {
        if (op === 'WORKDIR') mkdirSync(app, { recursive: true });
        // KEY=value or KEY="value with spaces", as Docker reads them.
        else if (op === 'ENV') for (const m of args.matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|(\S+))/g)) env[m[1]!] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
        else if (op === 'COPY') {
          const words = args.split(' ');
          const fromBuild = words.some((w) => w === '--from=build');
          const paths = words.filter((w) => !w.startsWith('--'));
          const dest = path.join(app, paths.pop()!);
          for (const source of paths) {
            // From the build stage, a path in its WORKDIR is the same path in the repository after the build.
            const rel = fromBuild ? path.relative(buildWorkdir, source) : source;
            const from = path.join(REPO_ROOT, rel);
            assert.ok(existsSync(from), `COPY source ${source} exists`);
            const target = dest.endsWith(path.sep) || paths.length > 1 ? path.join(dest, path.basename(rel)) : dest;
            cpSync(from, target, { recursive: true });
          }
        } else if (op === 'RUN') {
          const install = /^npm ci ([^&]*)/.exec(args);
          // Cached packages only: the test runs where npm ci has just filled the cache.
          if (install) await run('npm', ['ci', ...install[1]!.trim().split(' '), '--prefer-offline'], { cwd: app, timeout: 400_000 });
        } else if (op === 'CMD') cmd = JSON.parse(args) as string[];
      }
      const devDependencies = Object.keys(JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).devDependencies as object);
      // Type packages may come with production dependencies (they declare them); tools must not.
      for (const dev of devDependencies.filter((d) => !d.startsWith('@types/'))) {
        assert.ok(!existsSync(path.join(app, 'node_modules', dev)), `devDependency ${dev} is not installed`);
      }
      assert.ok(existsSync(path.join(app, 'dist', 'src', 'main.js')), 'the built output is in place');
      // So a first start copies an initialized database rather than spend seconds in initdb.
      assert.ok(existsSync(path.join(app, 'dist', 'pgdata-template', 'PG_VERSION')), 'the PGlite template is in place');

      assert.ok(env.JITBOT_DATA_DIR?.startsWith('/data/'), `the data directory ${env.JITBOT_DATA_DIR} is inside the /data volume`);
      const data = path.join(volume, path.relative('/data', env.JITBOT_DATA_DIR));
      const port = await freePort();
      const [bin, ...cmdArgs] = cmd;
      // Local mode (no Azure subscription here); the data directory the image gives is /data.
      child = spawn(bin === 'node' ? process.execPath : bin!, cmdArgs, {
        cwd: app,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, JITBOT_DATA_DIR: data, PORT: String(port), JITBOT_SIM_PORT: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));

      let ready: { status: number; body: { status?: string } } | undefined;
      const deadline = Date.now() + 240_000;
      while (Date.now() < deadline && child.exitCode === null) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/readyz`);
          ready = { status: res.status, body: (await res.json()) as { status?: string } };
          if (res.status === 200) break;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(ready?.status, 200, `/readyz answered ${JSON.stringify(ready)}; output:\n${output}`);
      assert.equal(ready.body.status, 'ready');

      child.kill('SIGTERM');
      assert.equal(await exited, 0, `stops cleanly on SIGTERM:\n${output}`);
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('composes the bot with PostgreSQL by DATABASE_URL, a data volume and the rule file mounted where JITBOT_CONFIG points', () => {
    const compose = parse(readFileSync(path.join(REPO_ROOT, 'compose.yaml'), 'utf8')) as {
      services: Record<string, { build?: unknown; image?: string; environment?: Record<string, string>; volumes?: string[]; depends_on?: Record<string, unknown> }>;
      volumes?: Record<string, unknown>;
    };
    const bot = compose.services.jitbot!;
    assert.ok(bot.build, 'the bot is built from this Dockerfile');
    const db = Object.entries(compose.services).find(([, s]) => /^postgres:/.test(s.image ?? ''));
    assert.ok(db, 'a PostgreSQL service');
    assert.ok(bot.depends_on?.[db[0]], 'the bot waits for the database');
    assert.match(bot.environment!.DATABASE_URL!, new RegExp(`^postgres://[^@]+@${db[0]}:5432/`));
    const mounts = (bot.volumes ?? []).map((v) => v.split(':'));
    const rules = mounts.find(([, target]) => target === bot.environment!.JITBOT_CONFIG);
    assert.ok(rules && rules[2] === 'ro', 'the rule file is mounted read-only where JITBOT_CONFIG points');
    assert.ok(mounts.some(([source, target]) => compose.volumes && source! in compose.volumes && target === '/data'), 'a named volume for the data directory');
  });
});
