// A loopback Microsoft Graph (v1.0) for the directory reads the bot makes, in Graph's wire format:
// `/users/{id | userPrincipalName}`, `/users?$filter=mail eq '…'`, a user's transitive group
// memberships and a group's transitive user members, with `$select`, `$top` (at most 999, and never
// more than the fake's own page size), `@odata.nextLink` paging, `{ error: { code, message } }` bodies,
// 401 for a token minted for another audience, 403 `Authorization_RequestDenied` while consent is
// missing, 429 with Retry-After when told to throttle, and 503 when told Graph is down.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AccessToken, TokenCredential } from '@azure/core-auth';

export interface FakeGraphUser {
  id: string;
  userPrincipalName: string;
  mail?: string | null;
  displayName: string;
}

export interface FakeGraphGroup {
  id: string;
  displayName: string;
  /** Object ids of users and of nested groups. */
  members: string[];
}

export interface GraphCall {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
}

const MAX_TOP = 999;
const DEFAULT_TOP = 100;

export class FakeGraph {
  readonly calls: GraphCall[] = [];
  /** Scopes the bot asked the credential for, in order. */
  readonly scopesAsked: string[] = [];
  readonly users = new Map<string, FakeGraphUser>();
  readonly groups = new Map<string, FakeGraphGroup>();
  /** Graph returns at most this many objects a page, whatever `$top` says. */
  pageSize = DEFAULT_TOP;
  /** Consent for the application permissions; without it every read is 403. */
  consented = true;
  /** While true, every call answers 503 (Graph down). */
  down = false;
  /** While true, every call hangs until the client gives up (Graph unreachable). */
  hanging = false;
  private throttle: { times: number; retryAfterSeconds: number } | null = null;
  private server: Server | undefined;
  private base = '';
  private seq = 0;

  static async start(opts: { pageSize?: number } = {}): Promise<FakeGraph> {
    const fake = new FakeGraph();
    if (opts.pageSize) fake.pageSize = opts.pageSize;
    await fake.listen();
    return fake;
  }

  /** What JITBOT_GRAPH_URL is set to. */
  get url(): string {
    return this.base;
  }

  /** The token scope that Graph at this address accepts. */
  get scope(): string {
    return `${this.base}/.default`;
  }

