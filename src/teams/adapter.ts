// The Teams adapter, assembled: botbuilder's CloudAdapter on the shared restify server, the bot that
// turns activities into api calls, and the ChatPort the app posts through.
import type * as restify from 'restify';
import { ActivityTypes, CloudAdapter, ConfigurationBotFrameworkAuthentication, type Activity } from 'botbuilder';
import type { JitApi } from '../app/api';
import { z } from 'zod';
import type { ChatCallObserver } from '../app/observer';
import { errorFields, type Logger } from '../app/logger';
import { HttpBodyError, parseJson, readBody, sendBodyError } from '../http/body';
import { controlCharacter } from '../core/text';
import { systemClock, type ChatPort, type Clock, type Store } from '../app/ports';
import { JitError } from '../core/errors';
import { JitTeamsBot } from './bot';
import { TeamsCards } from './cards';
import { TeamsChat } from './chat';
import { TeamsDirectory } from './directory';
import { TeamsIdentity } from './identity';

export const TEAMS_ROUTE = '/api/messages';
/** Activities are a few KB; a card-heavy one stays far below this. */
const MAX_BODY_BYTES = 512 * 1024;
const JSON_ONLY = ['application/json'] as const;
const APP_TYPES = ['MultiTenant', 'SingleTenant', 'UserAssignedMSI'] as const;
const TOKEN_FAILURES = new Set(['AuthenticationError', 'JsonWebTokenError', 'TokenExpiredError', 'NotBeforeError']);

/**
 * The Bot Framework public cloud (botframework-connector's AuthenticationConstants). botbuilder
 * switches to "every endpoint given explicitly" as soon as one is set, so an override of one
 * endpoint keeps these for the rest rather than leave them empty.
 */
const PUBLIC_CLOUD: Record<string, string> = {
  ToChannelFromBotLoginUrl: 'https://login.microsoftonline.com/botframework.com',
  ToChannelFromBotOAuthScope: 'https://api.botframework.com',
  ToBotFromChannelTokenIssuer: 'https://api.botframework.com',
  OAuthUrl: 'https://api.botframework.com',
  ToBotFromChannelOpenIdMetadataUrl: 'https://login.botframework.com/v1/.well-known/openidconfiguration',
  ToBotFromEmulatorOpenIdMetadataUrl: 'https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration',
  CallerId: 'urn:botframework:azure',
};

const CONTROL_FREE = (s: string) => controlCharacter(s) === null;
/** Ids end up in the store and in URLs of the Bot Connector: text, bounded, no control characters. */
const idText = z.string().min(1).max(1024).refine(CONTROL_FREE, 'contains a control character');
const account = z.looseObject({ id: idText, name: z.string().max(1024).optional(), aadObjectId: z.string().max(256).optional() });
const httpUrl = z
  .string()
  .max(2048)
  .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'must be an http(s) URL');
const dateText = z.string().max(64).refine((d) => !Number.isNaN(Date.parse(d)), 'must be a date');

/**
 * The fields of a Bot Framework activity that botbuilder and our bot read, with the types they
 * assume. Anything else passes through untouched. A body that fails this is answered 400 with the
 * first problem, instead of failing deep inside botbuilder (which answers 500 with its own words).
 */
const ACTIVITY = z.looseObject({
  type: z.string().min(1).max(64),
  id: idText.optional(),
  channelId: z.string().max(64).optional(),
  serviceUrl: httpUrl,
  timestamp: dateText.optional(),
  localTimestamp: dateText.optional(),
  expiration: dateText.optional(),
  from: account,
  recipient: account,
  conversation: z.looseObject({
    id: idText,
    conversationType: z.string().max(64).optional(),
    tenantId: z.string().max(256).optional(),
    isGroup: z.boolean().optional(),
  }),
  replyToId: idText.optional(),
  text: z.string().optional(),
  textFormat: z.string().max(64).optional(),
  name: z.string().max(256).optional(),
  entities: z.array(z.looseObject({ type: z.string().max(64) })).max(100).optional(),
  attachments: z.array(z.looseObject({})).max(100).optional(),
  membersAdded: z.array(account).max(1000).optional(),
  membersRemoved: z.array(account).max(1000).optional(),
  channelData: z.looseObject({}).optional(),
});

