// Directory groups end to end: the real app, the real Slack and Teams adapters, the Slack Web API fake
// with user groups, the Bot Connector fake, and the Microsoft Graph fake. Dave is in the file with no
// group and approves through the `dbas` Slack user group; Erin and Frank are in no `people:` entry and
// are known only through Entra ID groups.
import assert from 'node:assert/strict';
import { blockActions, slashCommand } from '../clients/slack';
import { channelMessage, connectorMembers, executeInvoke, installationUpdateAdd, personalMessage, postActivity, TENANT_ID, users, type TeamsUser } from '../clients/teams';
import { startFakeBotConnector, type FakeBotConnector } from '../fakes/bot-connector';
import { directoryConfig, graphDirectory, startDirectoryGraph, type DirectoryPeople } from '../helpers/directory';
import { MINUTE, startWorld, type TestWorld } from '../helpers/world';
import { startSlackHarness, type SlackHarness } from '../slack/support';
import { startTeamsHarness, type TeamsHarness } from '../teams/harness';

const APPROVALS = 'C0JITAPPROVALS';
const erin: TeamsUser = { id: '29:1erin-Kd2wQa', name: 'Erin', email: 'erin@example.com', aadObjectId: 'e1e10000-0000-4000-8000-000000000006' };
const frank: TeamsUser = { id: '29:1frank-Pq4rTy', name: 'Frank', email: 'frank@example.com', aadObjectId: 'f4a40000-0000-4000-8000-000000000007' };

