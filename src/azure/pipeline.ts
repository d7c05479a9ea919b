// Pipeline pieces shared by the Security and Compute clients: the loopback redirect for local mode
// and tests, a static credential for it, and a retry budget that turns "Azure says wait longer than
// we have" into an immediate answer instead of a wait that ends in a timeout.
import { randomUUID } from 'node:crypto';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy, PipelineResponse } from '@azure/core-rest-pipeline';

/**
 * Sends every attempt to `target` while the client still believes it talks to
 * https://management.azure.com. It runs per retry, after the bearer policy, which refuses to put a
 * token on a plain-http URL: the same trick as the Azure SDK's own test recorder (notes §2.9 A).
 */
export function redirectPolicy(target: string): PipelinePolicy {
  const to = new URL(target);
  return {
    name: 'jitbotRedirect',
    sendRequest(request, next) {
      const url = new URL(request.url);
      // Like a reverse proxy: the simulator builds absolute nextLinks from these, so the pager's
      // next request is again https (the bearer policy's condition) and comes back through here.
      // Retries reuse the already redirected request, so the first attempt's values are kept.
      if (!request.headers.has('x-forwarded-host')) {
        request.headers.set('x-forwarded-host', url.host);
        request.headers.set('x-forwarded-proto', url.protocol.replace(':', ''));
      }
      url.protocol = to.protocol;
      url.host = to.host;
      request.url = url.toString();
      request.allowInsecureConnection = to.protocol === 'http:';
      return next(request);
    },
  };
}

/** The simulator checks that a bearer token is present, never what it says. */
export const simulatorCredential: TokenCredential = {
  async getToken(): Promise<AccessToken> {
    return { token: 'jitbot-local-simulator', expiresOnTimestamp: Date.now() + 3_600_000 };
  },
};

export const CORRELATION_HEADER = 'x-ms-correlation-request-id';

/** The last answer Azure gave within one call, for the error we report when time runs out. */
export interface LastAnswer {
  status: number;
  retryAfterMs?: number;
}

/** Thrown inside the pipeline when Azure asks for a wait that would outlast the call's deadline. */
export class RetryBudgetExceededError extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterMs: number,
  ) {
    super(`Azure asked to retry after ${retryAfterMs} ms, beyond the call's deadline`);
    this.name = 'RetryBudgetExceededError';
  }
}

interface Budget {
  deadlineMs: number;
  last?: LastAnswer;
}

/** Reads Retry-After in its three spellings (milliseconds first, then seconds or an HTTP date). */
export function retryAfterMsOf(response: Pick<PipelineResponse, 'headers'> | undefined): number | undefined {
  if (!response) return undefined;
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const value = response.headers.get(name);
    if (value !== undefined && value.trim() !== '' && Number.isFinite(Number(value))) return Math.max(0, Number(value));
  }
  const value = response.headers.get('retry-after');
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+(?:\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * One budget per bot-level call, keyed by the correlation id every HTTP request of that call
 * carries (ARM's header for "these requests belong together").
 */
export class CallBudgets {
  private readonly budgets = new Map<string, Budget>();

  readonly policy: PipelinePolicy = {
    name: 'jitbotRetryBudget',
    sendRequest: async (request, next) => {
      const id = request.headers.get(CORRELATION_HEADER);
      const budget = id === undefined ? undefined : this.budgets.get(id);
      const response = await next(request);
      if (budget) {
        const retryAfterMs = retryAfterMsOf(response);
        budget.last = { status: response.status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
        const throttled = response.status === 429 || response.status === 503;
        if (throttled && retryAfterMs !== undefined && Date.now() + retryAfterMs > budget.deadlineMs) {
          throw new RetryBudgetExceededError(response.status, retryAfterMs);
        }
      }
      return response;
    },
  };

  begin(timeoutInMs: number): { correlationId: string; last(): LastAnswer | undefined; end(): void } {
    const correlationId = randomUUID();
    const budget: Budget = { deadlineMs: Date.now() + timeoutInMs };
    this.budgets.set(correlationId, budget);
    return {
      correlationId,
      last: () => budget.last,
      end: () => void this.budgets.delete(correlationId),
    };
  }
}

/** Rejects as soon as the signal aborts, even if the work itself ignores the signal. */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(abortError());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      work.catch(() => undefined);
      reject(abortError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function abortError(): Error {
  const err = new Error('The operation was aborted.');
  err.name = 'AbortError';
  return err;
}

/**
 * Azure's initiate takes several sources per port in `allowedSourceAddressPrefixes`, as its request
 * history shows them, but the SDK's initiate model knows only the singular field and drops anything
 * else. initiateBody writes several prefixes into the singular field joined with commas (a comma is
 * never part of a prefix); here, on the wire, they move to the plural field, and one stays singular.
 */
export const sourcesPolicy: PipelinePolicy = {
  name: 'jitbotInitiateSources',
  sendRequest(request, next) {
    if (request.method === 'POST' && /\/jitNetworkAccessPolicies\/[^/]+\/initiate$/i.test(new URL(request.url).pathname) && typeof request.body === 'string') {
      const body = JSON.parse(request.body) as { virtualMachines?: Array<{ ports?: Array<Record<string, unknown>> }> };
      let changed = false;
      for (const vm of body.virtualMachines ?? []) {
        for (const port of vm.ports ?? []) {
          const single = port.allowedSourceAddressPrefix;
          if (typeof single === 'string' && single.includes(',')) {
            delete port.allowedSourceAddressPrefix;
            port.allowedSourceAddressPrefixes = single.split(',');
            changed = true;
          }
        }
      }
      if (changed) request.body = JSON.stringify(body);
    }
    return next(request);
  },
};