/** One short line naming the first problem of a body that is not an activity. */
function activityProblem(body: unknown): string | null {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'Expected a JSON activity (an object)';
  const parsed = ACTIVITY.safeParse(body);
  if (parsed.success) return null;
  const issue = parsed.error.issues[0];
  const where = issue.path.length > 0 ? issue.path.map(String).join('.') : 'activity';
  return `Invalid activity: ${where.slice(0, 80)} ${issue.code === 'invalid_type' && issue.input === undefined ? 'is missing' : 'is not valid'}`;
}

/**
 * What CloudAdapter writes, held to our rules: its own failure answers (a 500 carrying the library's
 * error text) become a generic 500, logged here with the error it came from.
 */
function containedResponse(res: restify.Response, log: Logger) {
  let status = 200;
  let body: unknown;
  return {
    status(code: number) {
      status = code;
      return this;
    },
    header(name: string, value: unknown) {
      res.header(name, value);
      return this;
    },
    send(b: unknown) {
      body = b;
      return this;
    },
    end() {
      if (res.headersSent) return this;
      if (status >= 500) {
        log.error({ status, reason: typeof body === 'string' ? body.slice(0, 300) : undefined }, 'botbuilder could not process a Teams activity');
        res.send(500, { error: 'Something went wrong in jitbot; the server log has the details.' });
      } else if (body === undefined) {
        res.send(status);
      } else {
        res.send(status, body);
      }
      return this;
    },
  };
}

export interface TeamsAdapterOptions {
  api: JitApi;
  store: Store;
  /** The bot's Entra app id. Empty means no authentication (Bot Framework Emulator): local mode only. */
  appId: string;
  appPassword: string;
  /** `MultiTenant` (default), `SingleTenant` or `UserAssignedMSI`. */
  appType?: string;
  /** Required for SingleTenant and UserAssignedMSI; also limits the bot to this tenant's users. */
  tenantId?: string;
  /** The Entra tenants served; activities from any other are refused before any lookup. Default: `tenantId`. */
  tenants?: string[];
  localMode: boolean;
  logger: Logger;
  clock?: Clock;
  /** Counts 429s and failed Bot Connector calls (metrics). */
  observer?: ChatCallObserver;
  /**
   * Further Bot Framework authentication settings, by their configuration names (sovereign clouds:
   * `ToBotFromChannelOpenIdMetadataUrl`, `ToChannelFromBotLoginUrl`, `OAuthUrl`…). They cannot
   * replace the app id, password, type or tenant.
   */
  botFrameworkSettings?: Record<string, string | boolean>;
}

export interface TeamsAdapter {
  readonly chat: ChatPort;
  /** `POST /api/messages`, with a JSON body parser on this route only. */
  mount(server: restify.Server): void;
}

function configError(message: string): JitError {
  return new JitError('config', message);
}

function isTokenFailure(err: unknown): boolean {
  const e = err as { name?: string; statusCode?: number };
  return e?.statusCode === 401 || (typeof e?.name === 'string' && TOKEN_FAILURES.has(e.name));
}

