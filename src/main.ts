// Composition root: read settings once, pick implementations, start, and shut down gracefully.
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { format } from 'node:util';
import pino from 'pino';
import { AdjustableClock } from './app/clock';
import { JitApp } from './app/jit-app';
import { currentLogContext, errorFields, type Logger } from './app/logger';
import { systemClock, type Clock, type Cloud, type Store } from './app/ports';
import { createAzureCloud, defaultAzureCredential } from './azure';
import { startAzureSim, type AzureSim } from './azure-sim/server';
import { readSettings, type Settings } from './config/env';
import { loadConfigFile, type LoadedConfig } from './config/file';
import { createConsole } from './console';
import { keepClockOffset, mountLocalClock } from './console/local-clock';
import { localOriginGuard } from './console/origin-guard';
import { JitError } from './core/errors';
import { anyRuleNeedsStepUp } from './core/step-up';
import { createAuditLinks } from './ops/audit-links';
import { mountStepUp } from './sign-in/routes';
import { createMetrics } from './ops/metrics';
import { AzureHealth, readinessChecks } from './ops/readiness';
import { createHttpServer, type Mount } from './server';
import type { SlackAdapter } from './slack';
import { fromMeUrl, mountFromMe } from './web/from-me';
import { openStore } from './store';
// Not ./teams: its index loads botbuilder, which ./teams/lazy leaves for the first Teams activity.
import { createTeamsAdapter } from './teams/lazy';
import { createGraphDirectory, localGraphCredential } from './entra/graph-directory';

export interface RunningBot {
  url: string;
  settings: Settings;
  app: JitApp;
  store: Store;
  clock: Clock;
  sim: AzureSim | null;
  log: Logger;
  /** Stop taking work, finish what runs, release leases, close everything. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Replaces pino (tests). */
  logger?: Logger;
  /** Print the local-mode banner (the CLI does). */
  banner?: boolean;
  cwd?: string;
}

/** Secrets never reach a log line, even when an object holding them is logged whole. */
const REDACT = [
  'botToken',
  'signingSecret',
  'appToken',
  'appPassword',
  'token',
  'password',
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  '*.botToken',
  '*.signingSecret',
  '*.appPassword',
  '*.token',
  'databaseUrl',
  'clientSecret',
  '*.clientSecret',
];

