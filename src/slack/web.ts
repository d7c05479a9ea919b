// Every Slack Web API call goes through here: one WebClient, a deadline per call, 429s waited out
// only while Slack's Retry-After is short, and every failure turned into a ChatError.
import {
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
  WebClient,
  type WebAPICallResult,
  type WebClientOptions,
} from '@slack/web-api';
import type { Logger as BoltLogger } from '@slack/bolt';
import { ChatError } from '../core/errors';
import type { ChatCallObserver } from '../app/observer';
import type { CallOptions } from '../app/ports';
import { keepAliveClient, type KeepAliveClient, type PlainAnswer } from './keepalive-fetch';

export const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';
export const DEFAULT_CALL_TIMEOUT_MS = 10_000;

export interface WebOptions {
  apiUrl?: string;
  logger: BoltLogger;
  /** Deadline of one call, retries included, unless the caller gives its own. */
  timeoutMs?: number;
  /** Longest Retry-After worth waiting for inside a call; longer ones fail as retryable. */
  maxRateLimitWaitMs?: number;
  maxRateLimitRetries?: number;
  /** Told of every 429 and every call that failed for good. */
  observer?: ChatCallObserver;
}

/**
 * Options for a WebClient (and for Bolt's `respond`, which uses the same fetch). A fresh object each
 * time: WebClient writes its Authorization header into `headers`, so sharing one object between the
 * bot and app-level clients would mix their tokens up.
 */
export function webClientOptions(opts: Pick<WebOptions, 'apiUrl' | 'logger' | 'timeoutMs'>): WebClientOptions {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  return {
    slackApiUrl: opts.apiUrl ?? DEFAULT_SLACK_API_URL,
    logger: opts.logger,
    timeout: timeoutMs,
    // 429s come back to slackCall, which decides whether Retry-After is short enough to wait for.
    rejectRateLimitedCalls: true,
    // 5xx and network errors: a couple of quick tries, never the SDK's default half hour.
    retryConfig: { retries: 2, factor: 2, minTimeout: 150, maxTimeout: 1_000, randomize: true },
    fetch: timedFetch(timeoutMs),
  };
}

let shared: KeepAliveClient | null = null;

/** One pool of kept-alive connections for every Slack client of the process (see keepalive-fetch.ts). */
function keepAlive(): KeepAliveClient {
  return (shared ??= keepAliveClient());
}

/**
 * The process's fetch for Slack, with a default deadline for callers (Bolt's `respond`) that pass no
 * signal of their own.
 */
export function timedFetch(timeoutMs: number): typeof fetch {
  const send = keepAlive().fetch;
  return (input, init) => send(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(timeoutMs) });
}

/**
 * The methods that post and redraw messages (every card, copy, thread reply and direct message) are
 * sent as JSON, which Slack recommends for them, straight over the kept-alive connections rather than
 * through the WebClient. There each call also passed a request queue and a retry wrapper, became a
 * URL-encoded form with the blocks JSON-encoded inside it, and built three redacted debug lines
 * whether or not they were printed: with this, a Slack command costs the bot an eighth less CPU and
 * its throughput rose by a quarter (`npm run bench:ab`, the two builds side by side). The WebClient's
 * behaviour is kept: the same error classes, two quick retries of a 5xx or an unreachable Slack, a
 * 429 handed to withRateLimit, its warnings logged. Every other method still goes through it.
 */
const JSON_METHODS = new Set(['chat.postMessage', 'chat.update']);
const RETRIES = 2;

/** 150 ms, 300 ms, …, at most 1 s, each ±50 %: the WebClient's retryConfig above. */
function retryDelayMs(attempt: number): number {
  return Math.min(150 * 2 ** attempt, 1_000) * (0.5 + Math.random());
}

