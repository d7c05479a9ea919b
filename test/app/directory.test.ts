import assert from 'node:assert/strict';
import { readSettings } from '../../src/config/env';
import type { Reply } from '../../src/core/views';
import { RecordingChat } from '../fakes/recording-chat';
import { configFromDocument } from '../../src/config/file';
import { directoryConfig, directoryDoc, graphDirectory, ONCALL, startDirectoryGraph, type DirectoryPeople } from '../helpers/directory';
import { MINUTE, person, startWorld, type TestWorld } from '../helpers/world';

function submittedId(reply: Reply): string {
  assert.equal(reply.kind, 'submitted', `expected a submitted request, got ${JSON.stringify(reply)}`);
  return (reply as Extract<Reply, { kind: 'submitted' }>).request.id;
}

function text(reply: Reply): string {
  return JSON.stringify(reply);
}

const UNREACHABLE = "the directory (Microsoft Entra ID) could not be reached, so your membership of group:oncall can't be checked; try again shortly";

describe('people and groups from Microsoft Entra ID', () => {
  let world: TestWorld;
  let dir: DirectoryPeople;
  let chat: RecordingChat;

  beforeEach(async () => {
    dir = await startDirectoryGraph();
    world = await startWorld({ config: directoryConfig(), app: { directory: { groups: directoryConfig().groups, ttlMs: 10 * MINUTE } } });
    world.app.addDirectory(graphDirectory(dir.graph, world.clock));
    chat = new RecordingChat();
    world.addChat(chat);
  });
  afterEach(async () => {
    await world.close();
    await dir.graph.close();
  });

  it('lets a person known only through Entra ID request, and another approve', async () => {
    const id = submittedId(await world.app.command(dir.erin, 'ssh web-01 1h from 10.1.2.3 for INC-1'));
    const approved = await world.app.act(dir.frank, 'approve', id);
    assert.equal(approved.ok, true, approved.message);
    await world.settle();
    assert.equal((await world.store.getRequest(id))!.state, 'active');
    assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, true);
    const approval = (await world.store.getRequest(id))!.approvals[0];
    assert.equal(approval.by.email, 'frank@example.com');
  });

  it('takes a removal from the on-call group away within the TTL, without anyone restarting anything', async () => {
    const first = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for a'));
    assert.equal((await world.app.act(dir.frank, 'approve', first)).ok, true);
    dir.graph.removeMember(ONCALL, dir.frankId);

    const second = submittedId(await world.app.command(person('alice'), 'ssh web-02 1h from 10.1.2.3 for b'));
    await world.advance(10 * MINUTE + 1);
    const refused = await world.app.act(dir.frank, 'approve', second);
    assert.equal(refused.ok, false);
    assert.match(refused.message, /not in jitbot's access list/, 'in no group any more, Frank is nobody to jitbot');
    assert.equal((await world.store.getRequest(second))!.approvals.length, 0, 'no approval is counted');
  });

  it('reads the membership again in the background once it is half as old as the TTL', async () => {
    const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for a'));
    await world.app.command(dir.frank, 'status');
    const reads = dir.graph.callsTo('/transitiveMemberOf').length;
    await world.advance(6 * MINUTE);
    await world.app.command(dir.frank, 'status');
    await dir.graph.waitFor(() => dir.graph.callsTo('/transitiveMemberOf').length === reads + 1, 'the background read');
    await world.app.command(dir.frank, 'status');
    assert.equal(dir.graph.callsTo('/transitiveMemberOf').length, reads + 1, 'one refresh, while the cached answer serves');
    assert.equal((await world.app.act(dir.frank, 'approve', id)).ok, true);
  });

  it('counts no approval while Entra ID is down and tells the approver why; the file still counts', async () => {
    const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for a'));
    dir.graph.down = true;
    const refused = await world.app.act(dir.frank, 'approve', id);
    assert.equal(refused.ok, false);
    assert.equal(refused.message, `you can't approve this request now: ${UNREACHABLE}`);
    assert.equal((await world.store.getRequest(id))!.approvals.length, 0);
    const audit = await world.store.listAudit({ requestId: id });
    assert.ok(audit.some((e) => e.type === 'command.refused' && e.actor?.email === 'frank@example.com'), 'the refusal is audited');

    const byBob = await world.app.act(person('bob'), 'approve', id);
    assert.equal(byBob.ok, true, 'Bob is in group:sre by the configuration file');
  });

  it('asks a directory that failed again only after half a minute, refusing meanwhile without waiting on it', async () => {
    const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for a'));
    dir.graph.down = true;
    assert.equal((await world.app.act(dir.frank, 'approve', id)).ok, false);
    const asked = dir.graph.calls.length;
    assert.equal((await world.app.act(dir.frank, 'approve', id)).ok, false);
    assert.equal(dir.graph.calls.length, asked, 'the failure stands for a while');
    dir.graph.down = false;
    await world.advance(31_000);
    assert.equal((await world.app.act(dir.frank, 'approve', id)).ok, true, 'and then the directory is asked again');
  });

  it('tells a requester known only through Entra ID that the directory is down, and shows them nothing meanwhile', async () => {
    dir.graph.down = true;
    const message = "Jitbot could not check your access: the directory (Microsoft Entra ID) could not be reached, so your group memberships can't be checked; try again shortly.";
    for (const words of ['ssh web-01 1h from 10.1.2.3 for a', 'policy web-01', 'vms', 'status']) {
      assert.deepEqual(await world.app.command(dir.erin, words), { kind: 'error', message }, words);
    }
    assert.equal((await world.store.listRequests({})).length, 0);
    // A stranger hears the same: while the directory is down, nobody can tell them apart.
    assert.deepEqual(await world.app.command(person('mallory'), 'policy web-01'), { kind: 'error', message });
  });

  it('tells someone who is also in the file the directory group it could not check, by name', async () => {
    const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for a'));
    dir.graph.down = true;
    const byDave = await world.app.act(person('dave'), 'approve', id);
    assert.equal(byDave.message, `you can't approve this request now: ${UNREACHABLE}`);
  });

  it('tells the approver jitbot is not permitted, and names the missing Graph permissions to the operator, when consent was not given', async () => {
    const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for a'));
    dir.graph.consented = false;
    const refused = await world.app.act(dir.frank, 'approve', id);
    assert.equal(
      refused.message,
      "you can't approve this request now: jitbot is not permitted to read the directory (Microsoft Entra ID), so your membership of group:oncall can't be checked; ask whoever runs jitbot to grant it access",
    );
    assert.equal((await world.store.getRequest(id))!.approvals.length, 0);
    const status = world.app.directoryStatus().find((s) => s.directory === 'Microsoft Entra ID');
    assert.equal(status?.ok, false);
    assert.match(status?.message ?? '', /User\.Read\.All and GroupMember\.Read\.All, with admin consent/);
  });

  it('lists every member of a 1,000-person on-call group among the approvers', async () => {
    const extra = Array.from({ length: 999 }, (_, i) => dir.graph.user(`oncall${i}@example.com`, `On-call ${i}`));
    const group = dir.graph.groups.get(ONCALL)!;
    group.members.push(...extra.map((u) => u.id));
    const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for a'));
    const approvers = await world.app.approverEmails(id);
    assert.equal(approvers.filter((e) => e.startsWith('oncall') || e === 'frank@example.com').length, 1000);
    assert.ok(approvers.includes('bob@example.com') && approvers.includes('carol@example.com'), 'and the file\'s approvers');
    assert.equal(dir.graph.callsTo(`/groups/${ONCALL}/transitiveMembers`).length, 10, 'ten pages of 100');
  });

  describe('/jit whois', () => {
    it('shows an admin the groups and rules of a person and where each comes from', async () => {
      const reply = await world.app.command(person('carol'), 'whois frank@example.com');
      assert.equal(reply.kind, 'whois', text(reply));
      const w = (reply as Extract<Reply, { kind: 'whois' }>).whois;
      assert.equal(w.name, 'Frank Oncall');
      assert.deepEqual(w.groups, [{ group: 'oncall', from: ['Microsoft Entra ID'] }]);
      assert.deepEqual(w.rules, [{ rule: 'web', request: [], approve: ['group:oncall (Microsoft Entra ID)'] }]);
      assert.equal(w.admin.is, false);

      const bob = (await world.app.command(dir.grace, 'whois bob@example.com')) as Extract<Reply, { kind: 'whois' }>;
      assert.equal(bob.kind, 'whois', 'Grace is an admin through an Entra group');
      assert.deepEqual(bob.whois.groups, [{ group: 'sre', from: ['the configuration file'] }]);
      assert.deepEqual(bob.whois.rules.map((r) => r.rule), ['web', 'sql']);
    });

    it('says when a person is known nowhere', async () => {
      const reply = (await world.app.command(person('carol'), 'whois nobody@example.com')) as Extract<Reply, { kind: 'whois' }>;
      assert.equal(reply.whois.name, null);
    });

    it('refuses everyone else in one line and reveals nothing', async () => {
      for (const who of [person('alice'), dir.frank]) {
        const reply = await world.app.command(who, 'whois frank@example.com');
        assert.deepEqual(reply, { kind: 'error', message: 'Only admins can look people up.' });
      }
      assert.equal(dir.graph.callsTo('/users/frank@example.com').length, 1, 'only Frank himself was ever looked up, for his own command');
    });

    it('is listed in help for admins only', async () => {
      const forCarol = text(await world.app.command(person('carol'), 'help'));
      const forAlice = text(await world.app.command(person('alice'), 'help'));
      assert.match(forCarol, /\/jit whois <email>/);
      assert.doesNotMatch(forAlice, /whois/);
    });
  });
});

