// A loopback Bot Connector: the REST side of Teams that a bot calls at `activity.serviceUrl`
// (`/v3/conversations/...`), plus the Bot Framework token issuer (OpenID metadata and JWKS) so tests
// can mint real RS256 channel tokens, valid or forged. Records every call; ids only grow.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSign, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';

export interface ConnectorCall {
  method: string;
  /** Decoded path, e.g. `/v3/conversations/19:abc@thread.tacv2;messageid=1001/activities`. */
  path: string;
  body: any;
  /** Whether an Authorization header came (never its value: tests must not handle tokens loosely). */
  authorized: boolean;
  at: number;
}

export interface FakeResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A member as the connector answers `GET …/members/{id}`. */
export interface FakeMember {
  id: string;
  name?: string;
  email?: string;
  userPrincipalName?: string;
  /** The docs' spelling of the Entra id… */
  objectId?: string;
  /** …and the SDKs'. */
  aadObjectId?: string;
  tenantId?: string;
  userRole?: string;
  givenName?: string;
  surname?: string;
}

/** Teams refuses a message over 100 KB counted as UTF-16 (DESIGN §8; issue 14). */
export const TEAMS_MESSAGE_MAX_BYTES = 100 * 1024;

/**
 * What Teams answers to an activity it will not take: 413 when it is too large, 400 when a card
 * attachment is not an Adaptive Card at all. Null when it fits.
 */
function activityRefusal(call: ConnectorCall): FakeResponse | null {
  const sendsActivity = (call.method === 'POST' || call.method === 'PUT') && /^\/v3\/conversations(\/[^/]+\/activities(\/[^/]+)?)?$/.test(call.path);
  if (!sendsActivity || !call.body || typeof call.body !== 'object') return null;
  const activity = call.path === '/v3/conversations' ? call.body.activity : call.body;
  if (!activity) return null;
  if (JSON.stringify(activity).length * 2 > TEAMS_MESSAGE_MAX_BYTES) {
    return { status: 413, body: { error: { code: 'MessageSizeTooBig', message: 'Message size too big.' } } };
  }
  for (const a of (activity.attachments as Array<{ contentType?: string; content?: { type?: string } }> | undefined) ?? []) {
    if (a.contentType === 'application/vnd.microsoft.card.adaptive' && a.content?.type !== 'AdaptiveCard') {
      return { status: 400, body: { error: { code: 'BadArgument', message: 'Unknown attachment type.' } } };
    }
  }
  return null;
}

interface Override {
  match: (call: ConnectorCall) => boolean;
  response: FakeResponse;
  times: number;
}

export interface FakeBotConnector {
  /** The serviceUrl to stamp on activities (trailing slash, as Teams sends it). */
  readonly url: string;
  /** Where the bot should fetch the Bot Framework OpenID metadata from. */
  readonly openIdMetadataUrl: string;
  readonly issuer: string;
  readonly calls: ConnectorCall[];
  readonly members: Map<string, FakeMember>;
  /** Answer the next `times` matching calls with this instead (429 with Retry-After, 500, 403…). */
  failNext(match: Partial<Pick<ConnectorCall, 'method'>> & { pathIncludes?: string; bodyIncludes?: string }, response: FakeResponse, times?: number): void;
  /** A channel token as the Bot Framework would sign it for this app and serviceUrl. */
  mintToken(claims: { audience: string; serviceUrl?: string; expiresInSec?: number }, opts?: { forgedKey?: boolean; kid?: string }): string;
  waitFor(predicate: (c: ConnectorCall) => boolean, timeoutMs?: number): Promise<ConnectorCall>;
  callsMatching(method: string, pathIncludes: string): ConnectorCall[];
  reset(): void;
  close(): Promise<void>;
}

function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

function sign(payload: object, key: KeyObject, kid: string): string {
  const unsigned = `${b64url({ alg: 'RS256', typ: 'JWT', kid })}.${b64url(payload)}`;
  return `${unsigned}.${createSign('RSA-SHA256').update(unsigned).sign(key).toString('base64url')}`;
}

let keys: { privateKey: KeyObject; forged: KeyObject; jwk: { n: string; e: string } } | undefined;

/** RSA keys take a moment to make; one pair (and one impostor) serves every fake in the process. */
function signingKeys(): NonNullable<typeof keys> {
  if (!keys) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forged = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    keys = { privateKey, forged, jwk: publicKey.export({ format: 'jwk' }) as { n: string; e: string } };
  }
  return keys;
}