/**
 * The production logger: JSON lines on stdout (or `destination`), secrets redacted, and the request or
 * job being worked on (reqId, jobId) on every line written while it runs.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    base: { service: 'jitbot' },
    mixin: (_fields, _level, logger) => {
      const context = currentLogContext();
      if (!context) return {};
      // A child that already names the request (the server's per-request logger) keeps its own.
      const bound = logger.bindings();
      return Object.fromEntries(Object.entries(context).filter(([key]) => !(key in bound)));
    },
  };
  return (destination ? pino(options, destination) : pino(options)) as unknown as Logger;
}

export async function startBot(env: Record<string, string | undefined>, opts: StartOptions = {}): Promise<RunningBot> {
  const settings = readSettings(env, opts.cwd);
  const log = opts.logger ?? createLogger(settings.logLevel);
  const config: LoadedConfig = loadConfigFile(settings.configPath);
  const needStepUp = anyRuleNeedsStepUp(config.policy);
  if (needStepUp.length > 0 && !settings.stepUp) {
    throw new JitError('config', `${settings.configPath}: rules ${needStepUp.join(', ')} ask approvers to sign in again (stepUp): set JITBOT_OIDC_CLIENT_ID and JITBOT_OIDC_ISSUER (or MicrosoftAppTenantId for Entra ID)`);
  }
  if (settings.stepUp && !settings.localMode && !settings.publicUrl) {
    throw new JitError('config', 'JITBOT_PUBLIC_URL: must be set for step-up sign-in (the provider redirects to <JITBOT_PUBLIC_URL>/step-up/callback)');
  }
  const slackGroups = config.groups.filter((g) => g.kind === 'slack').map((g) => `group:${g.name}`);
  if (slackGroups.length > 0 && !settings.slack) {
    throw new JitError('config', `${settings.configPath}: ${slackGroups.join(', ')} ${slackGroups.length === 1 ? 'is a Slack user group' : 'are Slack user groups'}: set SLACK_BOT_TOKEN (with the usergroups:read scope) to read ${slackGroups.length === 1 ? 'it' : 'them'}`);
  }
  mkdirSync(settings.dataDir, { recursive: true });

  const clock = settings.localMode ? new AdjustableClock() : systemClock;
  const metrics = createMetrics();
  const closers: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const c of closers.reverse()) {
      await c().catch((err: unknown) => log.warn({ err: String(err) }, 'close step failed'));
    }
  };

  try {
    const store = await openStore({ dataDir: settings.dataDir, ...(settings.databaseUrl ? { databaseUrl: settings.databaseUrl } : {}) });
    closers.push(() => store.close());

    let sim: AzureSim | null = null;
    let cloud: Cloud;
    if (settings.azure) {
      cloud = createAzureCloud({
        subscriptionId: settings.azure.subscriptionId,
        ...(settings.azure.resourceManagerUrl ? { resourceManagerUrl: settings.azure.resourceManagerUrl } : {}),
      });
    } else {
      if (!config.world) throw new JitError('config', `${settings.configPath}: local mode needs an azure: section with the simulated VMs`);
      let simUrl = settings.simUrl;
      if (!simUrl) {
        // The simulated Azure keeps its state beside the bot's, so a restart finds both as they were;
        // the clock too, or time would run backwards across the restart.
        if (clock instanceof AdjustableClock) {
          const stopSaving = keepClockOffset(clock, path.join(settings.dataDir, 'clock.json'), log);
          closers.push(async () => stopSaving());
        }
        sim = await startAzureSim({ world: config.world, clock, port: settings.simPort, host: '127.0.0.1', applyDelayMs: settings.simApplyDelayMs, stateFile: path.join(settings.dataDir, 'azure-sim.json') });
        closers.push(() => sim!.close());
        simUrl = sim.url;
      }
      cloud = createAzureCloud({ subscriptionId: config.world.subscriptionId, redirectTo: simUrl, clock });
    }

    // Every Azure call the app makes tells readiness that Azure answers (see ops/readiness).
    const azureHealth = new AzureHealth(cloud);
    cloud = azureHealth.tracked();

    const baseUrl = () => (settings.publicUrl ?? url).replace(/\/+$/, '');
    const auditLinks = createAuditLinks({ secret: settings.linkSecret, clock, baseUrl: () => settings.publicUrl ?? url });
    const app = new JitApp({
      policy: config.policy,
      store,
      cloud,
      clock,
      logger: log,
      observer: metrics,
      owner: `${hostname()}-${process.pid}`,
      ...(settings.jobConcurrency ? { scheduler: { concurrency: settings.jobConcurrency } } : {}),
      // Outside local mode only a public URL is one the requester's browser can reach.
      ...(settings.publicUrl || settings.localMode ? { addressLink: (id: string, token: string) => fromMeUrl(settings.publicUrl ?? url, id, token) } : {}),
      // Outside local mode a link is issued only where every replica can verify it and people can reach it.
      ...(settings.localMode || (settings.linkSecret && settings.publicUrl) ? { auditLink: (q: Parameters<typeof auditLinks.sign>[0]) => auditLinks.sign(q) } : {}),
      ...(settings.stepUp
        ? {
            stepUp: {
              // openid-client is loaded only where step-up is configured.
              signIn: (require('./sign-in/oidc') as typeof import('./sign-in/oidc')).createOidcSignIn({
                issuer: settings.stepUp.issuer,
                clientId: settings.stepUp.clientId,
                ...(settings.stepUp.clientSecret ? { clientSecret: settings.stepUp.clientSecret } : {}),
                redirectUri: () => `${baseUrl()}/step-up/callback`,
              }),
              baseUrl,
              requirement: { maxAgeSeconds: settings.stepUp.maxAgeMinutes * 60, ...(settings.stepUp.acr ? { acr: settings.stepUp.acr } : {}) },
            },
          }
        : {}),
      applyDeadlineMs: settings.applyDeadlineMs,
      directory: { groups: config.groups, ttlMs: settings.directoryTtlMs },
    });
    if (config.groups.some((g) => g.kind === 'entra')) {
      app.addDirectory(
        createGraphDirectory({
          baseUrl: settings.graphUrl,
          // The same identity as for Azure; local mode has none, so a fixed token stands in for it.
          credential: settings.localMode ? localGraphCredential : defaultAzureCredential(),
          clock,
        }),
      );
    }

    metrics.feed({
      // Read at scrape time from the shared store, so every replica reports the same, true number.
      openGrants: async () => (await store.listRequests({ states: ['active'] })).length,
      schedulerLagMs: () => app.scheduler.recentMaxLagMs(),
    });

    const mounts: Mount[] = [
      auditLinks.mount((q) => app.auditCsvFor(q)),
      mountFromMe({ api: app, trustedProxies: settings.trustedProxies, logger: log.child({ route: 'from-me' }) }),
    ];
    if (app.stepUps) {
      const stepUps = app.stepUps;
      mounts.push(mountStepUp({ begin: (t) => stepUps.begin(t), finish: (q) => stepUps.finish(q), logger: log.child({ route: 'step-up' }) }));
    }
    let slack: SlackAdapter | null = null;
    if (settings.slack) {
      // Loaded only when configured: Bolt and the Slack SDK are start-up time and memory that a
      // Teams-only or local bot would carry for nothing.
      const { createSlackAdapter } = require('./slack') as typeof import('./slack');
      slack = createSlackAdapter({
        api: app,
        botToken: settings.slack.botToken,
        signingSecret: settings.slack.signingSecret,
        ...(settings.slack.appToken ? { appToken: settings.slack.appToken } : {}),
        ...(settings.slack.apiUrl ? { apiUrl: settings.slack.apiUrl } : {}),
        logger: log.child({ platform: 'slack' }),
        clock,
        observer: metrics,
        groupsMaxAgeMs: settings.directoryTtlMs / 2,
      });
      app.addChat(slack.chat);
      if (config.groups.some((g) => g.kind === 'slack')) app.addDirectory(slack.groups);
      if (!settings.slack.appToken) mounts.push((s) => slack!.mount(s));
    }
    if (settings.teams) {
      const teams = createTeamsAdapter({
        api: app,
        store,
        appId: settings.teams.appId,
        appPassword: settings.teams.appPassword,
        appType: settings.teams.appType,
        ...(settings.teams.tenantId ? { tenantId: settings.teams.tenantId } : {}),
        tenants: settings.teams.tenants,
        localMode: settings.localMode,
        logger: log.child({ platform: 'teams' }),
        clock,
        observer: metrics,
      });
      app.addChat(teams.chat);
      mounts.push((s) => teams.mount(s));
    }
    if (settings.localMode && clock instanceof AdjustableClock) {
      const consoleAdapter = createConsole({
        api: app,
        people: config.policy.people,
        clock,
        sim: { url: sim?.url ?? settings.simUrl ?? '', subscriptionId: config.world?.subscriptionId ?? '' },
        vmNames: async () => (await app.vms()).map((v) => v.name),
        logger: log.child({ platform: 'console' }),
      });
      app.addChat(consoleAdapter.chat);
      // Before any console route: DNS rebinding and cross-origin posts stop here.
      mounts.push((s) => s.pre(localOriginGuard({ extraHosts: settings.publicUrl ? [new URL(settings.publicUrl).hostname] : [] })));
      mounts.push((s) => consoleAdapter.mount(s));
      // The test clock exists only in local mode; advancing it runs what became due at once.
      mounts.push((s) => mountLocalClock(s, clock, () => app.scheduler.drain(), log.child({ route: 'clock' }), { beforeAdvance: () => app.scheduler.drain() }));
    }

    const http = createHttpServer({
      logger: log,
      mounts,
      registry: metrics.registry,
      observeRequest: metrics.httpRequest,
      readiness: readinessChecks(store, azureHealth),
      readinessDetails: [
        { name: 'defender', read: () => app.defender.detail() },
        ...(config.groups.length ? [{ name: 'directory', read: async () => app.directoryStatus() }] : []),
      ],
    });
    let url = await http.listen(settings.port, settings.host);
    closers.push(() => http.close());
    if (slack) {
      await slack.start();
      closers.push(() => slack!.stop());
    }
    await app.reconcile();
    // JIT without Defender for Servers Plan 2 cannot work: say so at start, not at the first request.
    const defender = await app.defender.detail();
    if (defender.available === false) log.warn({ plan: defender.plan }, defender.message);
    else if (defender.available === null) log.warn({}, defender.message);
    app.start();
    closers.push(() => app.stop({ timeoutMs: settings.shutdownTimeoutMs }));
    // Draining first: the load balancer stops sending work before anything closes.
    closers.push(async () => http.setDraining());

    if (opts.banner) printBanner(settings, url, sim, defender.message);
    log.info({ url, localMode: settings.localMode, platforms: app.platforms }, 'jitbot started');
    return { url, settings, app, store, clock, sim, log, close };
  } catch (err) {
    await close();
    throw err;
  }
}

function printBanner(settings: Settings, url: string, sim: AzureSim | null, defender: string): void {
  const on = (b: boolean) => (b ? 'on ' : 'off');
  const lines = [
    '',
    `  jitbot is running in ${settings.localMode ? 'local mode' : 'production mode'}`,
    '',
    ...(settings.localMode ? [`  Console        ${url}/   (choose who you are, type /jit help)`] : []),
    `  Data           ${settings.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : settings.dataDir}`,
    ...(sim ? [`  Azure          simulator at ${sim.url} (seeded from ${settings.configPath})`] : ['  Azure          real subscription']),
    `  Defender       ${defender}`,
    `  Slack     ${on(Boolean(settings.slack))}  ${settings.slack ? `${url}/slack/events` : 'set SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN)'}`,
    `  Teams     ${on(Boolean(settings.teams))}  ${settings.teams ? `${url}/api/messages${settings.teams.appId ? '' : ' (Bot Framework Emulator, no auth)'}` : 'set MicrosoftAppId + MicrosoftAppPassword'}`,
    '',
    '  Ctrl-C stops it.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  let bot: RunningBot;
  try {
    bot = await startBot(process.env, { banner: true });
  } catch (err) {
    if (err instanceof JitError && err.code === 'config') {
      process.stderr.write(`jitbot cannot start:\n${err.message.split('\n').map((l) => `  ${l}`).join('\n')}\n`);
    } else {
      process.stderr.write(`jitbot cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    process.exit(1);
  }
  superviseProcess(bot);
}

/** Exit status after an internal failure: EX_SOFTWARE, so a supervisor tells it from a clean stop. */
export const FATAL_EXIT_CODE = 70;

