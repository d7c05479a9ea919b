// Group membership from Microsoft Entra ID, read through Microsoft Graph with the bot's own identity.
//
// Rights are checked by asking for the person's transitive memberships
// (`/users/{id}/transitiveMemberOf/microsoft.graph.group`): the cost grows with how many groups one
// person is in, not with how big the groups are, so a 5,000-member group costs the same one or two
// calls per person as a five-member one. Group members (`/groups/{id}/transitiveMembers`) are read
// only to list approvers, paged and cached by the caller.
import type { TokenCredential } from '@azure/core-auth';
import type { CallOptions, Clock, Directory, DirectoryGroupRef, DirectoryMember } from '../app/ports';
import { normalizeEmail } from '../core/email';
import { DirectoryError } from '../core/errors';

export const DEFAULT_GRAPH_URL = 'https://graph.microsoft.com';
const DEFAULT_TIMEOUT_MS = 10_000;
/** Graph's largest page for directory objects; fewer round trips than the default 100. */
const PAGE_SIZE = 999;
/** A person in more groups than this is in more than anyone configures; stop reading rather than loop. */
const MAX_PAGES = 100;

/** Local mode has no Azure identity: a fixed token naming its audience (what a loopback Graph checks). */
export const localGraphCredential: TokenCredential = {
  async getToken(scopes) {
    return { token: `jitbot-local|${Array.isArray(scopes) ? scopes[0] : scopes}`, expiresOnTimestamp: Date.now() + 3_600_000 };
  },
};

export const GRAPH_PERMISSIONS = 'User.Read.All and GroupMember.Read.All';
const LABEL = 'Microsoft Entra ID';

