// Everything that can go wrong on the way to Azure, as a CloudError whose message a chat user or the
// admin can act on. Messages are composed here; Azure's own text is used only for validation
// refusals (400/409), shortened and scrubbed. Headers, bodies and tokens never reach a message.
import { isRestError, type RestError } from '@azure/core-rest-pipeline';
import { CloudError } from '../core/errors';
import { RetryBudgetExceededError, retryAfterMsOf, type LastAnswer } from './pipeline';

export type AzureAction = 'list' | 'read' | 'initiate' | 'write';

export interface ErrorContext {
  action: AzureAction;
  /** Words naming what the call was about: `web-01`, `rg-web (westeurope)`, `the subscription`. */
  scope: string;
}

export interface AbortFacts {
  callerAborted: boolean;
  timedOut: boolean;
  timeoutInMs: number;
  last?: LastAnswer;
}

const ROLE_HINT: Record<AzureAction, string> = {
  list:
    'It needs Microsoft.Compute/virtualMachines/read and Microsoft.Security/locations/jitNetworkAccessPolicies/read on the subscription (for example the Reader role, or the jitbot custom role in manifest/).',
  read: 'It needs Microsoft.Security/locations/jitNetworkAccessPolicies/read (for example the Reader role, or the jitbot custom role in manifest/).',
  initiate:
    'It needs Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action and …/jitNetworkAccessPolicies/*/read on the resource group (the jitbot custom role in manifest/, or Security Admin).',
  write:
    'It needs Microsoft.Security/locations/jitNetworkAccessPolicies/write and Microsoft.Compute/virtualMachines/write (Security Admin plus Virtual Machine Contributor, or the jitbot custom role in manifest/).',
};

const DOING: Record<AzureAction, string> = {
  list: 'list the VMs and JIT policies of',
  read: 'read the JIT policy of',
  initiate: 'open JIT access on',
  write: 'change the JIT policy of',
};

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'REQUEST_SEND_ERROR']);
const CREDENTIAL_ERRORS = new Set(['CredentialUnavailableError', 'AggregateAuthenticationError', 'AuthenticationError', 'AuthenticationRequiredError']);

/**
 * Azure's validation messages carry full ARM ids (`/subscriptions/…/jitNetworkAccessPolicies/default`);
 * in chat the last segment says the same. Anything token-shaped is removed outright.
 */