type FatalLogger = Logger & { fatal?: (obj: object, msg?: string) => void };

/**
 * What `npm start` runs the bot under: the shutdown path on SIGTERM/SIGINT, libraries' console output
 * as log lines, and a last resort for failures nothing else caught.
 *
 * Every route and job contains its own failures, so an unhandled rejection or an uncaught exception
 * means a bug whose effects we cannot bound. The process then logs it at fatal with what it was
 * working on, stops taking work (/readyz answers 503 while it drains), gives back its job leases and
 * exits with FATAL_EXIT_CODE for the supervisor to restart it. Nothing is lost: requests, approvals,
 * notices and the audit are in the store, and another replica (or the restarted process) picks up
 * the jobs.
 */
export function superviseProcess(bot: RunningBot, log: FatalLogger = bot.log): void {
  routeConsoleToLogger(log.child({ source: 'console' }));
  const stop = stopOnSignals(bot);
  const fatal = (kind: 'uncaughtException' | 'unhandledRejection', err: unknown) => {
    const fields = { kind, ...errorFields(err), stack: err instanceof Error ? err.stack : undefined, context: currentLogContext() ?? null };
    try {
      (log.fatal ?? log.error).call(log, fields, 'internal failure: jitbot stops and exits for its supervisor to restart it');
    } catch {
      process.stderr.write(`jitbot: internal failure (${kind}): ${err instanceof Error ? err.message : String(err)}\n`);
    }
    stop(kind, FATAL_EXIT_CODE);
  };
  process.on('uncaughtException', (err) => fatal('uncaughtException', err));
  process.on('unhandledRejection', (reason) => fatal('unhandledRejection', reason));
}