export async function startFakeBotConnector(opts: { members?: FakeMember[] } = {}): Promise<FakeBotConnector> {
  const calls: ConnectorCall[] = [];
  const members = new Map((opts.members ?? []).map((m) => [m.id, m]));
  const overrides: Override[] = [];
  const waiters: Array<{ predicate: (c: ConnectorCall) => boolean; resolve: (c: ConnectorCall) => void }> = [];
  let nextId = 1000;
  const id = (): string => String(++nextId);

  const kid = 'fake-bf-key';
  const { privateKey, forged, jwk } = signingKeys();
  const issuer = 'https://api.botframework.com';

  function answer(call: ConnectorCall): FakeResponse {
    const o = overrides.find((x) => x.times > 0 && x.match(call));
    if (o) {
      o.times -= 1;
      return o.response;
    }
    const p = call.path;
    let m: RegExpExecArray | null;
    const refused = activityRefusal(call);
    if (refused) return refused;
    if (call.method === 'GET' && p === '/openid/.well-known/openidconfiguration') {
      return { status: 200, body: { issuer, jwks_uri: `${base}/openid/keys`, id_token_signing_alg_values_supported: ['RS256'] } };
    }
    if (call.method === 'GET' && p === '/openid/keys') {
      return { status: 200, body: { keys: [{ kty: 'RSA', use: 'sig', kid, n: jwk.n, e: jwk.e, endorsements: ['msteams', 'emulator'] }] } };
    }
    if (call.method === 'POST' && p === '/v3/conversations') {
      const n = id();
      const channel = call.body?.channelData?.channel?.id as string | undefined;
      if (call.body?.isGroup && channel) return { status: 201, body: { id: `${channel};messageid=${n}`, activityId: n } };
      return { status: 201, body: { id: `a:1:1-personal-${n}` } };
    }
    if ((m = /^\/v3\/conversations\/([^/]+)\/members\/([^/]+)$/.exec(p)) && call.method === 'GET') {
      const member = members.get(m[2]);
      if (!member) return { status: 404, body: { error: { code: 'MemberNotFoundInConversation', message: 'The member was not found.' } } };
      return { status: 200, body: member };
    }
    if (/^\/v3\/conversations\/[^/]+\/activities(\/[^/]+)?$/.test(p) && call.method === 'POST') return { status: 201, body: { id: id() } };
    if ((m = /^\/v3\/conversations\/[^/]+\/activities\/([^/]+)$/.exec(p)) && call.method === 'PUT') return { status: 200, body: { id: m[1] } };
    if (/^\/v3\/conversations\/[^/]+\/activities\/[^/]+$/.test(p) && call.method === 'DELETE') return { status: 200 };
    return { status: 404, body: { error: { code: 'NotFound', message: `no route ${call.method} ${p}` } } };
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = undefined;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const url = new URL(req.url ?? '/', 'http://x');
      const call: ConnectorCall = {
        method: req.method ?? 'GET',
        path: decodeURIComponent(url.pathname),
        body,
        authorized: typeof req.headers.authorization === 'string' && req.headers.authorization.length > 0,
        at: Date.now(),
      };
      const isAuthFetch = call.path.startsWith('/openid/');
      if (!isAuthFetch) calls.push(call);
      const out = answer(call);
      res.writeHead(out.status, { 'content-type': 'application/json', ...out.headers });
      res.end(out.body === undefined ? '' : JSON.stringify(out.body));
      if (!isAuthFetch) {
        for (const w of [...waiters]) {
          if (w.predicate(call)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(call);
          }
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: `${base}/`,
    openIdMetadataUrl: `${base}/openid/.well-known/openidconfiguration`,
    issuer,
    calls,
    members,
    failNext(match, response, times = 1) {
      overrides.push({
        match: (c) =>
          (!match.method || c.method === match.method) &&
          (!match.pathIncludes || c.path.includes(match.pathIncludes)) &&
          (!match.bodyIncludes || JSON.stringify(c.body ?? '').includes(match.bodyIncludes)),
        response,
        times,
      });
    },
    mintToken(claims, o = {}) {
      const now = Math.floor(Date.now() / 1000);
      const payload = {
        iss: issuer,
        aud: claims.audience,
        serviceurl: claims.serviceUrl ?? `${base}/`,
        nbf: now - 60,
        exp: now + (claims.expiresInSec ?? 3600),
        jti: randomUUID(),
      };
      return sign(payload, o.forgedKey ? forged : privateKey, o.kid ?? kid);
    },
    waitFor(predicate, timeoutMs = 5000) {
      const hit = calls.find(predicate);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const w = { predicate, resolve: (c: ConnectorCall) => (clearTimeout(timer), resolve(c)) };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`fake connector: no matching call within ${timeoutMs} ms; saw ${calls.map((c) => `${c.method} ${c.path}`).join(', ') || 'nothing'}`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    callsMatching(method, pathIncludes) {
      return calls.filter((c) => c.method === method && c.path.includes(pathIncludes));
    },
    reset() {
      calls.length = 0;
      overrides.length = 0;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