export function chatSafe(text: string, maxLength = 400): string {
  let out = text
    .replace(/Bearer\s+[\w.~+/=-]+/gi, 'Bearer [redacted]')
    .replace(/eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*/g, '[redacted]')
    .replace(/\/subscriptions\/[^\s'"`,;()]+/gi, (id) => id.replace(/\/+$/, '').split('/').pop() ?? id)
    // Azure's closing boilerplate on subset refusals adds nothing the reason has not said.
    .replace(/\s*Please make sure that the access request is within the allowed policy properties\.?/gi, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (out.length > maxLength) out = `${out.slice(0, maxLength - 1)}…`;
  return out;
}

function seconds(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  return s === 1 ? '1 second' : `${s} seconds`;
}

function throttled(retryAfterMs: number | undefined, status: number, cause: unknown, azureCode?: string): CloudError {
  const when = retryAfterMs === undefined ? 'in a minute' : `in ${seconds(retryAfterMs)}`;
  return new CloudError('throttled', `Azure is throttling the bot's requests right now; try again ${when}.`, {
    status,
    ...(azureCode ? { azureCode } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    cause,
  });
}

function unavailable(status: number | undefined, cause: unknown, azureCode?: string): CloudError {
  const what = status === undefined ? 'did not answer properly' : `answered with an error (HTTP ${status})`;
  return new CloudError('unavailable', `Azure ${what}; try again in a minute.`, {
    ...(status !== undefined ? { status } : {}),
    ...(azureCode ? { azureCode } : {}),
    cause,
  });
}

function fromStatus(err: RestError, status: number, ctx: ErrorContext): CloudError {
  const azureCode = err.code && !NETWORK_CODES.has(err.code) ? err.code : undefined;
  const details = { status, ...(azureCode ? { azureCode } : {}), cause: err };
  const azureText = chatSafe(err.message ?? '');
  const codeNote = azureCode ? ` (${azureCode})` : '';
  if (status === 401) {
    return new CloudError(
      'forbidden',
      `Azure did not accept the bot's credentials (HTTP 401${codeNote}). An admin should check the bot's Azure identity (managed identity, or AZURE_TENANT_ID/AZURE_CLIENT_ID and its secret).`,
      details,
    );
  }
  if (status === 403) {
    if (azureCode === 'RequestDisallowedByPolicy') {
      return new CloudError('forbidden', `An Azure Policy assignment blocked the bot's attempt to ${DOING[ctx.action]} ${ctx.scope}: ${azureText}`, details);
    }
    return new CloudError('forbidden', `The bot's Azure identity may not ${DOING[ctx.action]} ${ctx.scope}${codeNote}. ${ROLE_HINT[ctx.action]}`, details);
  }
  if (status === 404) {
    if (azureCode === 'SubscriptionNotFound') {
      return new CloudError('not_found', "Azure does not know the bot's subscription, or the bot's identity cannot see it; an admin should check AZURE_SUBSCRIPTION_ID.", details);
    }
    if (azureCode === 'ResourceGroupNotFound') {
      return new CloudError('not_found', `The resource group of ${ctx.scope} no longer exists in Azure.`, details);
    }
    const what = ctx.action === 'list' ? ctx.scope : `the JIT policy of ${ctx.scope}`;
    return new CloudError('not_found', `Azure could not find ${what}; it may have been removed. An admin can put the VM under JIT with /jit enable.`, details);
  }
  if (status === 409) {
    if (azureCode === 'MissingSubscriptionRegistration') {
      return new CloudError(
        'conflict',
        'The Microsoft.Security resource provider is not registered on the subscription; an owner can run: az provider register --namespace Microsoft.Security',
        details,
      );
    }
    return new CloudError('conflict', `Azure refused to ${DOING[ctx.action]} ${ctx.scope} because of a conflict: ${azureText || 'no details given'}`, details);
  }
  if (status === 400 || status === 422) {
    return new CloudError('invalid', azureText ? `Azure refused the request: ${azureText}` : `Azure refused the request as invalid${codeNote}.`, details);
  }
  if (status === 429) return throttled(retryAfterMsOf(err.response), status, err, azureCode);
  if (status === 408 || status >= 500) return unavailable(status, err, azureCode);
  return new CloudError('unknown', `Azure answered HTTP ${status}${codeNote} when the bot tried to ${DOING[ctx.action]} ${ctx.scope}.`, details);
}

/** Maps anything thrown by the SDK (or our pipeline) to a CloudError. */
export function toCloudError(err: unknown, ctx: ErrorContext, abort: AbortFacts): CloudError {
  if (err instanceof CloudError) return err;
  if (err instanceof RetryBudgetExceededError) {
    return err.status === 429 ? throttled(err.retryAfterMs, err.status, err) : unavailableLater(err);
  }
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'AbortError' || abort.timedOut || abort.callerAborted) {
    if (abort.callerAborted && !abort.timedOut) {
      return new CloudError('timeout', `The call to Azure to ${DOING[ctx.action]} ${ctx.scope} was cancelled.`, { cause: err });
    }
    const last = abort.last;
    if (last?.status === 429) return throttled(last.retryAfterMs, 429, err);
    if (last && (last.status === 408 || last.status >= 500)) {
      return new CloudError('unavailable', `Azure kept failing (HTTP ${last.status}) for ${seconds(abort.timeoutInMs)}; try again in a minute.`, {
        status: last.status,
        cause: err,
      });
    }
    return new CloudError('timeout', `Azure did not answer within ${seconds(abort.timeoutInMs)}; try again in a minute.`, { cause: err });
  }
  if (typeof name === 'string' && CREDENTIAL_ERRORS.has(name)) {
    return new CloudError(
      'forbidden',
      "The bot could not get an Azure token. An admin should give it an identity: a managed identity, workload identity, or AZURE_TENANT_ID/AZURE_CLIENT_ID with a secret or certificate.",
      { cause: err },
    );
  }
  if (isRestError(err)) {
    if (typeof err.statusCode === 'number' && err.statusCode >= 400) return fromStatus(err, err.statusCode, ctx);
    if (err.code && NETWORK_CODES.has(err.code)) {
      return new CloudError('unavailable', `The bot could not reach Azure Resource Manager (${err.code}); try again in a minute.`, { cause: err });
    }
    if (typeof err.statusCode === 'number') {
      return new CloudError('unknown', `Azure answered with an unexpected HTTP ${err.statusCode} when the bot tried to ${DOING[ctx.action]} ${ctx.scope}.`, {
        status: err.statusCode,
        cause: err,
      });
    }
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) {
    return new CloudError('unavailable', `The bot could not reach Azure Resource Manager (${code}); try again in a minute.`, { cause: err });
  }
  return new CloudError('unknown', `Something unexpected went wrong while the bot tried to ${DOING[ctx.action]} ${ctx.scope}.`, { cause: err });
}

function unavailableLater(err: RetryBudgetExceededError): CloudError {
  return new CloudError('unavailable', `Azure is temporarily unavailable (HTTP ${err.status}); try again in ${seconds(err.retryAfterMs)}.`, {
    status: err.status,
    retryAfterMs: err.retryAfterMs,
    cause: err,
  });
}
