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
import { keepAliveFetch } from './keepalive-fetch';

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

let sharedFetch: typeof fetch | null = null;

/**
 * The process's fetch for Slack, with a default deadline for callers (Bolt's `respond`) that pass no
 * signal of their own. One pool of kept-alive connections for every client (see keepalive-fetch.ts).
 */
export function timedFetch(timeoutMs: number): typeof fetch {
  const send = (sharedFetch ??= keepAliveFetch());
  return (input, init) => send(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(timeoutMs) });
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

  async function withRateLimit<T>(method: string, attempt: () => Promise<T>, callOpts: CallOptions | undefined): Promise<T> {
    const deadline = deadlineFor(method, callOpts, timeoutMs);
    try {
      for (let tries = 0; ; tries++) {
        try {
          return await Promise.race([attempt(), deadline.expired]);
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