export function createTeamsAdapter(opts: TeamsAdapterOptions): TeamsAdapter {
  const appId = opts.appId.trim();
  const appType = opts.appType?.trim() || 'MultiTenant';
  if (!appId && !opts.localMode) {
    throw configError('MicrosoftAppId is empty: Teams would accept unauthenticated activities. An empty app id is for local mode (Bot Framework Emulator) only.');
  }
  if (!(APP_TYPES as readonly string[]).includes(appType)) throw configError(`MicrosoftAppType "${appType}" is not one of ${APP_TYPES.join(', ')}.`);
  if (appId && appType !== 'UserAssignedMSI' && !opts.appPassword) throw configError('MicrosoftAppPassword is empty but MicrosoftAppId is set.');
  if (appId && appType !== 'MultiTenant' && !opts.tenantId) throw configError(`MicrosoftAppTenantId is required when MicrosoftAppType is ${appType}.`);

  const log = opts.logger;
  const clock = opts.clock ?? systemClock;
  const overrides = opts.botFrameworkSettings ?? {};
  const auth = new ConfigurationBotFrameworkAuthentication({
    ...(Object.keys(overrides).length && !overrides.ChannelService ? PUBLIC_CLOUD : {}),
    ...overrides,
    MicrosoftAppId: appId,
    MicrosoftAppPassword: appId ? opts.appPassword : '',
    MicrosoftAppType: appType,
    MicrosoftAppTenantId: opts.tenantId ?? '',
  });
  const adapter = new CloudAdapter(auth);
  const directory = new TeamsDirectory(opts.store, clock);
  const identity = new TeamsIdentity(directory, clock, opts.localMode && !appId, log);
  const cards = new TeamsCards(opts.api, directory);
  const chat = new TeamsChat({ adapter, appId, api: opts.api, directory, cards, clock, logger: log, ...(opts.observer ? { observer: opts.observer } : {}) });
  const tenants = opts.tenants?.length ? opts.tenants : opts.tenantId ? [opts.tenantId] : [];
  const bot = new JitTeamsBot({ api: opts.api, directory, identity, cards, logger: log, tenants, personal: (actor, activity) => chat.sendToPerson(actor, activity) });

  adapter.onTurnError = async (ctx, err) => {
    log.error({ type: ctx.activity.type, ...errorFields(err) }, 'Teams turn failed');
    try {
      if (ctx.activity.type === ActivityTypes.Invoke) {
        await ctx.sendActivity({
          type: ActivityTypes.InvokeResponse,
          value: { status: 200, body: { statusCode: 500, type: 'application/vnd.microsoft.error', value: { code: 'InternalServerError', message: 'Something went wrong; please try again.' } } },
        });
      } else if (ctx.activity.type === ActivityTypes.Message) {
        await ctx.sendActivity('Something went wrong on my side; please try again.');
      }
    } catch (sendErr) {
      log.warn(errorFields(sendErr), 'could not tell the Teams user about the failure');
    }
  };

  /**
   * CloudAdapter answers 401 only for some token failures: a token it cannot verify (bad signature,
   * unknown key) surfaces as 500 with the library's error text. Checking first keeps every rejection
   * a plain 401, and an unreachable OpenID endpoint (our problem, not the caller's) a 503.
   */
  async function rejection(req: restify.Request): Promise<{ status: number; message: string } | null> {
    if (!appId) return null;
    const header = req.headers.authorization;
    try {
      await auth.authenticateRequest(req.body as Activity, typeof header === 'string' ? header : '');
      return null;
    } catch (err) {
      if (isTokenFailure(err)) {
        log.warn({ reason: (err as Error).message, hasToken: Boolean(header) }, 'Teams activity with a missing or invalid token refused');
        return { status: 401, message: 'Unauthorized' };
      }
      log.error(errorFields(err), 'could not validate a Bot Framework token');
      return { status: 503, message: 'Token validation unavailable' };
    }
  }

  return {
    chat,
    mount(server) {
      server.post(TEAMS_ROUTE, async (req: restify.Request, res: restify.Response) => {
        // restify routes `/api/messages;x` and `/api/%6dessages` here too; only the exact path is ours.
        if ((req.url ?? '').split('?')[0] !== TEAMS_ROUTE) {
          res.send(404, { error: 'Not found' });
          return;
        }
        let body: unknown;
        try {
          body = parseJson(await readBody(req, { accept: JSON_ONLY, maxBytes: MAX_BODY_BYTES }));
        } catch (err) {
          if (!(err instanceof HttpBodyError)) throw err;
          log.warn({ status: err.status, reason: err.message }, 'Teams request refused');
          return sendBodyError(res, err);
        }
        const problem = activityProblem(body);
        if (problem) {
          log.warn({ reason: problem }, 'Teams request refused: not an activity');
          res.send(400, { error: problem });
          return;
        }
        (req as restify.Request & { body: unknown }).body = body;
        const refused = await rejection(req);
        if (refused) {
          res.send(refused.status, { error: refused.message });
          return;
        }
        const request = { body, headers: req.headers, method: req.method };
        await adapter.process(request as never, containedResponse(res, log) as never, (ctx) => bot.run(ctx));
      });
    },
  };
}
