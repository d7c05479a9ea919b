// Assembles the Slack side: one Bolt App on an HTTP receiver (mounted in the shared restify server)
// or a Socket Mode receiver, the listeners, and the ChatPort the app posts through.
import { App, HTTPModuleFunctions, HTTPReceiver, SocketModeReceiver, verifySlackRequest, type Authorize, type Receiver } from '@slack/bolt';
import type { Server } from 'restify';
import { errorFields } from '../app/logger';
import { HttpBodyError, readBody, sendBodyError } from '../http/body';
import type { JitApi } from '../app/api';
import type { ChatCallObserver } from '../app/observer';
import { systemClock, type ChatPort, type Clock, type Directory } from '../app/ports';
import { createSlackChatPort } from './chat-port';
import { registerHandlers } from './handlers';
import { createSlackIdentity } from './identity';
import { createSlackGroups } from './usergroups';
import { createBoltLogger, slackErrorFields, type LoggerLike } from './log';
import { createSlackCaller, slackErrorCode, webClientOptions } from './web';

export const SLACK_EVENTS_PATH = '/slack/events';

/** Slack's replay window for signed requests. */
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
/** Signatures are checked against real time, whatever clock the use cases read. */
const clockNow = (): number => Date.now();
/** Slack's own payloads (a modal with its 100 blocks included) stay far below this. */
const MAX_SLACK_BODY_BYTES = 1024 * 1024;
/** Slash commands and interactions come as forms, Events API callbacks as JSON. */
const SLACK_MEDIA_TYPES = ['application/x-www-form-urlencoded', 'application/json'] as const;

type RawRequest = Parameters<HTTPReceiver['requestListener']>[0] & { rawBody?: Buffer };

/**
 * Everything Bolt's receiver would stumble on, refused before it sees the request: the body is read
 * here (bounded), its signature checked, and it must parse the way Bolt will parse it into one JSON
 * object. Bolt reads the buffered body again and checks the signature again. Returns the status and
 * line to refuse with, or null to let Bolt have it.
 */
