// Bot Framework clients, made once and reused by every turn and proactive message.
import { ConfigurationBotFrameworkAuthentication } from 'botbuilder';
import { AuthenticationConstants, ConnectorFactory, type ClaimsIdentity, type ConnectorClient, type UserTokenClient } from 'botframework-connector';

/** Enough for every Teams region a bot hears from; emptied when full, since service URLs arrive in activities. */
const CLIENTS_KEPT = 64;

/** The app a turn is for, as botbuilder reads it: the token's audience, or the emulator's app id claim. */
function appIdOf(identity: ClaimsIdentity): string {
  return identity.getClaimValue(AuthenticationConstants.AudienceClaim) ?? identity.getClaimValue(AuthenticationConstants.AppIdClaim) ?? '';
}

/** `make()` once per key; a promise that failed is let go, so the next call tries again. */
function remembered<T>(kept: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  const known = kept.get(key);
  if (known) return known;
  if (kept.size >= CLIENTS_KEPT) kept.clear();
  const made = make();
  kept.set(key, made);
  made.catch(() => {
    if (kept.get(key) === made) kept.delete(key);
  });
  return made;
}

/**
 * botbuilder makes a new ConnectorClient and a new UserTokenClient for every turn and every proactive
 * message: new credentials, new request pipelines with their policies ordered again, log sanitizers.
 * Reusing them cut the CPU a Teams message costs in local mode by a tenth (`npm run bench:ab -- …
 * --teams`), and the clients hold nothing of the turn. Both are made per app id (the same reading botbuilder
 * makes of the claims), and connector clients per service URL and token audience as well, which the
 * keys carry; tokens stay the credentials' business, which renew them as before.
 */
export class ReusedConnectorsAuthentication extends ConfigurationBotFrameworkAuthentication {
  private readonly connectors = new Map<string, Promise<ConnectorClient>>();
  private readonly tokenClients = new Map<string, Promise<UserTokenClient>>();

  override createConnectorFactory(claimsIdentity: ClaimsIdentity): ConnectorFactory {
    const made = super.createConnectorFactory(claimsIdentity);
    const appId = appIdOf(claimsIdentity);
    const connectors = this.connectors;
    return new (class extends ConnectorFactory {
      create(serviceUrl: string, audience?: string): Promise<ConnectorClient> {
        return remembered(connectors, JSON.stringify([appId, serviceUrl, audience ?? null]), () => made.create(serviceUrl, audience));
      }
    })();
  }

  override createUserTokenClient(claimsIdentity: ClaimsIdentity): Promise<UserTokenClient> {
    return remembered(this.tokenClients, appIdOf(claimsIdentity), () => super.createUserTokenClient(claimsIdentity));
  }
}