/**
 * botbuilder and its connector print errors with console.error (a multi-line dump for each token it
 * cannot verify); inside the JSON log those would be lines no collector can parse. They become log
 * lines at the matching level instead.
 */
export function routeConsoleToLogger(log: Logger): void {
  const to = (level: 'debug' | 'info' | 'warn' | 'error') => (...args: unknown[]) => {
    const first = args[0];
    if (args.length === 1 && first instanceof Error) log[level](errorFields(first), first.message);
    else log[level]({}, format(...args).slice(0, 2000));
  };
  console.error = to('error');
  console.warn = to('warn');
  console.info = to('info');
  console.log = to('info');
  console.debug = to('debug');
}

/**
 * SIGTERM or SIGINT: stop taking work, let running work finish, give back job leases, close, and exit
 * 0; exit 1 when closing fails or outlasts the shutdown timeout. Exported so the replica tests run the
 * very shutdown path `npm start` runs.
 */
export function stopOnSignals(bot: RunningBot): (why: string, exitCode?: number) => void {
  let stopping = false;
  const stop = (why: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${why}: stopping jitbot…\n`);
    const hard = setTimeout(() => process.exit(exitCode || 1), bot.settings.shutdownTimeoutMs + 1500);
    hard.unref();
    bot.close().then(
      () => process.exit(exitCode),
      () => process.exit(exitCode || 1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return stop;
}

if (require.main === module) void main();
