// A loopback Slack Web API: answers the methods the bot uses the way Slack does, records every call
// with its decoded arguments, and can be told to fail (ok:false, 429 with Retry-After, 500).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { messageRefusal, viewRefusal } from './slack-limits';

export interface RecordedCall {
  method: string;
  args: Record<string, unknown>;
  authorization: string | undefined;
  contentType: string | undefined;
}

export interface ResponseUrlPost {
  id: string;
  body: Record<string, unknown>;
}

export interface RecordedUpload {
  fileId: string;
  filename: string | undefined;
  content: string;
  authorization: string | undefined;
}

export interface CannedAnswer {
  status?: number;
  headers?: Record<string, string>;
  body: unknown;
}

type Override = { answer: (call: RecordedCall) => CannedAnswer | undefined; times: number };

/** A message as it stands now: posted, then changed by chat.update. */
export interface FakeMessage {
  channel: string;
  ts: string;
  threadTs: string | undefined;
  text: string;
  blocks: unknown[];
  updates: number;
}

export interface FakeUser {
  id: string;
  name: string;
  realName: string;
  email?: string;
  isBot?: boolean;
}

/** A user object as users.info and users.lookupByEmail return it; a user without an email has none in the profile. */
function slackUser(user: FakeUser): Record<string, unknown> {
  return {
    id: user.id,
    team_id: 'T0JIT',
    name: user.name,
    real_name: user.realName,
    deleted: false,
    is_bot: user.isBot ?? false,
    profile: { real_name: user.realName, display_name: user.name, ...(user.email ? { email: user.email } : {}) },
  };
}

export const FAKE_USERS: readonly FakeUser[] = [
  { id: 'U0ALICE', name: 'alice', realName: 'Alice', email: 'alice@example.com' },
  { id: 'U0BOB', name: 'bob', realName: 'Bob', email: 'Bob@Example.com' },
  { id: 'U0CAROL', name: 'carol', realName: 'Carol', email: 'carol@example.com' },
  { id: 'U0DAVE', name: 'dave', realName: 'Dave', email: 'dave@example.com' },
  // On Slack, but not a person the access rules know.
  { id: 'U0MALLORY', name: 'mallory', realName: 'Mallory', email: 'mallory@elsewhere.example' },
  // Slack hides the email (no users:read.email, or a guest).
  { id: 'U0NOMAIL', name: 'nomail', realName: 'No Mail' },
];

/** A Slack user group (`S…`), as usergroups.list describes it. */
export interface FakeUsergroup {
  id: string;
  handle: string;
  name: string;
  users: string[];
  /** Disabled groups are left out unless `include_disabled` is set, and list no users. */
  disabled?: boolean;
}

/** The bot token's scopes; a method whose scope is missing answers `missing_scope`. */
export const FAKE_BOT_SCOPES: readonly string[] = ['commands', 'chat:write', 'chat:write.public', 'users:read', 'users:read.email', 'im:write', 'files:write', 'usergroups:read'];

// Fields the WebClient sends as JSON inside a form field.
const JSON_FIELDS = new Set(['blocks', 'view', 'attachments', 'metadata', 'files']);

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function decodeForm(raw: string): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    if (JSON_FIELDS.has(k)) {
      try {
        args[k] = JSON.parse(v);
        continue;
      } catch {
        // kept as text: the test will see what was sent
      }
    }
    args[k] = v;
  }
  return args;
}

/** The first file part of a multipart body (what files.uploadV2 posts to the upload URL). */
function multipartFile(raw: Buffer, contentType: string): { filename: string | undefined; content: string } {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  const text = raw.toString('utf8');
  if (!boundary) return { filename: undefined, content: text };
  const marker = `--${boundary[1] ?? boundary[2]}`;
  for (const part of text.split(marker)) {
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd < 0) continue;
    const headers = part.slice(0, headerEnd);
    const filename = /filename="([^"]*)"/.exec(headers);
    if (!filename) continue;
    return { filename: filename[1], content: part.slice(headerEnd + 4).replace(/\r\n$/, '') };
  }
  return { filename: undefined, content: text };
}

/** Slack's limits on a response_url: five posts, within thirty minutes of the interaction. */
export const RESPONSE_URL_MAX_USES = 5;

