// The SignIn port over openid-client: authorization code with PKCE (S256), state and nonce, at any
// OpenID Connect issuer (Entra ID by default). Discovery is fetched on first use and kept; a failed
// discovery is tried again on the next sign-in rather than failing the start.
import * as oidc from 'openid-client';
import type { CallOptions, SignInChecks, SignInPort } from '../app/ports';
import { SignInError } from '../core/errors';
import type { SignInClaims } from '../core/step-up';

export interface OidcSignInOptions {
  issuer: string;
  clientId: string;
  /** Confidential client (Entra web app); without it the client is public and relies on PKCE alone. */
  clientSecret?: string;
  /** Where the provider sends the browser back: `${publicUrl}/step-up/callback`. */
  redirectUri: () => string;
  /** Per request to the provider (discovery, token, keys). */
  timeoutInMs?: number;
  /** Seconds of clock difference tolerated on the ID token's iat/exp. */
  clockToleranceSeconds?: number;
}

/** Plain http is for a provider on this machine (tests, a local IdP); anything else must be https. */
function isLoopback(url: URL): boolean {
  return url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

function describe(err: unknown): string {
  if (err instanceof oidc.AuthorizationResponseError) {
    return `the sign-in provider said ${err.error}${err.error_description ? ` (${err.error_description})` : ''}`;
  }
  if (err instanceof oidc.ResponseBodyError) {
    const hint = err.error === 'invalid_grant' ? ': the sign-in code expired or was already used; open the link again' : '';
    return `the sign-in provider refused the sign-in code (${err.error}${err.error_description ? `: ${err.error_description}` : ''})${hint}`;
  }
  const code = (err as { code?: unknown }).code;
  if (code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' || code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED') {
    return `the ID token did not pass its checks (${(err as Error).message})`;
  }
  if (code === 'OAUTH_JWS_SIGNATURE_VERIFICATION_FAILED' || code === 'ERR_JWKS_NO_MATCHING_KEY' || code === 'OAUTH_KEY_SELECTION_FAILED') {
    return 'the ID token was not signed by a key of the sign-in provider';
  }
  if (err instanceof Error && /state/i.test(err.message)) return 'the sign-in answer did not belong to this sign-in (state)';
  if (err instanceof Error && /nonce/i.test(err.message)) return 'the ID token did not belong to this sign-in (nonce)';
  return 'the sign-in provider could not be reached or answered in a way we could not check';
}

export function createOidcSignIn(o: OidcSignInOptions): SignInPort {
  const issuer = new URL(o.issuer);
  let config: Promise<oidc.Configuration> | null = null;

  const configuration = (opts?: CallOptions): Promise<oidc.Configuration> => {
    if (!config) {
      const metadata: Partial<oidc.ClientMetadata> = {
        ...(o.clientSecret ? { client_secret: o.clientSecret } : {}),
        [oidc.clockTolerance]: o.clockToleranceSeconds ?? 60,
      };
      config = oidc
        .discovery(issuer, o.clientId, metadata, o.clientSecret ? oidc.ClientSecretPost(o.clientSecret) : oidc.None(), {
          timeout: Math.ceil((opts?.timeoutInMs ?? o.timeoutInMs ?? 10_000) / 1000),
          ...(isLoopback(issuer) ? { execute: [oidc.allowInsecureRequests] } : {}),
        })
        .catch((err: unknown) => {
          config = null;
          throw err;
        });
    }
    return config;
  };

  return {
    async authorizationUrl(input: SignInChecks & { maxAgeSeconds: number; loginHint?: string; acr?: string }, opts?: CallOptions): Promise<URL> {
      const c = await configuration(opts);
      return oidc.buildAuthorizationUrl(c, {
        redirect_uri: o.redirectUri(),
        scope: 'openid profile email',
        response_type: 'code',
        code_challenge: await oidc.calculatePKCECodeChallenge(input.codeVerifier),
        code_challenge_method: 'S256',
        state: input.state,
        nonce: input.nonce,
        // A fresh sign-in, whatever session the browser already has.
        prompt: 'login',
        max_age: String(input.maxAgeSeconds),
        // Ask for the claims the judgement reads in the ID token itself; providers that put amr and
        // acr only in tokens whose client asked for them (the claims parameter) then include them.
        // With an authentication context configured, ask for it too (acr_values, and Entra's acrs).
        claims: JSON.stringify({
          id_token: {
            auth_time: { essential: true },
            amr: null,
            acr: input.acr ? { values: [input.acr] } : null,
            ...(input.acr ? { acrs: { essential: true, value: input.acr } } : {}),
            email: null,
            oid: null,
          },
        }),
        ...(input.acr ? { acr_values: input.acr } : {}),
        ...(input.loginHint ? { login_hint: input.loginHint } : {}),
      });
    },

    async redeem(callbackQuery: URLSearchParams, checks: SignInChecks, opts?: CallOptions): Promise<SignInClaims> {
      let c: oidc.Configuration;
      try {
        c = await configuration(opts);
      } catch (err) {
        throw new SignInError('the sign-in provider could not be reached', { cause: err });
      }
      // The URL the provider redirected to, as the provider knows it (behind a proxy it differs
      // from the one this process sees).
      const current = new URL(o.redirectUri());
      current.search = callbackQuery.toString();
      try {
        const tokens = await oidc.authorizationCodeGrant(
          c,
          current,
          { pkceCodeVerifier: checks.codeVerifier, expectedState: checks.state, expectedNonce: checks.nonce, idTokenExpected: true },
          { redirect_uri: o.redirectUri() },
        );
        const claims = tokens.claims();
        if (!claims) throw new SignInError('the sign-in provider sent no ID token');
        return claims as unknown as SignInClaims;
      } catch (err) {
        if (err instanceof SignInError) throw err;
        throw new SignInError(describe(err), { cause: err });
      }
    },
  };
}
