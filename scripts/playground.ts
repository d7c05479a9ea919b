// `npm run playground`: the Teams experience without a tenant. Microsoft 365 Agents Playground (the
// Teams emulator of the Microsoft 365 Agents Toolkit) sends Teams activities to local mode's
// /api/messages and draws the answers in a Teams-like web page, with a log panel of every activity.
//
// The Playground is Microsoft pre-release software under its own licence terms, so it is not a
// dependency of jitbot: the pinned version is installed on first use into .cache/playground, a folder
// with its own package.json, outside our dependency tree (and ignored by git).
//
//   npm run playground                  be Alice (.m365agentsplayground.yml)
//   npm run playground -- --as bob      be Bob: a copy of that file with Bob as the current user
//   npm run playground -- --install-only   install the pinned Playground and stop (.ci/run does this)
//
// The bot: whatever answers on PORT (default 3978), for instance `npm start` in another terminal;
// when nothing does, local mode is started here. PLAYGROUND_PORT (default 56150) is the web page; the
// Playground takes a free port when it is busy and prints the one it took.
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseDocument } from 'yaml';

export const PLAYGROUND_PACKAGE = '@microsoft/m365agentsplayground';
export const PLAYGROUND_VERSION = '0.2.28';
const REPO_ROOT = path.resolve(__dirname, '..');
export const PLAYGROUND_DIR = path.join(REPO_ROOT, '.cache', 'playground');
export const PLAYGROUND_CONFIG = path.join(REPO_ROOT, '.m365agentsplayground.yml');

export type PlaygroundInstall = { cli: string } | { missing: string };

/** The pinned Playground's CLI in `dir`, or why there is none. */
export function installedPlayground(dir = PLAYGROUND_DIR): PlaygroundInstall {
  const pkgDir = path.join(dir, 'node_modules', ...PLAYGROUND_PACKAGE.split('/'));
  const manifest = path.join(pkgDir, 'package.json');
  if (!existsSync(manifest)) return { missing: `${PLAYGROUND_PACKAGE}@${PLAYGROUND_VERSION} is not installed in ${path.relative(REPO_ROOT, dir)}` };
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  if (version !== PLAYGROUND_VERSION) return { missing: `${path.relative(REPO_ROOT, dir)} holds ${PLAYGROUND_PACKAGE}@${version}, not the pinned ${PLAYGROUND_VERSION}` };
  return { cli: path.join(pkgDir, 'cli.js') };
}

/** npm installs the pinned version into `dir`; its own package.json keeps it out of ours. */
export function installPlayground(dir = PLAYGROUND_DIR): string {
  mkdirSync(dir, { recursive: true });
  const pkg = path.join(dir, 'package.json');
  if (!existsSync(pkg)) writeFileSync(pkg, `${JSON.stringify({ name: 'jitbot-playground-cache', private: true }, null, 2)}\n`);
  const r = spawnSync('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--ignore-scripts', `${PLAYGROUND_PACKAGE}@${PLAYGROUND_VERSION}`], {
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  if (r.status !== 0) throw new Error(`npm could not install ${PLAYGROUND_PACKAGE}@${PLAYGROUND_VERSION} into ${dir}`);
  const found = installedPlayground(dir);
  if ('missing' in found) throw new Error(found.missing);
  return found.cli;
}

/**
 * The Playground config with `who` (a user's id, name, given name or email, any case) as the current
 * user, in place of the one there; each current user gets a personal chat of their own.
 */
export function withCurrentUser(configText: string, who: string): string {
  // The file's own header speaks of Alice; the copy says what it is instead.
  const doc = parseDocument(configText.replace(/^(?:#.*\r?\n|\s*\r?\n)+/, ''));
  const config = doc.toJS() as { currentUser: Record<string, string>; users: Array<Record<string, string>>; personalChat: { id: string } };
  const wanted = who.trim().toLowerCase();
  const matches = (u: Record<string, string>) => [u.id, u.name, u.givenName, u.email].some((v) => v?.toLowerCase() === wanted);
  if (matches(config.currentUser)) return configText;
  const at = config.users.findIndex(matches);
  if (at < 0) throw new Error(`no "${who}" among the Playground's people (${[config.currentUser, ...config.users].map((u) => u.name).join(', ')})`);
  const current = doc.get('currentUser');
  doc.set('currentUser', doc.getIn(['users', at]));
  doc.setIn(['users', at], current);
  doc.setIn(['personalChat', 'id'], `personal-chat-${config.users[at].id}`);
  doc.commentBefore = ` Written by \`npm run playground -- --as ${who}\` from .m365agentsplayground.yml, with ${config.users[at].name} as the current user.`;
  return doc.toString();
}

export interface PlaygroundOptions {
  cli: string;
  /** The bot's messaging endpoint, e.g. http://127.0.0.1:3978/api/messages. */
  endpoint: string;
  configPath: string;
  port: number;
  logFile: string;
  openBrowser?: boolean;
  stdio?: StdioOptions;
}

/**
 * The Playground as a child process, on the Teams channel and offline: `--disable-telemetry` stops its
 * usage events, APPLICATION_INSIGHTS_NO_STATSBEAT the telemetry SDK's own heartbeat, which the flag
 * leaves on (a DNS lookup of applicationinsights.azure.com and a call to Azure's instance metadata).
 */
export function spawnPlayground(o: PlaygroundOptions): ChildProcess {
  mkdirSync(path.dirname(o.logFile), { recursive: true });
  return spawn(process.execPath, [o.cli, '-e', o.endpoint, '-c', 'msteams', '-p', String(o.port), '--disable-telemetry'], {
    cwd: path.dirname(o.configPath),
    env: {
      ...process.env,
      M365_AGENTS_PLAYGROUND_CONFIG_PATH: o.configPath,
      M365_AGENTS_PLAYGROUND_LOGFILE: o.logFile,
      APPLICATION_INSIGHTS_NO_STATSBEAT: '1',
      ...(o.openBrowser ? {} : { TEAMSAPPTESTER_BROWSER: 'none' }),
    },
    stdio: o.stdio ?? 'pipe',
  });
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1500) })).ok;
  } catch {
    return false;
  }
}

