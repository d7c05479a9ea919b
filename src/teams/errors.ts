// Bot Connector failures as the app's ChatError. Only the status, Azure-style error code and the
// operation name reach the error, and the original is not kept as `cause`: connector errors carry
// the request (with its bearer token) and the response body, and neither may reach a log line.
import { ChatError } from '../core/errors';

const RETRYABLE_STATUS = new Set([408, 412, 429, 500, 502, 503, 504]);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ESOCKETTIMEDOUT', 'UND_ERR_SOCKET', 'REQUEST_SEND_ERROR']);

interface ErrorLike {
  name?: string;
  code?: string;
  statusCode?: number;
  status?: number;
  response?: { status?: number; headers?: { get?(name: string): string | undefined; [k: string]: unknown } };
  details?: { error?: { code?: string } };
  body?: { error?: { code?: string } };
}

/** A ChatError that also says what the connector answered, so callers can tell "not installed" from "down". */
export class TeamsChatError extends ChatError {
  readonly status: number | undefined;
  /** `ConversationNotFound`, `BotNotInConversationRoster`, `Forbidden`… */
  readonly connectorCode: string | undefined;
  constructor(message: string, details: { retryable: boolean; retryAfterMs?: number; status?: number; connectorCode?: string }) {
    super(message, { retryable: details.retryable, ...(details.retryAfterMs !== undefined ? { retryAfterMs: details.retryAfterMs } : {}) });
    this.name = 'TeamsChatError';
    this.status = details.status;
    this.connectorCode = details.connectorCode;
  }
}

/** Milliseconds from a Retry-After header: delta seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined | null, now: Date = new Date()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}

function headerOf(err: ErrorLike, name: string): string | undefined {
  const headers = err.response?.headers;
  if (!headers) return undefined;
  if (typeof headers.get === 'function') return headers.get(name) ?? undefined;
  const raw = headers[name] ?? headers[name.toLowerCase()];
  return typeof raw === 'string' ? raw : undefined;
}

export function statusOf(err: unknown): number | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as ErrorLike;
  return e.statusCode ?? e.status ?? e.response?.status;
}

/** The connector's error code (`ConversationNotFound`, `BotNotInConversationRoster`…), when it sent one. */
export function connectorCodeOf(err: unknown): string | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as ErrorLike;
  return e.details?.error?.code ?? e.body?.error?.code;
}

/** Wrap any failure of a Bot Connector call; a ChatError passes through unchanged. */
export function toChatError(err: unknown, operation: string, now: Date = new Date()): ChatError {
  if (err instanceof ChatError) return err;
  const e = (err && typeof err === 'object' ? err : {}) as ErrorLike;
  const status = statusOf(err);
  const code = connectorCodeOf(err);
  const network = status === undefined && ((e.code !== undefined && NETWORK_CODES.has(e.code)) || e.name === 'AbortError' || e.name === 'TimeoutError');
  const retryable = network || (status !== undefined && (RETRYABLE_STATUS.has(status) || status >= 500));
  const what = status !== undefined ? `HTTP ${status}${code ? ` ${code}` : ''}` : network ? `network error${e.code ? ` ${e.code}` : ''}` : 'unexpected error';
  const retryAfterMs = parseRetryAfter(headerOf(e, 'retry-after'), now);
  return new TeamsChatError(`Teams ${operation} failed: ${what}`, {
    retryable,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    ...(status !== undefined ? { status } : {}),
    ...(code ? { connectorCode: code } : {}),
  });
}