describe('directory groups over Slack and Teams', function () {
  this.timeout(30_000);
  let world: TestWorld;
  let dir: DirectoryPeople;
  let slack: SlackHarness;
  let connector: FakeBotConnector;
  let teams: TeamsHarness;
  let seq = 0;

  beforeEach(async () => {
    dir = await startDirectoryGraph();
    const config = directoryConfig({ slack: true });
    world = await startWorld({ config, app: { directory: { groups: config.groups, ttlMs: 10 * MINUTE } } });
    world.app.addDirectory(graphDirectory(dir.graph, world.clock));
    slack = await startSlackHarness(world.app, { clock: world.clock, botId: 'B0BOT', botUserId: 'U0BOT' });
    slack.fake.addUsergroup({ id: 'S0DBAS', handle: 'dbas', name: 'Database admins', users: ['U0DAVE'] });
    slack.fake.addUser({ id: 'U0FRANK', name: 'frank', realName: 'Frank', email: 'frank@example.com' });
    world.app.addDirectory(slack.adapter.groups);
    const member = (u: TeamsUser) => ({ id: u.id, name: u.name, email: u.email, userPrincipalName: u.email, objectId: u.aadObjectId, tenantId: TENANT_ID, userRole: 'user' });
    connector = await startFakeBotConnector({ members: [...connectorMembers(), member(erin), member(frank)] });
    teams = await startTeamsHarness({ api: world.app, store: world.store, clock: world.clock, connector });
    world.addChat(slack.adapter.chat);
    world.addChat(teams.teams.chat);
    assert.equal((await postActivity(teams.url, installationUpdateAdd({ serviceUrl: connector.url }))).status, 200);
    connector.reset();
  });
  afterEach(async () => {
    await teams.close();
    await connector.close();
    await slack.close();
    await world.close();
    await dir.graph.close();
  });

  async function slackCommand(user: string, text: string): Promise<string> {
    seq += 1;
    const res = await slack.client.command(slashCommand({ user_id: user, text, response_url: slack.fake.responseUrl(`cmd-${seq}`) }));
    assert.equal(res.status, 200);
    await world.settle();
    return JSON.stringify([res.json, slack.fake.responsesTo(`cmd-${seq}`)]);
  }

  async function slackClick(user: string, verb: string, id: string): Promise<string> {
    seq += 1;
    const card = slack.fake.channelMessages(APPROVALS).find((m) => m.text.startsWith(`${id}:`));
    assert.ok(card, `no Slack card for ${id}`);
    const res = await slack.client.interactive(
      blockActions({ user, actionId: `jit_${verb}`, value: id, responseUrl: slack.fake.responseUrl(`click-${seq}`), channel: APPROVALS, messageTs: card.ts }),
    );
    assert.equal(res.status, 200);
    await world.settle();
    return JSON.stringify(slack.fake.responsesTo(`click-${seq}`));
  }

  async function onlyRequestId(): Promise<string> {
    const rs = await world.store.listRequests({ limit: 10 });
    assert.equal(rs.length, 1);
    return rs[0].id;
  }

  async function teamsCardId(id: string): Promise<string> {
    const ref = (await world.store.listMessageRefs(id)).find((r) => r.ref.platform === 'teams' && r.kind === 'card');
    assert.ok(ref, 'the card was posted to Teams');
    return String(ref.ref.data.activityId);
  }

  it('counts a Slack user group member\'s approval from Slack, next to one from the file', async () => {
    await slackCommand('U0ALICE', 'rdp sql-01 1h from 203.0.113.7 for patching');
    const id = await onlyRequestId();
    assert.match(await slackClick('U0DAVE', 'approve', id), /1 of 2|another approver/i);
    assert.equal((await world.store.getRequest(id))!.approvals[0].by.email, 'dave@example.com');
    await slackClick('U0CAROL', 'approve', id);
    assert.equal((await world.store.getRequest(id))!.state, 'active');
    assert.equal(slack.fake.callsTo('usergroups.users.list').length, 1, 'the group is listed once and reused');
  });

  it('tells a Slack user group member plainly when Slack will not let it list the group, and counts nothing', async () => {
    slack.fake.scopes.delete('usergroups:read');
    await slackCommand('U0ALICE', 'rdp sql-01 1h from 203.0.113.7 for patching');
    const id = await onlyRequestId();
    const answer = await slackClick('U0DAVE', 'approve', id);
    assert.match(answer, /jitbot is not permitted to read the directory \(Slack\), so your membership of group:dbas can't be checked; ask whoever runs jitbot to grant it access/);
    assert.equal((await world.store.getRequest(id))!.approvals.length, 0);
    const status = world.app.directoryStatus().find((s) => s.directory === 'Slack');
    assert.match(status?.message ?? '', /missing_scope\): add the usergroups:read scope to the Slack app and reinstall it/);
  });

  it('lets Erin ask in Teams and Frank approve in Teams, both known only through Entra ID', async () => {
    assert.equal((await postActivity(teams.url, channelMessage({ serviceUrl: connector.url }, erin, 'jit ssh web-01 1h from 10.1.2.3 for INC-7'))).status, 200);
    await world.settle();
    const id = await onlyRequestId();
    assert.equal((await world.store.getRequest(id))!.requester.email, 'erin@example.com');
    const res = await postActivity(teams.url, executeInvoke({ serviceUrl: connector.url }, frank, { verb: 'approve', data: { verb: 'approve', requestId: id } }, { replyToId: await teamsCardId(id) }));
    assert.equal(res.status, 200);
    assert.match(JSON.stringify(res.body), /approved/i);
    await world.settle();
    assert.equal((await world.store.getRequest(id))!.state, 'active');
    assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, true);
  });

  it('lets Frank approve from Slack too: the Entra group follows his email across platforms', async () => {
    await slackCommand('U0ALICE', 'ssh web-01 1h from 10.1.2.3 for a');
    const id = await onlyRequestId();
    await slackClick('U0FRANK', 'approve', id);
    assert.equal((await world.store.getRequest(id))!.state, 'active');
  });

  it('answers /jit whois on Slack and in Teams for an admin, and refuses others without a word about the person', async () => {
    const onSlack = await slackCommand('U0CAROL', 'whois dave@example.com');
    assert.match(onSlack, /group:dbas \(Slack\)/);
    assert.match(onSlack, /Rule sql: may approve through group:dbas \(Slack\)/);
    const refused = await slackCommand('U0ALICE', 'whois dave@example.com');
    assert.match(refused, /Only admins can look people up\./);
    assert.doesNotMatch(refused, /dbas|Dave/);

    connector.reset();
    assert.equal((await postActivity(teams.url, personalMessage({ serviceUrl: connector.url }, users.carol, 'whois frank@example.com'))).status, 200);
    const reply = await connector.waitFor((c) => c.method === 'POST' && JSON.stringify(c.body).includes('frank@example.com'));
    assert.match(JSON.stringify(reply.body), /group:oncall \(Microsoft Entra ID\)/);
  });
});