  /**
   * The bot's identity, as @azure/identity would hand it out: a token whose audience is the scope
   * asked for. The fake accepts only tokens minted for its own address.
   */
  readonly credential: TokenCredential = {
    getToken: async (scopes: string | string[]): Promise<AccessToken> => {
      const scope = Array.isArray(scopes) ? scopes[0] : scopes;
      this.scopesAsked.push(scope);
      return { token: `fake-graph-token|${scope}`, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };

  addUser(u: FakeGraphUser): FakeGraphUser {
    this.users.set(u.id, u);
    return u;
  }

  addGroup(g: FakeGraphGroup): FakeGraphGroup {
    this.groups.set(g.id, g);
    return g;
  }

  /** A user with a made-up object id. */
  user(email: string, displayName: string): FakeGraphUser {
    this.seq += 1;
    return this.addUser({ id: `00000000-0000-4000-8000-${String(this.seq).padStart(12, '0')}`, userPrincipalName: email, mail: email, displayName });
  }

  removeMember(groupId: string, memberId: string): void {
    const g = this.groups.get(groupId);
    if (g) g.members = g.members.filter((m) => m !== memberId);
  }

  /** The next `times` calls answer 429 with this Retry-After. */
  throttleNext(times: number, retryAfterSeconds: number): void {
    this.throttle = { times, retryAfterSeconds };
  }

  /** Resolves once `check` holds (a background read has arrived), polling the records. */
  async waitFor(check: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  callsTo(fragment: string): GraphCall[] {
    return this.calls.filter((c) => c.path.includes(fragment));
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async listen(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8', 'request-id': `req-${++this.seq}`, ...headers });
    res.end(JSON.stringify(body));
  }

  private error(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
    this.send(res, status, { error: { code, message, innerError: { date: new Date().toISOString().slice(0, 19), 'request-id': `req-${this.seq}` } } }, headers);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.base);
    const call: GraphCall = { method: req.method ?? 'GET', path: decodeURIComponent(url.pathname), query: url.searchParams, authorization: req.headers.authorization };
    this.calls.push(call);
    if (this.hanging) return; // never answers; the client's deadline ends it
    // A token names its audience after `|`: only tokens minted for this Graph's own address pass.
    if (!/^Bearer [\w.-]+\|/.test(call.authorization ?? '') || call.authorization!.slice(call.authorization!.indexOf('|') + 1) !== this.scope) {
      return this.error(res, 401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
    }
    if (this.down) return this.error(res, 503, 'serviceNotAvailable', 'Service unavailable.', { 'retry-after': '1' });
    if (this.throttle && this.throttle.times > 0) {
      this.throttle.times -= 1;
      return this.error(res, 429, 'TooManyRequests', 'Too many requests from this application. Please try again later.', { 'retry-after': String(this.throttle.retryAfterSeconds) });
    }
    if (!this.consented) return this.error(res, 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
    if (call.method !== 'GET') return this.error(res, 405, 'Request_BadRequest', 'Only reads are served here.');

    const parts = call.path.replace(/^\/v1\.0\//, '').split('/').filter(Boolean);
    const top = url.searchParams.get('$top');
    if (top !== null && (!/^\d+$/.test(top) || Number(top) < 1 || Number(top) > MAX_TOP)) {
      return this.error(res, 400, 'Request_BadRequest', `Invalid page size specified: '${top}'. Must be between 1 and ${MAX_TOP} inclusive.`);
    }
    const select = (url.searchParams.get('$select') ?? '').split(',').map((s) => s.trim()).filter(Boolean);

    if (parts[0] === 'users' && parts.length === 1) {
      const filter = /^mail eq '((?:[^']|'')*)'$/.exec(url.searchParams.get('$filter') ?? '');
      if (!filter) return this.error(res, 400, 'Request_UnsupportedQuery', 'Unsupported query.');
      const mail = filter[1].replace(/''/g, "'").toLowerCase();
      const found = [...this.users.values()].filter((u) => (u.mail ?? '').toLowerCase() === mail);
      return this.send(res, 200, { '@odata.context': `${this.base}/v1.0/$metadata#users`, value: found.map((u) => this.shape(u, 'user', select)) });
    }
    if (parts[0] === 'users' && parts.length === 2) {
      const user = this.findUser(parts[1]);
      if (!user) return this.error(res, 404, 'Request_ResourceNotFound', `Resource '${parts[1]}' does not exist or one of its queried reference-property objects are not present.`);
      const { '@odata.type': _type, ...entity } = this.shape(user, 'user', select);
      return this.send(res, 200, { '@odata.context': `${this.base}/v1.0/$metadata#users/$entity`, ...entity });
    }
    if (parts[0] === 'users' && parts[2] === 'transitiveMemberOf' && parts[3] === 'microsoft.graph.group') {
      const user = this.findUser(parts[1]);
      if (!user) return this.error(res, 404, 'Request_ResourceNotFound', `Resource '${parts[1]}' does not exist or one of its queried reference-property objects are not present.`);
      const groups = this.groupsOf(user.id).map((g) => this.shape(g, 'group', select));
      return this.page(res, url, groups, top);
    }
    if (parts[0] === 'groups' && parts[2] === 'transitiveMembers' && parts[3] === 'microsoft.graph.user') {
      const group = this.groups.get(parts[1]);
      if (!group) return this.error(res, 404, 'Request_ResourceNotFound', `Resource '${parts[1]}' does not exist or one of its queried reference-property objects are not present.`);
      const users = this.usersIn(group).map((u) => this.shape(u, 'user', select));
      return this.page(res, url, users, top);
    }
    return this.error(res, 400, 'BadRequest', `Resource not found for the segment '${parts[parts.length - 1] ?? ''}'.`);
  }

  /** One page from `$skiptoken` (here an offset, opaque to the client), with the link to the next. */
  private page(res: ServerResponse, url: URL, items: unknown[], top: string | null): void {
    const size = Math.min(top === null ? DEFAULT_TOP : Number(top), this.pageSize);
    const skip = Number(url.searchParams.get('$skiptoken') ?? '0') || 0;
    const slice = items.slice(skip, skip + size);
    const body: Record<string, unknown> = { '@odata.context': `${this.base}/v1.0/$metadata#directoryObjects`, value: slice };
    if (skip + size < items.length) {
      const next = new URL(url.toString());
      next.searchParams.set('$skiptoken', String(skip + size));
      body['@odata.nextLink'] = next.toString();
    }
    this.send(res, 200, body);
  }

  private findUser(key: string): FakeGraphUser | undefined {
    const k = key.toLowerCase();
    return this.users.get(key) ?? [...this.users.values()].find((u) => u.userPrincipalName.toLowerCase() === k);
  }

  /** Groups the object is in, directly or through nested groups. */
  private groupsOf(objectId: string, seen = new Set<string>()): FakeGraphGroup[] {
    const out: FakeGraphGroup[] = [];
    for (const g of this.groups.values()) {
      if (seen.has(g.id) || !g.members.includes(objectId)) continue;
      seen.add(g.id);
      out.push(g, ...this.groupsOf(g.id, seen));
    }
    return out;
  }

  private usersIn(group: FakeGraphGroup, seen = new Set<string>()): FakeGraphUser[] {
    seen.add(group.id);
    const out: FakeGraphUser[] = [];
    for (const id of group.members) {
      const user = this.users.get(id);
      if (user && !out.includes(user)) out.push(user);
      const nested = this.groups.get(id);
      if (nested && !seen.has(nested.id)) out.push(...this.usersIn(nested, seen).filter((u) => !out.includes(u)));
    }
    return out;
  }

  /** The object as Graph returns it: `@odata.type` on directory objects, and only the `$select`ed properties. */
  private shape(obj: FakeGraphUser | FakeGraphGroup, type: 'user' | 'group', select: string[]): Record<string, unknown> {
    const full: Record<string, unknown> =
      type === 'user'
        ? { id: obj.id, displayName: obj.displayName, userPrincipalName: (obj as FakeGraphUser).userPrincipalName, mail: (obj as FakeGraphUser).mail ?? null, jobTitle: null }
        : { id: obj.id, displayName: obj.displayName, securityEnabled: true, mailEnabled: false, description: null };
    const picked = select.length ? Object.fromEntries(select.map((k) => [k, full[k] ?? null])) : full;
    return { '@odata.type': `#microsoft.graph.${type}`, ...picked };
  }
}
