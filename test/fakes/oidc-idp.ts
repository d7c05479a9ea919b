// A real OpenID provider on loopback for the step-up tests: oidc-provider (a certified
// implementation), with our own people, a login step the test scripts (who signs in, with which amr
// and acr, at what time), and signing keys that can be rotated. No part of the protocol is mocked.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface IdpAccount {
  sub: string;
  email: string;
  name: string;
  /** Entra-style object id, sent as the `oid` claim. */
  oid?: string;
}

/** What the next login step does: who signs in, how, and when (seconds since the epoch). */
export interface NextLogin {
  account: string;
  amr?: string[];
  acr?: string;
  authTime?: number;
}

export interface TestIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Scripts the next login (the login step fails the test when none is scripted). */
  nextLogin(login: NextLogin): void;
  /** How long the sign-in codes issued from now on live. */
  setCodeTtl(seconds: number): void;
  /** A new signing key becomes the first (signing) key; the old one is kept for verification. */
  rotateKeys(): Promise<void>;
  close(): Promise<void>;
}

function newKey(): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...(privateKey.export({ format: 'jwk' }) as Record<string, unknown>), kid: randomUUID(), use: 'sig', alg: 'RS256' };
}

export async function startIdp(opts: { accounts: IdpAccount[]; redirectUris: () => string[] }): Promise<TestIdp> {
  const clientId = 'jitbot-test';
  const clientSecret = 'a-test-client-secret-of-some-length';
  let keys = [newKey()];
  let scripted: NextLogin | null = null;
  let codeTtlSeconds = 60;
  let provider: Provider;
  let issuer = '';

  const byId = new Map(opts.accounts.map((a) => [a.sub, a]));

  const build = () => {
    // oidc-provider warns on every construction that its in-memory adapter is for development,
    // which is exactly what a test provider wants; keep that line out of the test output.
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (!String(args[0]).includes('in-memory adapter')) warn(...args);
    };
    try {
      return construct();
    } finally {
      console.warn = warn;
    }
  };

  const construct = () => {
    const p = new Provider(issuer, {
      clients: [
        {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: opts.redirectUris(),
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_post',
        },
      ],
      jwks: { keys: keys as never },
      cookies: { keys: ['test-cookie-key'] },
      acrValues: ['urn:example:loa:high'],
      features: { devInteractions: { enabled: false }, claimsParameter: { enabled: true } },
      pkce: { required: () => true },
      // Scope claims in the ID token itself (the bot reads no userinfo).
      conformIdTokenClaims: false,
      claims: { acr: null, amr: null, auth_time: null, sid: null, iss: null, openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'oid'] },
      ttl: { AuthorizationCode: () => codeTtlSeconds, IdToken: 300, AccessToken: 300, Interaction: 600, Session: 600, Grant: 600 },
      interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
      findAccount: async (_ctx: unknown, id: string) => {
        const a = byId.get(id);
        if (!a) return undefined;
        return {
          accountId: id,
          claims: async () => ({ sub: a.sub, email: a.email, email_verified: true, name: a.name, ...(a.oid ? { oid: a.oid } : {}) }),
        };
      },
      // A first-party client: the grant is implied, so no consent screen.
      loadExistingGrant: async (ctx: any) => {
        const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
        grant.addOIDCScope('openid email profile');
        grant.addOIDCClaims(['amr', 'acr', 'auth_time', 'email', 'email_verified', 'oid', 'name']);
        await grant.save();
        return grant;
      },
    } as never);
    return p;
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      if (req.url?.startsWith('/interaction/')) {
        const details = await provider.interactionDetails(req, res);
        if (details.prompt.name === 'consent') {
          // A first-party client: grant whatever the sign-in asked for (the claims parameter too).
          const grant = new provider.Grant({ clientId: String(details.params.client_id), accountId: String(details.session?.accountId) });
          const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
          if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
          if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
          await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
          return;
        }
        const login = scripted;
        scripted = null;
        if (!login) {
          res.writeHead(500).end('no login scripted');
          return;
        }
        await provider.interactionFinished(
          req,
          res,
          {
            login: {
              accountId: login.account,
              ...(login.amr ? { amr: login.amr } : {}),
              ...(login.acr ? { acr: login.acr } : {}),
              ts: login.authTime ?? Math.floor(Date.now() / 1000),
            },
          },
          { mergeWithLastSubmission: false },
        );
        return;
      }
      provider.callback()(req, res);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  provider = build();

  return {
    issuer,
    clientId,
    clientSecret,
    nextLogin(login) {
      scripted = login;
    },
    setCodeTtl(seconds) {
      codeTtlSeconds = seconds;
    },
    async rotateKeys() {
      keys = [newKey(), ...keys];
      provider = build();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * A browser, as far as a sign-in needs one: follows redirects across the bot and the provider,
 * keeping each host's cookies. Returns the last answer (a page of the bot, or an error).
 */
export async function browse(
  start: string,
  opts: { maxHops?: number; stopBefore?: (url: string) => boolean } = {},
): Promise<{ status: number; url: string; body: string; hops: string[] }> {
  const jar = new Map<string, Map<string, string>>();
  const hops: string[] = [];
  let url = start;
  for (let i = 0; i < (opts.maxHops ?? 15); i++) {
    if (i > 0 && opts.stopBefore?.(url)) return { status: 0, url, body: '', hops };
    hops.push(url);
    const u = new URL(url);
    const cookies = jar.get(u.host) ?? new Map<string, string>();
    const res = await fetch(url, { redirect: 'manual', headers: cookies.size ? { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {} });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) cookies.delete(name);
      else cookies.set(name, value);
    }
    jar.set(u.host, cookies);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.arrayBuffer();
      url = new URL(location, url).href;
      continue;
    }
    return { status: res.status, url, body: await res.text(), hops };
  }
  throw new Error(`too many redirects: ${hops.join(' → ')}`);
}