export interface GraphDirectoryOptions {
  /** `https://graph.microsoft.com`, or a national cloud's (`https://graph.microsoft.us`, `https://microsoftgraph.chinacloudapi.cn`). */
  baseUrl?: string;
  credential: TokenCredential;
  clock: Clock;
  /** Per call (token, every page and every retry included) unless the caller gives its own. */
  timeoutMs?: number;
  /** Tries after a 429 or 503 before giving up. */
  maxRetries?: number;
  /** The longest Retry-After waited for; Graph asking for longer is a failure now, not a stall. */
  maxRetryAfterMs?: number;
  /** Waits out Retry-After (tests record the wait instead of sleeping). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

interface GraphPage<T> {
  value?: T[];
  '@odata.nextLink'?: string;
}

interface GraphUser {
  id?: string;
  displayName?: string | null;
  mail?: string | null;
  userPrincipalName?: string | null;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Graph's error body: `{ error: { code, message } }`. */
async function graphError(res: Response): Promise<{ code: string; message: string }> {
  try {
    const body = (await res.json()) as { error?: { code?: unknown; message?: unknown } };
    return { code: typeof body.error?.code === 'string' ? body.error.code : `HTTP ${res.status}`, message: typeof body.error?.message === 'string' ? body.error.message : '' };
  } catch {
    return { code: `HTTP ${res.status}`, message: '' };
  }
}

/** Seconds (Graph's form) or an HTTP date, in milliseconds; null when absent or unreadable. */
function retryAfterMs(res: Response, now: number): number | null {
  const raw = res.headers.get('retry-after');
  if (!raw) return null;
  if (/^\d+$/.test(raw.trim())) return Number(raw.trim()) * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

class NotFound extends Error {}

export function createGraphDirectory(o: GraphDirectoryOptions): Directory {
  const base = (o.baseUrl ?? DEFAULT_GRAPH_URL).replace(/\/+$/, '');
  const origin = new URL(base).origin;
  // The token's audience follows the base URL: a national cloud's Graph accepts only its own tokens.
  const scope = `${base}/.default`;
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxRetries = o.maxRetries ?? 3;
  const maxWaitMs = o.maxRetryAfterMs ?? 5_000;
  const wait = o.sleep ?? sleep;

  async function get<T>(url: string, signal: AbortSignal): Promise<T> {
    // nextLink comes from the answer: the bearer token goes nowhere but Graph's own origin.
    if (new URL(url).origin !== origin) throw new DirectoryError('unknown', `${LABEL} sent a next-page link to another host; jitbot did not follow it`);
    for (let attempt = 0; ; attempt++) {
      const token = await o.credential.getToken(scope, { abortSignal: signal });
      if (!token) throw new DirectoryError('consent', `jitbot could not get a token for Microsoft Graph (${scope}); check the bot's Azure identity`);
      const res = await fetch(url, { headers: { authorization: `Bearer ${token.token}`, accept: 'application/json' }, signal });
      if (res.ok) return (await res.json()) as T;
      if (res.status === 404) {
        await res.body?.cancel();
        throw new NotFound();
      }
      const err = await graphError(res);
      if (res.status === 401 || res.status === 403) {
        throw new DirectoryError(
          'consent',
          `${LABEL} refused to show group membership (${res.status} ${err.code}): grant the bot's identity the Microsoft Graph application permissions ${GRAPH_PERMISSIONS}, with admin consent`,
        );
      }
      const retryable = res.status === 429 || res.status === 503 || res.status === 504;
      const after = retryAfterMs(res, Date.now()) ?? (retryable ? 500 * 2 ** attempt : null);
      if (!retryable || attempt >= maxRetries || after === null || after > maxWaitMs) {
        if (res.status === 429) throw new DirectoryError('throttled', `${LABEL} is throttling jitbot (429 ${err.code}); try again shortly`);
        if (res.status >= 500) throw new DirectoryError('unavailable', `${LABEL} did not answer (${res.status} ${err.code})`);
        throw new DirectoryError('unknown', `${LABEL} refused the lookup (${res.status} ${err.code}${err.message ? `: ${err.message}` : ''})`);
      }
      await wait(after, signal);
    }
  }

  async function all<T>(first: string, signal: AbortSignal): Promise<T[]> {
    const out: T[] = [];
    let next: string | undefined = first;
    for (let pages = 0; next && pages < MAX_PAGES; pages++) {
      const page: GraphPage<T> = await get<GraphPage<T>>(next, signal);
      out.push(...(page.value ?? []));
      next = page['@odata.nextLink'];
    }
    return out;
  }

  /** The deadline of one whole operation, and the errors a deadline or a dead network become. */
  async function run<T>(what: string, opts: CallOptions | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const timeout = AbortSignal.timeout(opts?.timeoutInMs ?? timeoutMs);
    const signal = opts?.abortSignal ? AbortSignal.any([timeout, opts.abortSignal]) : timeout;
    try {
      return await work(signal);
    } catch (err) {
      if (err instanceof DirectoryError || err instanceof NotFound) throw err;
      if (timeout.aborted) throw new DirectoryError('timeout', `${LABEL} did not answer in time (${what})`, { cause: err });
      if (opts?.abortSignal?.aborted) throw new DirectoryError('unknown', `the ${LABEL} lookup was cancelled (${what})`, { cause: err });
      throw new DirectoryError('unavailable', `${LABEL} could not be reached (${what})`, { cause: err });
    }
  }

  /** The user by UPN, or by mail when their address is not their sign-in name; null when Entra has no such user. */
  async function findUser(email: string, signal: AbortSignal): Promise<GraphUser | null> {
    try {
      return await get<GraphUser>(`${base}/v1.0/users/${encodeURIComponent(email)}?$select=id,displayName`, signal);
    } catch (err) {
      if (!(err instanceof NotFound)) throw err;
    }
    const filter = encodeURIComponent(`mail eq '${email.replace(/'/g, "''")}'`);
    const found = await get<GraphPage<GraphUser>>(`${base}/v1.0/users?$filter=${filter}&$select=id,displayName`, signal);
    return found.value?.[0] ?? null;
  }

  return {
    kind: 'entra',
    label: LABEL,

    async membership(email: string, groups: readonly DirectoryGroupRef[], opts?: CallOptions) {
      const asOf = o.clock.now();
      if (groups.length === 0) return { groupIds: [], asOf };
      return run('membership', opts, async (signal) => {
        const user = await findUser(email, signal);
        if (!user?.id) return { groupIds: [], asOf };
        let memberOf: Array<{ id?: string }>;
        try {
          memberOf = await all<{ id?: string }>(`${base}/v1.0/users/${encodeURIComponent(user.id)}/transitiveMemberOf/microsoft.graph.group?$select=id,displayName&$top=${PAGE_SIZE}`, signal);
        } catch (err) {
          if (err instanceof NotFound) return { groupIds: [], asOf };
          throw err;
        }
        const wanted = new Set(groups.map((g) => g.id.toLowerCase()));
        const groupIds = memberOf.map((g) => (g.id ?? '').toLowerCase()).filter((id) => wanted.has(id));
        return { ...(user.displayName ? { name: user.displayName } : {}), groupIds, asOf };
      });
    },

    async members(group: DirectoryGroupRef, opts?: CallOptions): Promise<DirectoryMember[]> {
      return run('members', opts, async (signal) => {
        let users: GraphUser[];
        try {
          users = await all<GraphUser>(
            `${base}/v1.0/groups/${encodeURIComponent(group.id)}/transitiveMembers/microsoft.graph.user?$select=id,displayName,mail,userPrincipalName&$top=${PAGE_SIZE}`,
            signal,
          );
        } catch (err) {
          if (err instanceof NotFound) throw new DirectoryError('unknown', `${LABEL} has no group ${group.id} (group:${group.name})`);
          throw err;
        }
        const out: DirectoryMember[] = [];
        for (const u of users) {
          const email = normalizeEmail(u.mail ?? u.userPrincipalName ?? null);
          if (email) out.push({ email, ...(u.displayName ? { name: u.displayName } : {}) });
        }
        return out;
      });
    },
  };
}