async function main(argv: string[]): Promise<void> {
  const asAt = argv.indexOf('--as');
  const who = asAt >= 0 ? argv[asAt + 1] : undefined;
  if (asAt >= 0 && !who) throw new Error('--as needs a name, e.g. --as bob');

  let found = installedPlayground();
  if ('missing' in found) {
    process.stdout.write(`Fetching ${PLAYGROUND_PACKAGE}@${PLAYGROUND_VERSION} into .cache/playground (Microsoft pre-release licence terms: see its LICENSE there)\n`);
    found = { cli: installPlayground() };
  }
  if (argv.includes('--install-only')) {
    process.stdout.write(`${PLAYGROUND_PACKAGE}@${PLAYGROUND_VERSION}: ${found.cli}\n`);
    return;
  }

  const stateDir = path.join(REPO_ROOT, '.jitbot', 'playground');
  let configPath = PLAYGROUND_CONFIG;
  if (who) {
    configPath = path.join(stateDir, `${who.toLowerCase()}.yml`);
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(configPath, withCurrentUser(readFileSync(PLAYGROUND_CONFIG, 'utf8'), who));
  }

  const botPort = Number(process.env.PORT ?? 3978);
  const base = `http://127.0.0.1:${botPort}`;
  let closeBot = async (): Promise<void> => {};
  if (await answers(`${base}/healthz`)) {
    process.stdout.write(`Using the jitbot that answers on ${base}\n`);
  } else {
    if (process.env.AZURE_SUBSCRIPTION_ID || process.env.MicrosoftAppId) {
      throw new Error('the Playground talks to local mode, which has no Bot Framework auth: unset AZURE_SUBSCRIPTION_ID and MicrosoftAppId');
    }
    // Loaded only here, so --install-only (CI) needs nothing of the bot.
    const { startBot } = require('../src/main') as typeof import('../src/main');
    const bot = await startBot({ ...process.env, PORT: String(botPort) }, { banner: true });
    closeBot = () => bot.close();
  }

  const playground = spawnPlayground({
    cli: found.cli,
    endpoint: `${base}/api/messages`,
    configPath,
    port: Number(process.env.PLAYGROUND_PORT ?? 56150),
    logFile: path.join(stateDir, `${who ? who.toLowerCase() : 'playground'}.log`),
    openBrowser: true,
    stdio: 'inherit',
  });
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    if (playground.exitCode === null) playground.kill('SIGTERM');
    await closeBot().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  playground.once('exit', (code) => void stop(code ?? 0));
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`playground: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
