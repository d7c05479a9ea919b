// One Bot Connector client per app, service URL and audience (and one user-token client per app),
// shared by every turn and proactive message.
import assert from 'node:assert/strict';
import sinon from 'sinon';
import { ConfigurationBotFrameworkAuthentication } from 'botbuilder';
import { AuthenticationConstants, ClaimsIdentity, ConnectorFactory, type ConnectorClient } from 'botframework-connector';
import { ReusedConnectorsAuthentication } from '../../src/teams/connectors';

const anonymous = () => new ClaimsIdentity([], true);
const forApp = (appId: string) => new ClaimsIdentity([{ type: AuthenticationConstants.AudienceClaim, value: appId }], true);

describe('Bot Connector clients', () => {
  afterEach(() => sinon.restore());

  it('are made once per service URL and reused by later turns', async () => {
    const auth = new ReusedConnectorsAuthentication({});
    const first = await auth.createConnectorFactory(anonymous()).create('https://smba.trafficmanager.net/emea/', undefined);
    const again = await auth.createConnectorFactory(anonymous()).create('https://smba.trafficmanager.net/emea/', undefined);
    assert.equal(again, first, 'a later turn gets the same client');
    const elsewhere = await auth.createConnectorFactory(anonymous()).create('https://smba.trafficmanager.net/amer/', undefined);
    assert.notEqual(elsewhere, first, 'another service URL gets its own');
    assert.equal((elsewhere as ConnectorClient & { baseUri?: string }).baseUri, 'https://smba.trafficmanager.net/amer/');
  });

  it('are never shared between apps or token audiences', async () => {
    const auth = new ReusedConnectorsAuthentication({});
    const url = 'https://smba.trafficmanager.net/emea/';
    const a = await auth.createConnectorFactory(forApp('app-a')).create(url, undefined);
    const b = await auth.createConnectorFactory(forApp('app-b')).create(url, undefined);
    const aOther = await auth.createConnectorFactory(forApp('app-a')).create(url, 'https://api.botframework.us');
    assert.notEqual(a, b);
    assert.notEqual(a, aOther);
    assert.equal(await auth.createConnectorFactory(forApp('app-a')).create(url, undefined), a);
  });

  it('forget a creation that failed, so the next turn tries again', async () => {
    let calls = 0;
    sinon.stub(ConfigurationBotFrameworkAuthentication.prototype, 'createConnectorFactory').callsFake(
      () =>
        new (class extends ConnectorFactory {
          async create(): Promise<ConnectorClient> {
            calls += 1;
            if (calls === 1) throw new Error('token service unreachable');
            return { made: calls } as unknown as ConnectorClient;
          }
        })(),
    );
    const auth = new ReusedConnectorsAuthentication({});
    await assert.rejects(auth.createConnectorFactory(anonymous()).create('https://x.example/', undefined), /unreachable/);
    const made = await auth.createConnectorFactory(anonymous()).create('https://x.example/', undefined);
    assert.deepEqual(made, { made: 2 });
    assert.equal(await auth.createConnectorFactory(anonymous()).create('https://x.example/', undefined), made);
    assert.equal(calls, 2);
  });

  it('include one user-token client per app, not one per turn', async () => {
    const auth = new ReusedConnectorsAuthentication({});
    const a = await auth.createUserTokenClient(forApp('app-a'));
    assert.equal(await auth.createUserTokenClient(forApp('app-a')), a);
    assert.notEqual(await auth.createUserTokenClient(forApp('app-b')), a);
  });

  it('are let go when activities name many service URLs, rather than kept for each', async () => {
    const auth = new ReusedConnectorsAuthentication({});
    const first = await auth.createConnectorFactory(anonymous()).create('https://h0.example/', undefined);
    for (let i = 1; i < 200; i++) await auth.createConnectorFactory(anonymous()).create(`https://h${i}.example/`, undefined);
    assert.notEqual(await auth.createConnectorFactory(anonymous()).create('https://h0.example/', undefined), first, 'the first was let go and made again');
  });
});