describe('the Graph settings', () => {
  it('default to the global Graph and take a national cloud\'s address', () => {
    assert.equal(readSettings({}).graphUrl, 'https://graph.microsoft.com');
    assert.equal(readSettings({ JITBOT_GRAPH_URL: 'https://graph.microsoft.us/' }).graphUrl, 'https://graph.microsoft.us');
    assert.equal(readSettings({}).directoryTtlMs, 10 * MINUTE);
    assert.equal(readSettings({ JITBOT_DIRECTORY_TTL_MINUTES: '3' }).directoryTtlMs, 3 * MINUTE);
  });

  it('refuses a Graph address the token would travel to in the clear', () => {
    assert.throws(() => readSettings({ JITBOT_GRAPH_URL: 'http://graph.example.com' }), /JITBOT_GRAPH_URL: must be an https:\/\/ URL/);
    assert.throws(() => readSettings({ JITBOT_DIRECTORY_TTL_MINUTES: '0' }), /JITBOT_DIRECTORY_TTL_MINUTES: must be a whole number from 1 to 1440/);
  });
});

describe('escalation to an Entra ID group', () => {
  let world: TestWorld;
  let dir: DirectoryPeople;
  let chat: RecordingChat;

  beforeEach(async () => {
    dir = await startDirectoryGraph();
    const doc = directoryDoc();
    const web = doc.rules.find((r: { name: string }) => r.name === 'web');
    web.escalateAfterMinutes = 20;
    web.escalateTo = ['group:platform-admins'];
    const config = configFromDocument(doc, 'escalation-test');
    world = await startWorld({ config, app: { directory: { groups: config.groups, ttlMs: 10 * MINUTE } } });
    world.app.addDirectory(graphDirectory(dir.graph, world.clock));
    chat = new RecordingChat();
    world.addChat(chat);
  });
  afterEach(async () => {
    await world.close();
    await dir.graph.close();
  });

  it('asks the members the directory lists, who are in no people: entry, and lets them decide once escalated', async () => {
    const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for a'));
    assert.equal((await world.app.act(dir.grace, 'approve', id)).ok, false, 'not before the escalation');
    await world.advance(20 * MINUTE);
    assert.ok(chat.recorded.dms.some((d) => d.to.email === 'grace@example.com'), 'Grace is asked directly');
    const byGrace = await world.app.act(dir.grace, 'approve', id);
    assert.equal(byGrace.ok, true, byGrace.message);
  });
});
