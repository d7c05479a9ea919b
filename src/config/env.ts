// Environment settings, read and checked once where the app is assembled (never inside handlers).
// Each missing or inconsistent setting is one clear line; the start stops on any of them.
import path from 'node:path';
import { z } from 'zod';
import { ANY_SOURCE, isAnySource, normalizeSource } from '../core/cidr';
import { JitError } from '../core/errors';
import { DEFAULT_GRAPH_URL } from '../entra/graph-directory';

export interface Settings {
  /** No AZURE_SUBSCRIPTION_ID: the Azure simulator, the web console and the test clock. */
  localMode: boolean;
  port: number;
  host: string;
  dataDir: string;
  configPath: string;
  databaseUrl?: string;
  simPort: number;
  /** Local mode: how long the simulator takes to apply an initiate (Azure takes seconds). */
  simApplyDelayMs: number;
  /** How long Azure may take to apply an accepted initiate before the request fails. */
  applyDeadlineMs: number;
  logLevel: string;
  /** Base URL people reach the bot on (signed audit download links). */
  publicUrl?: string;
  slack?: { botToken: string; signingSecret: string; appToken?: string; apiUrl?: string };
  /**
   * `tenants`: the Entra tenants whose activities are served; empty only in local mode, where the
   * Emulator sends none.
   */
  teams?: { appId: string; appPassword: string; appType: string; tenantId?: string; tenants: string[] };
  azure?: { subscriptionId: string; resourceManagerUrl?: string };
  /** Local mode against a simulator already running elsewhere (several replicas, benchmarks). */
  simUrl?: string;
  /** Proxies (CIDRs) whose X-Forwarded-For the `from me` page believes; nobody else's. */
  trustedProxies: string[];
  /** Secret for signing audit download links; generated per process when not given. */
  linkSecret?: string;
  /** The OpenID Connect client approvers sign in with on rules that ask for step-up. */
  stepUp?: { issuer: string; clientId: string; clientSecret?: string; maxAgeMinutes: number; acr?: string };
  shutdownTimeoutMs: number;
  /** Jobs (deliveries, openings, expiries) run at once by this process; the scheduler's default when unset. */
  jobConcurrency?: number;
  /** Microsoft Graph's base URL (national clouds have their own); the token scope follows it. */
  graphUrl: string;
  /** How long a person's directory group memberships are trusted before they are read again. */
  directoryTtlMs: number;
}

const optional = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/** A whole number in range, from a string variable. */
function wholeNumber(min: number, max: number) {
  return optional.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max}` });
      return z.NEVER;
    }
    return n;
  });
}

const envSchema = z.object({
  PORT: wholeNumber(0, 65535),
  HOST: optional,
  JITBOT_DATA_DIR: optional,
  JITBOT_CONFIG: optional,
  JITBOT_SIM_PORT: wholeNumber(0, 65535),
  JITBOT_SIM_APPLY_DELAY_MS: wholeNumber(0, 600_000),
  JITBOT_AZURE_APPLY_DEADLINE_MS: wholeNumber(1_000, 3_600_000),
  JITBOT_AZURE_SIM_URL: optional.pipe(z.url('must be a URL').optional()),
  JITBOT_PUBLIC_URL: optional.pipe(z.url('must be a URL').optional()),
  JITBOT_LINK_SECRET: optional,
  JITBOT_TRUSTED_PROXIES: optional.transform((v, ctx) => {
    if (v === undefined) return [];
    const out: string[] = [];
    for (const item of v.split(',').map((x) => x.trim()).filter(Boolean)) {
      const prefix = normalizeSource(item);
      if (prefix === null || prefix === ANY_SOURCE || isAnySource(prefix)) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(item)} is not an address or CIDR (and a proxy list never trusts everyone)` });
        return z.NEVER;
      }
      out.push(prefix);
    }
    return out;
  }),
  JITBOT_SHUTDOWN_TIMEOUT_MS: wholeNumber(100, 60_000),
  JITBOT_JOB_CONCURRENCY: wholeNumber(1, 1_000),
  LOG_LEVEL: optional.pipe(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional()),
  DATABASE_URL: optional.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
  ),
  SLACK_BOT_TOKEN: optional,
  SLACK_SIGNING_SECRET: optional,
  SLACK_APP_TOKEN: optional,
  SLACK_API_URL: optional.pipe(z.url('must be a URL').optional()),
  MicrosoftAppId: optional,
  MicrosoftAppPassword: optional,
  MicrosoftAppType: optional.pipe(z.enum(['MultiTenant', 'SingleTenant', 'UserAssignedMSI']).optional()),
  MicrosoftAppTenantId: optional,
  JITBOT_TEAMS_TENANTS: optional,
  AZURE_SUBSCRIPTION_ID: optional.pipe(
    z
      .string()
      .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a subscription GUID')
      .optional(),
  ),
  AZURE_RESOURCE_MANAGER_URL: optional.pipe(z.url('must be a URL').optional()),
  JITBOT_OIDC_ISSUER: optional.pipe(z.url('must be a URL').optional()),
  JITBOT_OIDC_CLIENT_ID: optional,
  JITBOT_OIDC_CLIENT_SECRET: optional,
  JITBOT_STEP_UP_MAX_AGE_MINUTES: wholeNumber(1, 60),
  JITBOT_STEP_UP_ACR: optional,
  JITBOT_GRAPH_URL: optional.pipe(z.url('must be a URL').optional()),
  JITBOT_DIRECTORY_TTL_MINUTES: wholeNumber(1, 1440),
});