function headerRecord(answer: PlainAnswer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

// Slack's own words for "try again later".
const RETRYABLE_CODES = new Set(['ratelimited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout']);

/** A Web API failure as the app's ChatError: retryable for 429, 5xx, timeouts and network errors. */
export function toChatError(method: string, err: unknown): ChatError {
  if (err instanceof ChatError) return err;
  if (err instanceof WebAPIPlatformError) {
    const code = err.data.error;
    return new ChatError(`Slack ${method} failed: ${code}`, { retryable: RETRYABLE_CODES.has(code), cause: err });
  }
  if (err instanceof WebAPIRateLimitedError) {
    return new ChatError(`Slack rate-limited ${method}`, { retryable: true, retryAfterMs: err.retryAfter * 1000, cause: err });
  }
  if (err instanceof WebAPIHTTPError) {
    const retryAfter = Number.parseInt(err.headers['retry-after'] ?? '', 10);
    return new ChatError(`Slack ${method} failed: HTTP ${err.statusCode}`, {
      retryable: err.statusCode === 429 || err.statusCode >= 500,
      retryAfterMs: Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined,
      cause: err,
    });
  }
  if (err instanceof WebAPIRequestError) {
    return new ChatError(`Slack ${method} could not be reached`, { retryable: true, cause: err });
  }
  return new ChatError(`Slack ${method} failed`, { retryable: false, cause: err });
}

/** Slack's error code (`user_not_found`, `channel_not_found`…) behind a failure, when Slack sent one. */
export function slackErrorCode(err: unknown): string | undefined {
  const inner = err instanceof ChatError ? err.cause : err;
  return inner instanceof WebAPIPlatformError ? inner.data.error : undefined;
}

export type SlackArgs = Record<string, unknown>;

export interface SlackCaller {
  readonly client: WebClient;
  call<T extends WebAPICallResult = WebAPICallResult>(method: string, args: SlackArgs, opts?: CallOptions): Promise<T>;
  /** `files.uploadV2`: three calls and an upload behind one name. */
  uploadFile(args: { channelId: string; filename: string; content: string; title: string; initialComment?: string }, opts?: CallOptions): Promise<void>;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Rejects with a retryable ChatError when the deadline passes or the caller aborts. The timer is
 * cleared when the call is done, so nothing of the call outlives it (AbortSignal.timeout keeps its
 * listeners, and what they reach, until it fires).
 */
function deadlineFor(method: string, opts: CallOptions | undefined, defaultMs: number): { signal: AbortSignal; expired: Promise<never>; done(): void } {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new DOMException('The operation timed out.', 'TimeoutError')), opts?.timeoutInMs ?? defaultMs);
  const signal = opts?.abortSignal ? AbortSignal.any([timeout.signal, opts.abortSignal]) : timeout.signal;
  let onAbort: () => void = () => {};
  const expired = new Promise<never>((_, reject) => {
    onAbort = () => {
      const aborted = opts?.abortSignal?.aborted === true;
      reject(new ChatError(aborted ? `Slack ${method} was cancelled` : `Slack ${method} timed out`, { retryable: true }));
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  expired.catch(() => {});
  return {
    signal,
    expired,
    done: () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    },
  };
}

export function createSlackCaller(token: string, opts: WebOptions): SlackCaller {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const maxWaitMs = opts.maxRateLimitWaitMs ?? 5_000;
  const maxRetries = opts.maxRateLimitRetries ?? 2;
  const client = new WebClient(token, webClientOptions(opts));
  // As the WebClient reads slackApiUrl: the method is appended to it, after a slash.
  const apiBase = (opts.apiUrl ?? DEFAULT_SLACK_API_URL).replace(/\/?$/, '/');

  /** One JSON call, answered as the WebClient would answer it (see JSON_METHODS). */
  async function postJson<T>(method: string, args: SlackArgs, signal: AbortSignal): Promise<T> {
    const url = new URL(`${apiBase}${method}`);
    const body = Buffer.from(JSON.stringify(args));
    const headers = { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${token}`, accept: 'application/json' };
    for (let attempt = 0; ; attempt++) {
      let answer: PlainAnswer;
      try {
        answer = await keepAlive().request(url, { method: 'POST', headers, body, signal, refuseRedirects: true });
      } catch (err) {
        if (signal.aborted) throw err;
        if (attempt < RETRIES) {
          await sleep(retryDelayMs(attempt), signal);
          continue;
        }
        throw new WebAPIRequestError(err instanceof Error ? err : new Error(String(err)));
      }
      if (answer.status === 429) {
        const seconds = Number.parseInt(String(answer.headers['retry-after'] ?? ''), 10);
        if (Number.isFinite(seconds)) throw new WebAPIRateLimitedError(seconds);
      }
      if (answer.status >= 500 && attempt < RETRIES) {
        await sleep(retryDelayMs(attempt), signal);
        continue;
      }
      const text = answer.body.toString('utf8');
      if (answer.status !== 200) throw new WebAPIHTTPError(answer.status, answer.statusText, headerRecord(answer), text);
      let result: WebAPICallResult;
      try {
        result = JSON.parse(text) as WebAPICallResult;
      } catch (err) {
        throw new WebAPIRequestError(new Error(`Slack answered ${method} with something other than JSON`, { cause: err }));
      }
      if (!result.ok) throw new WebAPIPlatformError(result as WebAPICallResult & { error: string });
      for (const warning of result.response_metadata?.warnings ?? []) opts.logger.warn(`Slack ${method}: ${warning}`);
      return result as T;
    }
  }

  async function withRateLimit<T>(method: string, attempt: (signal: AbortSignal) => Promise<T>, callOpts: CallOptions | undefined): Promise<T> {
    const deadline = deadlineFor(method, callOpts, timeoutMs);
    try {
      for (let tries = 0; ; tries++) {
        try {
          return await Promise.race([attempt(deadline.signal), deadline.expired]);
        } catch (err) {
          const waitMs = err instanceof WebAPIRateLimitedError ? err.retryAfter * 1000 : null;
          if (waitMs !== null || (err instanceof WebAPIHTTPError && err.statusCode === 429)) opts.observer?.chatRateLimited('slack');
          if (waitMs === null || waitMs > maxWaitMs || tries >= maxRetries) {
            const failure = toChatError(method, err);
            opts.observer?.chatFailed('slack', failure.retryable);
            throw failure;
          }
          await Promise.race([sleep(waitMs, deadline.signal), deadline.expired]);
        }
      }
    } finally {
      deadline.done();
    }
  }

  return {
    client,
    call<T extends WebAPICallResult>(method: string, args: SlackArgs, callOpts?: CallOptions): Promise<T> {
      if (JSON_METHODS.has(method)) return withRateLimit(method, (signal) => postJson<T>(method, args, signal), callOpts);
      return withRateLimit(method, () => client.apiCall(method, args) as Promise<T>, callOpts);
    },
    async uploadFile(args, callOpts): Promise<void> {
      await withRateLimit(
        'files.uploadV2',
        () =>
          client.filesUploadV2({
            channel_id: args.channelId,
            filename: args.filename,
            title: args.title,
            content: args.content,
            ...(args.initialComment ? { initial_comment: args.initialComment } : {}),
          }),
        callOpts,
      );
    },
  };
}
