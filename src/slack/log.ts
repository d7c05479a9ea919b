// Logging for the Slack adapter: the app's pino-like logger, a bridge Bolt and its SDKs can log
// through, and the fields of an error that are safe to write down.
import { LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import { WebAPIHTTPError, WebAPIPlatformError, WebAPIRateLimitedError } from '@slack/web-api';

/** The slice of pino the adapter uses (the app's Logger satisfies it). */
export interface LoggerLike {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

// Slack tokens (`xoxb-…`, `xapp-…`) and signatures must never reach a log line, even when a library
// puts one into an error message.
const SECRET = /\b(?:xox[abposr]|xapp)-[A-Za-z0-9-]+|v0=[0-9a-f]{64}/g;

export function scrub(text: string): string {
  return text.replace(SECRET, '[redacted]');
}

/** Class, Slack error code, HTTP status and message of an error: never a body, header or token. */
export function slackErrorFields(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { err: { message: scrub(String(err)) } };
  const fields: Record<string, unknown> = { type: err.name, message: scrub(err.message) };
  const coded = err as Error & { code?: unknown };
  if (typeof coded.code === 'string') fields.code = coded.code;
  if (err instanceof WebAPIPlatformError) fields.slackError = err.data.error;
  if (err instanceof WebAPIHTTPError) fields.status = err.statusCode;
  if (err instanceof WebAPIRateLimitedError) fields.retryAfterSec = err.retryAfter;
  return { err: fields };
}

function lineOf(args: unknown[]): string {
  return scrub(
    args
      .map((a) => (typeof a === 'string' ? a : a instanceof Error ? `${a.name}: ${a.message}` : ''))
      .filter((s) => s !== '')
      .join(' '),
  );
}

/**
 * Bolt, the WebClient and the Socket Mode client log through this. Their debug lines carry whole
 * request and response bodies (and Socket Mode frames), so debug output from them is dropped; the
 * rest keeps only strings and error messages, scrubbed of tokens.
 */
export function createBoltLogger(logger: LoggerLike, name = 'slack'): BoltLogger {
  let level: LogLevel = LogLevel.INFO;
  let component = name;
  return {
    debug() {},
    info: (...args: unknown[]) => logger.info({ component }, lineOf(args)),
    warn: (...args: unknown[]) => logger.warn({ component }, lineOf(args)),
    error: (...args: unknown[]) => logger.error({ component }, lineOf(args)),
    setLevel(l: LogLevel) {
      level = l;
    },
    getLevel: () => level,
    setName(n: string) {
      component = n;
    },
  };
}