function refusal(req: RawRequest, raw: Buffer, signingSecret: string, now: number): { status: number; message: string; log?: Record<string, unknown> } | null {
  const text = raw.toString('utf8');
  const contentType = req.headers['content-type'];
  // Bolt answers `ssl_check=1` forms without a signature (and keeps nothing else of them).
  const sslCheck = contentType === 'application/x-www-form-urlencoded' && /(?:^|&)ssl_check=1(?:&|$)/.test(text);
  if (!sslCheck) {
    const signature = req.headers['x-slack-signature'];
    const sentAt = Number(req.headers['x-slack-request-timestamp']);
    if (typeof signature !== 'string' || !Number.isFinite(sentAt)) return { status: 401, message: 'Unauthorized', log: { reason: 'missing signature headers' } };
    // Bolt refuses timestamps more than 5 minutes old but not ones as far in the future; Slack's rule
    // is a window both ways, so a captured request cannot be held back and replayed later.
    if (sentAt * 1000 - now > MAX_CLOCK_SKEW_MS) return { status: 401, message: 'Unauthorized', log: { reason: 'timestamp in the future', skewSeconds: Math.round(sentAt - now / 1000) } };
    try {
      verifySlackRequest({ signingSecret, body: text, headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': sentAt } });
    } catch (err) {
      return { status: 401, message: 'Unauthorized', log: { reason: err instanceof Error ? err.message : String(err) } };
    }
  }
  let body: unknown;
  try {
    body = HTTPModuleFunctions.parseHTTPRequestBody(Object.assign(req, { rawBody: raw }) as never);
  } catch {
    return { status: 400, message: 'The body is not a Slack payload' };
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { status: 400, message: 'The body is not a Slack payload' };
  return null;
}

export interface SlackAdapterOptions {
  api: JitApi;
  botToken: string;
  signingSecret: string;
  /** An app-level token (`xapp-…`) switches to Socket Mode: no public URL, no request signing. */
  appToken?: string;
  /** SLACK_API_URL: another Web API base (tests point it at a loopback fake). */
  apiUrl?: string;
  logger: LoggerLike;
  clock?: Clock;
  /** Counts 429s and failed Web API calls (metrics). */
  observer?: ChatCallObserver;
  /** Answer Slack only after the listener finished (FaaS, and deterministic tests). */
  processBeforeResponse?: boolean;
  userCacheTtlMs?: number;
  /** The bot's ids, when known; otherwise `start()` learns them from auth.test. */
  botId?: string;
  botUserId?: string;
  /** Deadline of one Web API call, retries included. */
  webApiTimeoutMs?: number;
  /** How long an interaction waits for the api before acknowledging and answering later (default 2 s). */
  ackBudgetMs?: number;
  /** How long a Slack user group's member list is reused (half the directory TTL). */
  groupsMaxAgeMs?: number;
}

export interface SlackAdapter {
  readonly chat: ChatPort;
  /** Slack user groups as a directory for `groups: { x: { slack: … } }`. */
  readonly groups: Directory;
  /** POST /slack/events → Bolt, with the raw body untouched (no body parser may run on this route). */
  mount(server: Server): void;
  /** Checks the bot token; in Socket Mode, connects. */
  start(): Promise<void>;
  /** Disconnects Socket Mode and waits (briefly) for listeners still running. */
  stop(): Promise<void>;
}

// Slack's answers that mean the token itself is wrong: starting anyway would only fail later.
const FATAL_AUTH_ERRORS = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'token_expired', 'not_allowed_token_type']);
const STOP_GRACE_MS = 5_000;

export function createSlackAdapter(opts: SlackAdapterOptions): SlackAdapter {
  const socketMode = Boolean(opts.appToken);
  if (!opts.botToken) throw new Error('Slack: SLACK_BOT_TOKEN is required');
  if (!socketMode && !opts.signingSecret) throw new Error('Slack: SLACK_SIGNING_SECRET is required unless SLACK_APP_TOKEN selects Socket Mode');

  const boltLogger = createBoltLogger(opts.logger);
  const slack = createSlackCaller(opts.botToken, {
    apiUrl: opts.apiUrl,
    logger: boltLogger,
    timeoutMs: opts.webApiTimeoutMs,
    ...(opts.observer ? { observer: opts.observer } : {}),
  });
  const identity = createSlackIdentity({ slack, clock: opts.clock ?? systemClock, ttlMs: opts.userCacheTtlMs });
  const chat = createSlackChatPort(slack, {
    onMinimal: (method, err) => opts.logger.warn({ method, code: slackErrorCode(err) }, 'Slack refused a message as built; sent its minimal form'),
  });

  let ids: { botId?: string; botUserId?: string } = { botId: opts.botId, botUserId: opts.botUserId };
  // Our own authorize (instead of `token`) keeps Bolt from calling auth.test in its constructor.
  const authorize: Authorize<boolean> = async () => ({ botToken: opts.botToken, botId: ids.botId, botUserId: ids.botUserId });

  const receiver: Receiver & { requestListener?: HTTPReceiver['requestListener'] } = socketMode
    ? new SocketModeReceiver({
        appToken: opts.appToken as string,
        logger: boltLogger,
        installerOptions: {
          clientOptions: {
            ...webClientOptions({ apiUrl: opts.apiUrl, logger: boltLogger, timeoutMs: opts.webApiTimeoutMs }),
            // apps.connections.open is retried on the reconnect path; a few tries, not the client's hundred.
            retryConfig: { retries: 5, factor: 2, minTimeout: 500, maxTimeout: 10_000, randomize: true },
          },
        },
      })
    : new HTTPReceiver({
        signingSecret: opts.signingSecret,
        endpoints: SLACK_EVENTS_PATH,
        processBeforeResponse: opts.processBeforeResponse ?? false,
        logger: boltLogger,
        bodyLimit: MAX_SLACK_BODY_BYTES,
        // Bolt's default answers 500 to any failure inside it. Payloads that reach it are signed and
        // parsed, so what fails there is a payload Bolt cannot follow (or a listener bug, logged).
        processEventErrorHandler: async ({ error, response }) => {
          boltLogger.error(`Bolt could not process a Slack request: ${error instanceof Error ? error.message : String(error)}`);
          if (response.headersSent) return false;
          response.writeHead((error as { code?: string }).code === 'slack_bolt_authorization_error' ? 401 : 400);
          response.end();
          return true;
        },
      });

  const app = new App({
    receiver,
    authorize,
    logger: boltLogger,
    extendedErrorHandler: true,
    clientOptions: webClientOptions({ apiUrl: opts.apiUrl, logger: boltLogger, timeoutMs: opts.webApiTimeoutMs }),
  });

  const inflight = new Set<Promise<void>>();
  app.use(async ({ next }) => {
    const run = next();
    inflight.add(run);
    try {
      await run;
    } finally {
      inflight.delete(run);
    }
  });
  registerHandlers(app, { api: opts.api, slack, identity, logger: opts.logger, ackBudgetMs: opts.ackBudgetMs });

  async function learnIds(): Promise<void> {
    if (ids.botId && ids.botUserId) return;
    try {
      const res = await slack.call<{ ok: boolean; user_id?: string; bot_id?: string }>('auth.test', {});
      ids = { botId: ids.botId ?? res.bot_id, botUserId: ids.botUserId ?? res.user_id };
    } catch (err) {
      const code = slackErrorCode(err);
      if (code && FATAL_AUTH_ERRORS.has(code)) throw new Error(`Slack: SLACK_BOT_TOKEN was refused (${code})`);
      opts.logger.warn(slackErrorFields(err), 'Slack auth.test failed; continuing without the bot ids');
    }
  }

  let started = false;
  const groups = createSlackGroups({ slack, identity, clock: opts.clock ?? systemClock, maxAgeMs: opts.groupsMaxAgeMs ?? 5 * 60_000 });

  return {
    chat,
    groups,

    mount(server: Server): void {
      if (socketMode) {
        opts.logger.info({ mode: 'socket' }, 'Slack uses Socket Mode; no HTTP route mounted');
        return;
      }
      const listener = (receiver as HTTPReceiver).requestListener;
      // restify 11: a three-argument handler must not be async. Bolt answers on its own; `next` runs
      // once the response is out, so restify's after-hooks and metrics see the request end.
      server.post(SLACK_EVENTS_PATH, (req, res, next) => {
        let done = false;
        const finish = (): void => {
          if (done) return;
          done = true;
          next(false);
        };
        res.once('finish', finish);
        res.once('close', finish);
        const plain = (status: number, message: string): void => {
          if (res.headersSent) return void res.destroy();
          res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
          res.end(message);
        };
        // restify routes `/slack/events;x` and `/slack/%65vents` here too; Bolt would throw on them.
        if ((req.url ?? '').split('?')[0] !== SLACK_EVENTS_PATH) return plain(404, 'Not found');
        const raw = req as unknown as RawRequest;
        readBody(raw, { accept: SLACK_MEDIA_TYPES, maxBytes: MAX_SLACK_BODY_BYTES }).then(
          (body) => {
            const refused = refusal(raw, body, opts.signingSecret, clockNow());
            if (refused) {
              if (refused.status === 401) opts.logger.warn(refused.log ?? {}, 'Slack request refused: could not verify its signature');
              else opts.logger.warn({ status: refused.status }, 'Slack request refused: not a Slack payload');
              return plain(refused.status, refused.message);
            }
            raw.rawBody = body;
            try {
              listener(raw, res);
            } catch (err) {
              opts.logger.error(errorFields(err), 'Bolt could not take a Slack request');
              plain(400, 'Bad request');
            }
          },
          (err: unknown) => {
            if (err instanceof HttpBodyError) {
              opts.logger.warn({ status: err.status, reason: err.message }, 'Slack request refused');
              return sendBodyError(res, err);
            }
            opts.logger.error(errorFields(err), 'could not read a Slack request');
            plain(400, 'Bad request');
          },
        );
      });
    },

    async start(): Promise<void> {
      await learnIds();
      if (socketMode) {
        await app.start();
        started = true;
      }
      opts.logger.info({ mode: socketMode ? 'socket' : 'http', botUserId: ids.botUserId ?? null }, 'Slack adapter ready');
    },

    async stop(): Promise<void> {
      if (socketMode && started) {
        started = false;
        await app.stop();
      }
      if (inflight.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled([...inflight]),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, STOP_GRACE_MS);
          }),
        ]);
        clearTimeout(timer);
      }
    },
  };
}
