// Bot Connector clients, made once per service URL and reused by every turn and proactive message.
import { ConfigurationBotFrameworkAuthentication } from 'botbuilder';
import { AuthenticationConstants, ConnectorFactory, type ClaimsIdentity, type ConnectorClient } from 'botframework-connector';

/** Enough for every Teams region a bot hears from; emptied when full, since service URLs arrive in activities. */
const CLIENTS_KEPT = 64;

/**
 * botbuilder's factory makes a new ConnectorClient for every turn and every proactive message: new
 * credentials, a new request pipeline with its policies ordered again, a log sanitizer. In local mode
 * that was about a twentieth of the CPU a Teams message costs (bench, Teams profile), for a client
 * that holds nothing of the turn. The factory is per app id (the claims' audience, or the emulator's
 * app id claim), so the key carries it as well as the service URL and the token audience; tokens stay
 * the credentials' business, which renew them as before. A creation that failed is not kept.
 */
export class ReusedConnectorsAuthentication extends ConfigurationBotFrameworkAuthentication {
  private readonly clients = new Map<string, Promise<ConnectorClient>>();

  override createConnectorFactory(claimsIdentity: ClaimsIdentity): ConnectorFactory {
    const made = super.createConnectorFactory(claimsIdentity);
    const appId = claimsIdentity.getClaimValue(AuthenticationConstants.AudienceClaim) ?? claimsIdentity.getClaimValue(AuthenticationConstants.AppIdClaim) ?? '';
    const clients = this.clients;
    return new (class extends ConnectorFactory {
      create(serviceUrl: string, audience?: string): Promise<ConnectorClient> {
        const key = JSON.stringify([appId, serviceUrl, audience ?? null]);
        const known = clients.get(key);
        if (known) return known;
        if (clients.size >= CLIENTS_KEPT) clients.clear();
        const client = made.create(serviceUrl, audience);
        clients.set(key, client);
        client.catch(() => {
          if (clients.get(key) === client) clients.delete(key);
        });
        return client;
      }
    })();
  }
}