export class FakeSlackApi {
  readonly calls: RecordedCall[] = [];
  /** Ephemeral messages exist only in the one person's client: chat.update cannot find them. */
  private readonly ephemeralTs = new Set<string>();
  private readonly expiredResponseUrls = new Set<string>();
  readonly responseUrlPosts: ResponseUrlPost[] = [];
  readonly uploads: RecordedUpload[] = [];
  readonly messages: FakeMessage[] = [];
  /** What apps.connections.open hands out (the Socket Mode fake sets it). */
  socketUrl: string | undefined;
  private readonly overrides = new Map<string, Override[]>();
  private readonly users = new Map<string, FakeUser>(FAKE_USERS.map((u) => [u.id, u]));
  readonly usergroups = new Map<string, FakeUsergroup>();
  /** What the bot token was granted; drop `usergroups:read` to see missing_scope. */
  readonly scopes = new Set<string>(FAKE_BOT_SCOPES);
  /** Workspaces on the free plan have no user groups. */
  freePlan = false;
  private seq = 0;
  private server: Server | undefined;
  private base = '';

  static async start(): Promise<FakeSlackApi> {
    const fake = new FakeSlackApi();
    await fake.listen();
    return fake;
  }

  /** `http://127.0.0.1:PORT` */
  get url(): string {
    return this.base;
  }

  /** What SLACK_API_URL is set to. */
  get apiUrl(): string {
    return `${this.base}/api/`;
  }

  responseUrl(id: string): string {
    return `${this.base}/response_url/${encodeURIComponent(id)}`;
  }

  /** The response_url's thirty minutes have passed. */
  expireResponseUrl(id: string): void {
    this.expiredResponseUrls.add(id);
  }

  addUser(user: FakeUser): void {
    this.users.set(user.id, user);
  }

  addUsergroup(group: FakeUsergroup): FakeUsergroup {
    this.usergroups.set(group.id, group);
    return group;
  }