type Env = Record<string, string | undefined>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Reads settings; throws a JitError('config') with one line per problem. */
export function readSettings(env: Env, cwd = process.cwd()): Settings {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new JitError('config', parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`).join('\n'));
  }
  const e = parsed.data;
  const problems: string[] = [];
  const localMode = e.AZURE_SUBSCRIPTION_ID === undefined;

  let slack: Settings['slack'];
  if (e.SLACK_BOT_TOKEN || e.SLACK_SIGNING_SECRET || e.SLACK_APP_TOKEN) {
    if (!e.SLACK_BOT_TOKEN) problems.push('SLACK_BOT_TOKEN: must be set to turn Slack on (xoxb-…)');
    if (!e.SLACK_SIGNING_SECRET && !e.SLACK_APP_TOKEN)
      problems.push('SLACK_SIGNING_SECRET: must be set for HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)');
    if (e.SLACK_APP_TOKEN && !e.SLACK_APP_TOKEN.startsWith('xapp-')) problems.push('SLACK_APP_TOKEN: must be an app-level token (xapp-…)');
    if (e.SLACK_BOT_TOKEN)
      slack = {
        botToken: e.SLACK_BOT_TOKEN,
        signingSecret: e.SLACK_SIGNING_SECRET ?? '',
        ...(e.SLACK_APP_TOKEN ? { appToken: e.SLACK_APP_TOKEN } : {}),
        ...(e.SLACK_API_URL ? { apiUrl: e.SLACK_API_URL } : {}),
      };
  }

  let teams: Settings['teams'];
  // SingleTenant is the default once a tenant is named: Azure Bot Service creates no new multi-tenant bots.
  const appType = e.MicrosoftAppType ?? (e.MicrosoftAppTenantId ? 'SingleTenant' : 'MultiTenant');
  const listed = (e.JITBOT_TEAMS_TENANTS ?? '').split(/[\s,]+/).filter(Boolean);
  const badTenant = listed.find((t) => !GUID.test(t));
  if (badTenant) problems.push(`JITBOT_TEAMS_TENANTS: "${badTenant}" is not a tenant id (a GUID); separate several with commas`);
  if (e.MicrosoftAppId) {
    if (!e.MicrosoftAppPassword && appType !== 'UserAssignedMSI')
      problems.push('MicrosoftAppPassword: must be set with MicrosoftAppId');
    if (appType !== 'MultiTenant' && !e.MicrosoftAppTenantId)
      problems.push(`MicrosoftAppTenantId: must be set when MicrosoftAppType is ${appType}`);
    // Whoever may talk to the bot is an allow-list of tenants, never "any organisation with Teams".
    const tenants = listed.length > 0 ? listed : appType !== 'MultiTenant' && e.MicrosoftAppTenantId ? [e.MicrosoftAppTenantId] : [];
    if (!localMode && tenants.length === 0)
      problems.push('JITBOT_TEAMS_TENANTS: must list the Entra tenants the bot serves when MicrosoftAppType is MultiTenant (or set MicrosoftAppTenantId with SingleTenant)');
    teams = {
      appId: e.MicrosoftAppId,
      appPassword: e.MicrosoftAppPassword ?? '',
      appType,
      ...(e.MicrosoftAppTenantId ? { tenantId: e.MicrosoftAppTenantId } : {}),
      tenants,
    };
  } else if (e.MicrosoftAppPassword) {
    problems.push('MicrosoftAppId: must be set with MicrosoftAppPassword');
  } else if (localMode) {
    // The Bot Framework Emulator's no-auth mode: only ever in local mode.
    teams = { appId: '', appPassword: '', appType, tenants: listed };
  }

  // Signed audit links must verify on every replica and point where people can reach them. Teams
  // cannot take a file from the bot, so with Teams on (or either setting given) links are issued.
  if (!localMode && (teams || e.JITBOT_LINK_SECRET || e.JITBOT_PUBLIC_URL)) {
    if (!e.JITBOT_LINK_SECRET) problems.push('JITBOT_LINK_SECRET: must be set to sign audit download links (the same value on every replica; 32+ random characters)');
    if (!e.JITBOT_PUBLIC_URL) problems.push('JITBOT_PUBLIC_URL: must be set to the https:// address people reach the bot on, for audit download links');
  }

  let stepUp: Settings['stepUp'];
  if (e.JITBOT_OIDC_CLIENT_ID) {
    // Entra ID is the default provider, in the bot's own tenant.
    const issuer = e.JITBOT_OIDC_ISSUER ?? (e.MicrosoftAppTenantId ? `https://login.microsoftonline.com/${e.MicrosoftAppTenantId}/v2.0` : undefined);
    if (!issuer) problems.push('JITBOT_OIDC_ISSUER: must be set with JITBOT_OIDC_CLIENT_ID (or set MicrosoftAppTenantId to sign in at Entra ID)');
    else if (!issuer.startsWith('https://') && !/^http:\/\/(localhost|127\.0\.0\.1|\[::1\])[:/]/.test(issuer))
      problems.push('JITBOT_OIDC_ISSUER: must be an https:// URL');
    else
      stepUp = {
        issuer,
        clientId: e.JITBOT_OIDC_CLIENT_ID,
        ...(e.JITBOT_OIDC_CLIENT_SECRET ? { clientSecret: e.JITBOT_OIDC_CLIENT_SECRET } : {}),
        maxAgeMinutes: e.JITBOT_STEP_UP_MAX_AGE_MINUTES ?? 10,
        ...(e.JITBOT_STEP_UP_ACR ? { acr: e.JITBOT_STEP_UP_ACR } : {}),
      };
  } else if (e.JITBOT_OIDC_ISSUER || e.JITBOT_OIDC_CLIENT_SECRET) {
    problems.push('JITBOT_OIDC_CLIENT_ID: must be set to turn step-up sign-in on');
  }

  if (e.JITBOT_GRAPH_URL && !e.JITBOT_GRAPH_URL.startsWith('https://') && !/^http:\/\/(localhost|127\.0\.0\.1|\[::1\])[:/]/.test(e.JITBOT_GRAPH_URL)) {
    problems.push('JITBOT_GRAPH_URL: must be an https:// URL (the bot sends its Graph token there)');
  }

  if (problems.length > 0) throw new JitError('config', problems.join('\n'));

  const dataDir = path.resolve(cwd, e.JITBOT_DATA_DIR ?? '.jitbot');
  const configPath = path.resolve(cwd, e.JITBOT_CONFIG ?? (localMode ? path.join(__dirname, '..', '..', packageRootHop(), 'examples', 'local.yaml') : 'jitbot.yaml'));
  return {
    localMode,
    port: e.PORT ?? 3978,
    host: e.HOST ?? (localMode ? '127.0.0.1' : '0.0.0.0'),
    dataDir,
    configPath,
    ...(e.DATABASE_URL ? { databaseUrl: e.DATABASE_URL } : {}),
    simPort: e.JITBOT_SIM_PORT ?? 3979,
    simApplyDelayMs: e.JITBOT_SIM_APPLY_DELAY_MS ?? 3_000,
    applyDeadlineMs: e.JITBOT_AZURE_APPLY_DEADLINE_MS ?? 120_000,
    // Local mode's terminal shows the banner; only warnings and errors join it unless asked.
    logLevel: e.LOG_LEVEL ?? (localMode ? 'warn' : 'info'),
    ...(e.JITBOT_PUBLIC_URL ? { publicUrl: e.JITBOT_PUBLIC_URL } : {}),
    ...(slack ? { slack } : {}),
    ...(teams ? { teams } : {}),
    ...(e.AZURE_SUBSCRIPTION_ID
      ? { azure: { subscriptionId: e.AZURE_SUBSCRIPTION_ID, ...(e.AZURE_RESOURCE_MANAGER_URL ? { resourceManagerUrl: e.AZURE_RESOURCE_MANAGER_URL } : {}) } }
      : {}),
    ...(localMode && e.JITBOT_AZURE_SIM_URL ? { simUrl: e.JITBOT_AZURE_SIM_URL } : {}),
    ...(e.JITBOT_LINK_SECRET ? { linkSecret: e.JITBOT_LINK_SECRET } : {}),
    trustedProxies: e.JITBOT_TRUSTED_PROXIES,
    ...(stepUp ? { stepUp } : {}),
    shutdownTimeoutMs: e.JITBOT_SHUTDOWN_TIMEOUT_MS ?? 8000,
    ...(e.JITBOT_JOB_CONCURRENCY ? { jobConcurrency: e.JITBOT_JOB_CONCURRENCY } : {}),
    graphUrl: (e.JITBOT_GRAPH_URL ?? DEFAULT_GRAPH_URL).replace(/\/+$/, ''),
    directoryTtlMs: (e.JITBOT_DIRECTORY_TTL_MINUTES ?? 10) * 60_000,
  };
}

/** From src/config (tsx) or dist/src/config (built), the repo root is two or three levels up. */
function packageRootHop(): string {
  return path.basename(path.resolve(__dirname, '..', '..')) === 'dist' ? '..' : '';
}
