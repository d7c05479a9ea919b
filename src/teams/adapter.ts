// The Teams adapter, assembled: botbuilder's CloudAdapter on the shared restify server, the bot that
// turns activities into api calls, and the ChatPort the app posts through. Loaded by ./lazy on
// first need, after the route's own checks.
import type * as restify from 'restify';
import { ActivityTypes, CloudAdapter, type Activity } from 'botbuilder';
import { errorFields, type Logger } from '../app/logger';
import { systemClock, type ChatPort } from '../app/ports';
import type { TeamsAdapterOptions, TeamsIdentitySettings } from './activity';
import { JitTeamsBot } from './bot';
import { TeamsCards } from './cards';
import { TeamsChat } from './chat';
import { ReusedConnectorsAuthentication } from './connectors';
import { TeamsDirectory } from './directory';
import { TeamsIdentity } from './identity';

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

export interface TeamsRuntime {
  readonly chat: ChatPort;
  handle(req: restify.Request, res: restify.Response, body: unknown): Promise<void>;
}

function isTokenFailure(err: unknown): boolean {
  const e = err as { name?: string; statusCode?: number };
  return e?.statusCode === 401 || (typeof e?.name === 'string' && TOKEN_FAILURES.has(e.name));
}

export function createTeamsRuntime(opts: TeamsAdapterOptions, { appId, appType }: TeamsIdentitySettings): TeamsRuntime {
  const log = opts.logger;
  const clock = opts.clock ?? systemClock;
  const overrides = opts.botFrameworkSettings ?? {};
  const auth = new ReusedConnectorsAuthentication({
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
    /** An activity that passed the route's checks: authenticated, then handed to botbuilder. */
    async handle(req, res, body) {
      (req as restify.Request & { body: unknown }).body = body;
      const refused = await rejection(req);
      if (refused) {
        res.send(refused.status, { error: refused.message });
        return;
      }
      const request = { body, headers: req.headers, method: req.method };
      await adapter.process(request as never, containedResponse(res, log) as never, (ctx) => bot.run(ctx));
    },
  };
}