  callsTo(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  responsesTo(id: string): Array<Record<string, unknown>> {
    return this.responseUrlPosts.filter((p) => p.id === id).map((p) => p.body);
  }

  message(channel: string, ts: string): FakeMessage | undefined {
    return this.messages.find((m) => m.channel === channel && m.ts === ts);
  }

  /** Replies in a message's thread, oldest first. */
  thread(channel: string, ts: string): FakeMessage[] {
    return this.messages.filter((m) => m.channel === channel && m.threadTs === ts);
  }

  /** Top-level messages in a channel (not thread replies), oldest first. */
  channelMessages(channel: string): FakeMessage[] {
    return this.messages.filter((m) => m.channel === channel && m.threadTs === undefined);
  }

  /** Answer `method` with this instead, for the next `times` calls (or until cleared). */
  override(method: string, answer: (call: RecordedCall) => CannedAnswer | undefined, times = Number.POSITIVE_INFINITY): void {
    const list = this.overrides.get(method) ?? [];
    list.push({ answer, times });
    this.overrides.set(method, list);
  }

  failNext(method: string, error: string, times = 1): void {
    this.override(method, () => ({ body: { ok: false, error } }), times);
  }

  rateLimitNext(method: string, retryAfterSeconds: number, times = 1): void {
    this.override(method, () => ({ status: 429, headers: { 'retry-after': String(retryAfterSeconds) }, body: { ok: false, error: 'ratelimited' } }), times);
  }

  serverErrorNext(method: string, times = 1): void {
    this.override(method, () => ({ status: 500, body: 'upstream trouble' }), times);
  }

  clearOverrides(): void {
    this.overrides.clear();
  }

  /** Forget what was recorded, keeping users and overrides. */
  reset(): void {
    this.calls.length = 0;
    this.responseUrlPosts.length = 0;
    this.uploads.length = 0;
    this.messages.length = 0;
    this.ephemeralTs.clear();
    this.expiredResponseUrls.clear();
  }

  /** Resolves once `check` holds, polling the records; rejects with `what` after the timeout. */
  async waitFor<T>(check: () => T | undefined | false | null, what: string, timeoutMs = 3_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = check();
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private nextTs(): string {
    this.seq += 1;
    return `1700000000.${String(this.seq).padStart(6, '0')}`;
  }

  private async listen(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake failed: ${err instanceof Error ? err.message : String(err)}`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  private send(res: ServerResponse, answer: CannedAnswer): void {
    const isText = typeof answer.body === 'string';
    res.writeHead(answer.status ?? 200, { 'content-type': isText ? 'text/plain' : 'application/json; charset=utf-8', ...answer.headers });
    res.end(isText ? (answer.body as string) : JSON.stringify(answer.body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    const contentType = req.headers['content-type'];
    const authorization = req.headers.authorization;

    if (req.method === 'POST' && path.startsWith('/response_url/')) {
      const id = decodeURIComponent(path.slice('/response_url/'.length));
      // Slack answers a spent or lapsed response_url with 404 and a word, and shows nothing.
      if (this.expiredResponseUrls.has(id)) return this.send(res, { status: 404, body: 'expired_url' });
      if (this.responseUrlPosts.filter((p) => p.id === id).length >= RESPONSE_URL_MAX_USES) return this.send(res, { status: 404, body: 'used_url' });
      this.responseUrlPosts.push({ id, body: JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown> });
      this.send(res, { body: 'ok' });
      return;
    }
    if (req.method === 'POST' && path.startsWith('/upload/')) {
      const fileId = path.slice('/upload/'.length);
      const file = multipartFile(raw, contentType ?? '');
      this.uploads.push({ fileId, filename: file.filename, content: file.content, authorization });
      this.send(res, { body: `OK - ${raw.length}` });
      return;
    }
    if (req.method !== 'POST' || !path.startsWith('/api/')) {
      this.send(res, { status: 404, body: 'not found' });
      return;
    }

    const method = path.slice('/api/'.length);
    const text = raw.toString('utf8');
    const args = contentType?.startsWith('application/json') ? (JSON.parse(text || '{}') as Record<string, unknown>) : decodeForm(text);
    const call: RecordedCall = { method, args, authorization, contentType };
    this.calls.push(call);
    // Slack reads a JSON body only with the token in the Authorization header.
    if (contentType?.startsWith('application/json') && !/^Bearer \S+$/.test(authorization ?? '')) {
      this.send(res, { body: { ok: false, error: 'not_authed' } });
      return;
    }

    const overrides = this.overrides.get(method) ?? [];
    for (const o of overrides) {
      if (o.times <= 0) continue;
      const answer = o.answer(call);
      if (answer) {
        o.times -= 1;
        this.send(res, answer);
        return;
      }
    }
    this.send(res, { body: this.answer(call) });
  }

  /** Slack's `missing_scope` answer, which names the scope needed and those granted. */
  private scopeRefusal(needed: string): unknown {
    return this.scopes.has(needed) ? null : { ok: false, error: 'missing_scope', needed, provided: [...this.scopes].join(',') };
  }

  private usergroupJson(g: FakeUsergroup, withUsers: boolean, withCount: boolean): Record<string, unknown> {
    return {
      id: g.id,
      team_id: 'T0JIT',
      is_usergroup: true,
      is_subteam: true,
      name: g.name,
      description: '',
      handle: g.handle,
      is_external: false,
      date_create: 1_700_000_000,
      date_update: 1_700_000_000,
      date_delete: g.disabled ? 1_700_000_100 : 0,
      auto_type: null,
      created_by: 'U0CAROL',
      updated_by: 'U0CAROL',
      deleted_by: null,
      prefs: { channels: [], groups: [] },
      ...(withUsers ? { users: g.disabled ? [] : [...g.users] } : {}),
      ...(withCount ? { user_count: g.disabled ? 0 : g.users.length } : {}),
    };
  }

  private answer(call: RecordedCall): unknown {
    const a = call.args;
    const flag = (v: unknown) => v === true || v === 'true' || v === '1' || v === 1;
    switch (call.method) {
      case 'usergroups.list': {
        const refused = this.scopeRefusal('usergroups:read');
        if (refused) return refused;
        if (this.freePlan) return { ok: false, error: 'plan_upgrade_required' };
        const groups = [...this.usergroups.values()].filter((g) => flag(a.include_disabled) || !g.disabled);
        return { ok: true, usergroups: groups.map((g) => this.usergroupJson(g, flag(a.include_users), flag(a.include_count))) };
      }
      case 'usergroups.users.list': {
        const refused = this.scopeRefusal('usergroups:read');
        if (refused) return refused;
        if (this.freePlan) return { ok: false, error: 'plan_upgrade_required' };
        if (typeof a.usergroup !== 'string' || a.usergroup === '') return { ok: false, error: 'invalid_arguments' };
        const g = this.usergroups.get(a.usergroup);
        if (!g || (g.disabled && !flag(a.include_disabled))) return { ok: false, error: 'no_such_subteam' };
        return { ok: true, users: g.disabled ? [] : [...g.users] };
      }
      case 'users.lookupByEmail': {
        const refused = this.scopeRefusal('users:read.email');
        if (refused) return refused;
        const email = String(a.email ?? '').toLowerCase();
        const user = [...this.users.values()].find((u) => u.email?.toLowerCase() === email);
        if (!user) return { ok: false, error: 'users_not_found' };
        return { ok: true, user: { id: user.id, team_id: 'T0JIT', name: user.name, real_name: user.realName, deleted: false, is_bot: user.isBot ?? false, profile: { real_name: user.realName, email: user.email } } };
      }
      case 'auth.test':
        return { ok: true, url: 'https://jitbot-test.slack.com/', team: 'JIT Test', user: 'jitbot', team_id: 'T0JIT', user_id: 'U0BOT', bot_id: 'B0BOT' };
      case 'users.info': {
        const user = this.users.get(String(a.user));
        if (!user) return { ok: false, error: 'user_not_found' };
        return { ok: true, user: slackUser(user) };
      }
      case 'users.lookupByEmail': {
        // Slack matches the address without case, and answers users_not_found for anyone else.
        const email = String(a.email ?? '').toLowerCase();
        if (email === '') return { ok: false, error: 'invalid_arguments' };
        const user = [...this.users.values()].find((u) => u.email?.toLowerCase() === email);
        if (!user) return { ok: false, error: 'users_not_found' };
        return { ok: true, user: slackUser(user) };
      }
      case 'chat.postMessage': {
        const refused = messageRefusal(a);
        if (refused) return refused;
        const requested = String(a.channel ?? '');
        if (requested === '') return { ok: false, error: 'channel_not_found' };
        // Posting to a user id lands in the bot's DM with them, which has its own D… id.
        const channel = /^[UW]/.test(requested) ? `D${requested.slice(1)}` : requested;
        const ts = this.nextTs();
        const threadTs = typeof a.thread_ts === 'string' ? a.thread_ts : undefined;
        this.messages.push({ channel, ts, threadTs, text: String(a.text ?? ''), blocks: (a.blocks as unknown[]) ?? [], updates: 0 });
        return { ok: true, channel, ts, message: { type: 'message', text: a.text, ts, bot_id: 'B0BOT' } };
      }
      case 'chat.update': {
        const refused = messageRefusal(a);
        if (refused) return refused;
        if (this.ephemeralTs.has(String(a.ts))) return { ok: false, error: 'cant_update_message' };
        const message = this.message(String(a.channel), String(a.ts));
        if (!message) return { ok: false, error: 'message_not_found' };
        message.text = String(a.text ?? '');
        message.blocks = (a.blocks as unknown[]) ?? [];
        message.updates += 1;
        return { ok: true, channel: message.channel, ts: message.ts, text: message.text };
      }
      case 'chat.postEphemeral': {
        if (messageRefusal(a)) return messageRefusal(a);
        const ts = this.nextTs();
        this.ephemeralTs.add(ts);
        return { ok: true, message_ts: ts };
      }
      case 'conversations.open':
        return { ok: true, channel: { id: `D${String(a.users ?? '').split(',')[0].slice(1)}` } };
      case 'views.open':
      case 'views.update':
      case 'views.push': {
        if (viewRefusal(a.view)) return viewRefusal(a.view);
        const id = typeof a.view_id === 'string' ? a.view_id : `V${this.nextTs().replace('.', '')}`;
        return { ok: true, view: { ...(a.view as object), id, hash: `h${this.nextTs()}` } };
      }
      case 'views.publish':
        if (viewRefusal(a.view)) return viewRefusal(a.view);
        return { ok: true, view: { ...(a.view as object), id: `V${this.nextTs().replace('.', '')}`, hash: `h${this.nextTs()}` } };
      case 'files.getUploadURLExternal': {
        const fileId = `F${this.nextTs().replace('.', '')}`;
        return { ok: true, upload_url: `${this.base}/upload/${fileId}`, file_id: fileId };
      }
      case 'files.completeUploadExternal': {
        const files = (a.files as Array<{ id: string; title?: string }>) ?? [];
        return { ok: true, files: files.map((f) => ({ id: f.id, title: f.title, name: f.title })) };
      }
      case 'apps.connections.open':
        return this.socketUrl ? { ok: true, url: this.socketUrl } : { ok: false, error: 'not_allowed_token_type' };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }
}
