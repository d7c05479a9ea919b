// A bot process holding open grants dies (SIGKILL); a new one on the same data directory finishes
// the work: every expiry runs exactly once, nothing is lost and nothing is repeated.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store';
import { postJson, spawnBot, type BotProcess } from '../helpers/bot-process';
import { LOCAL_CONFIG } from '../helpers/paths';

describe('restarting the bot on the same PGlite data', function () {
  this.timeout(120_000);
  let dataDir: string;
  const bots: BotProcess[] = [];

  before(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'jitbot-restart-'));
  });
  after(async () => {
    for (const b of bots) await b.kill();
  });

  it('runs every expiry exactly once after the process holding the grants is killed', async () => {
    const first = await spawnBot('first', { JITBOT_DATA_DIR: dataDir, JITBOT_SIM_PORT: '0' });
    bots.push(first);
    // One grant per VM port: Azure keeps one grant per port, so these all stay open side by side.
    const asks = [
      { text: 'ssh web-01 30m from 10.1.2.1 for restart', approvers: ['bob'] },
      { text: 'ssh web-02 30m from 10.1.2.2 for restart', approvers: ['bob'] },
      { text: 'rdp sql-01 30m from 203.0.113.7 for restart', approvers: ['bob', 'carol'] },
      { text: 'winrm-https sql-01 30m from 203.0.113.8 for restart', approvers: ['bob', 'carol'] },
    ];
    const ids: string[] = [];
    for (const ask of asks) {
      const res = await postJson(`${first.url}/console/command`, { as: 'alice@example.com', text: `/jit ${ask.text}` });
      assert.equal(res.status, 200);
      const id = /Sent for approval: (R[A-Z0-9]{5})/.exec(JSON.stringify(res.body))?.[1];
      assert.ok(id, JSON.stringify(res.body).slice(0, 400));
      ids.push(id);
    }
    // Approve them all, and kill the process while the last openings may still be in flight.
    for (const [i, id] of ids.entries()) {
      for (const who of asks[i].approvers) {
        const res = await postJson(`${first.url}/console/action`, { as: `${who}@example.com`, verb: 'approve', requestId: id });
        assert.equal(res.body.ok, true, JSON.stringify(res.body));
      }
    }
    first.signal('SIGKILL');
    await first.exited;

    const second = await spawnBot('second', { JITBOT_DATA_DIR: dataDir, JITBOT_SIM_PORT: '0' });
    bots.push(second);
    // Past the leases the dead process held, and past every grant's end.
    for (const by of ['PT1M', 'PT10M', 'PT25M']) await second.advance(by);
    second.signal('SIGTERM');
    assert.equal((await second.exited).code, 0, 'a clean stop');

    const store = await openStore({ dataDir });
    try {
      for (const id of ids) {
        const r = await store.getRequest(id);
        assert.equal(r?.state, 'expired', `${id} is ${r?.state}`);
        const audit = await store.listAudit({ requestId: id });
        const count = (type: string) => audit.filter((e) => e.type === type).length;
        assert.equal(count('request.opened'), 1, `${id} opened once`);
        assert.equal(count('request.expired'), 1, `${id} expired once`);
        assert.equal(count('request.reminded'), 1, `${id} reminded once`);
        assert.equal(count('azure.superseded'), 0, `${id} kept its port`);
      }
    } finally {
      await store.close();
    }
  });

  it('keeps the simulated Azure with the bot data: after a restart the NSG still lets the open grant in', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jitbot-restart-sim-'));
    const first = await spawnBot('sim-first', { JITBOT_DATA_DIR: dir, JITBOT_SIM_PORT: '0' });
    bots.push(first);
    const asked = await postJson(`${first.url}/console/command`, { as: 'alice@example.com', text: '/jit ssh web-01 30m from 10.1.2.9 for restart' });
    const id = /Sent for approval: (R[A-Z0-9]{5})/.exec(JSON.stringify(asked.body))?.[1];
    assert.ok(id, JSON.stringify(asked.body).slice(0, 400));
    assert.equal((await postJson(`${first.url}/console/action`, { as: 'bob@example.com', verb: 'approve', requestId: id })).body.ok, true);
    await first.advance('PT1M');
    const openOn = async (url: string) => {
      const state = (await (await fetch(`${url}/console/state`)).json()) as { vms: Array<{ name: string; open: Array<{ port: number; source: string }> }> };
      return state.vms.find((v) => v.name === 'web-01')?.open.some((o) => o.port === 22 && o.source === '10.1.2.9') ?? false;
    };
    assert.equal(await openOn(first.url), true, 'open before the restart');
    first.signal('SIGTERM');
    await first.exited;

    const second = await spawnBot('sim-second', { JITBOT_DATA_DIR: dir, JITBOT_SIM_PORT: '0' });
    bots.push(second);
    assert.equal(await openOn(second.url), true, "the restarted simulator still has the grant's NSG rule");
    const status = await postJson(`${second.url}/console/command`, { as: 'alice@example.com', text: '/jit status' });
    assert.match(JSON.stringify(status.body), new RegExp(`${id}[^"]*Open until`), 'and the bot still calls it open: both agree');
    second.signal('SIGTERM');
    await second.exited;
  });

  it('ends, with a notice, a grant the bot calls open that Azure no longer shows', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jitbot-restart-lost-'));
    const first = await spawnBot('lost-first', { JITBOT_DATA_DIR: dir, JITBOT_SIM_PORT: '0' });
    bots.push(first);
    const asked = await postJson(`${first.url}/console/command`, { as: 'alice@example.com', text: '/jit ssh web-02 30m from 10.1.2.8 for restart' });
    const id = /Sent for approval: (R[A-Z0-9]{5})/.exec(JSON.stringify(asked.body))?.[1];
    assert.ok(id);
    assert.equal((await postJson(`${first.url}/console/action`, { as: 'bob@example.com', verb: 'approve', requestId: id })).body.ok, true);
    await first.advance('PT1M');
    first.signal('SIGTERM');
    await first.exited;
    // Azure lost the grant while the bot was down (here: the simulator's saved state is gone).
    rmSync(path.join(dir, 'azure-sim.json'));

    const second = await spawnBot('lost-second', { JITBOT_DATA_DIR: dir, JITBOT_SIM_PORT: '0' });
    bots.push(second);
    second.signal('SIGTERM');
    await second.exited;
    const store = await openStore({ dataDir: dir });
    try {
      const r = await store.getRequest(id);
      assert.equal(r?.state, 'expired', `${id} is ${r?.state}`);
      const audit = await store.listAudit({ requestId: id });
      assert.ok(audit.some((e) => e.type === 'azure.reconciled' && /no longer shows/.test(String(e.details.how))), JSON.stringify(audit.map((e) => e.type)));
    } finally {
      await store.close();
    }
  });

  it('escalates a request on the local clock once, in the process started after a crash before the time', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jitbot-restart-escalate-'));
    const env = escalatingEnv(dir);
    const daveApproves = async (url: string, id: string) => (await postJson(`${url}/console/action`, { as: 'dave@example.com', verb: 'approve', requestId: id })).body;

    const first = await spawnBot('escalate-first', env);
    bots.push(first);
    const asked = await postJson(`${first.url}/console/command`, { as: 'alice@example.com', text: '/jit ssh web-01 1h from 10.1.2.7 for INC-9' });
    const id = /Sent for approval: (R[A-Z0-9]{5})/.exec(JSON.stringify(asked.body))?.[1];
    assert.ok(id, JSON.stringify(asked.body).slice(0, 400));
    await first.advance('PT19M');
    assert.match((await daveApproves(first.url, id)).message, /once it is escalated/, 'nothing before the time');
    first.signal('SIGKILL');
    await first.exited;

    // The escalation fell due while no process ran; the next one sends it, once, however long it runs.
    const second = await spawnBot('escalate-second', env);
    bots.push(second);
    await second.advance('PT1M');
    await second.advance('PT5M');
    const approved = await daveApproves(second.url, id);
    assert.equal(approved.ok, true, approved.message);
    second.signal('SIGTERM');
    assert.equal((await second.exited).code, 0);

    const store = await openStore({ dataDir: dir });
    try {
      const audit = await store.listAudit({ requestId: id });
      assert.equal(audit.filter((e) => e.type === 'request.escalated').length, 1, audit.map((e) => e.type).join(', '));
      assert.deepEqual(audit.find((e) => e.type === 'request.escalated')?.details.to, ['dave@example.com']);
      assert.equal(audit.filter((e) => e.type === 'request.approved' && e.actor?.email === 'dave@example.com').length, 1);
    } finally {
      await store.close();
    }
  });

  it("Dave's escalation message sent before a crash loses its buttons when Bob approves in the process after it", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jitbot-restart-ask-'));
    const env = escalatingEnv(dir);

    const first = await spawnBot('ask-first', env);
    bots.push(first);
    const asked = await postJson(`${first.url}/console/command`, { as: 'alice@example.com', text: '/jit ssh web-01 1h from 10.1.2.7 for INC-10' });
    const id = /Sent for approval: (R[A-Z0-9]{5})/.exec(JSON.stringify(asked.body))?.[1];
    assert.ok(id, JSON.stringify(asked.body).slice(0, 400));
    await first.advance('PT20M');
    assert.match(await snapshot(first.url, 'dave@example.com'), /was escalated to you/, 'Dave is asked before the crash');
    first.signal('SIGKILL');
    await first.exited;

    const second = await spawnBot('ask-second', env);
    bots.push(second);
    assert.equal((await postJson(`${second.url}/console/action`, { as: 'bob@example.com', verb: 'approve', requestId: id })).body.ok, true);
    await second.advance('PT1M');
    const after = await snapshot(second.url, 'dave@example.com');
    assert.doesNotMatch(after, /was escalated to you/, 'no ask is left with its old words');
    assert.match(after, /Approved by Bob at (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC/);
    const late = (await postJson(`${second.url}/console/action`, { as: 'dave@example.com', verb: 'approve', requestId: id })).body;
    assert.equal(late.ok, false);
    assert.match(late.message, /already approved by Bob/);
    second.signal('SIGTERM');
    assert.equal((await second.exited).code, 0);

    const store = await openStore({ dataDir: dir });
    try {
      assert.equal((await store.listMessageRefs(id)).filter((r) => r.kind === 'ask:request').length, 1, "Dave's message is remembered on disk");
      assert.deepEqual((await store.getRequest(id))!.approvals.map((a) => a.by.email), ['bob@example.com']);
    } finally {
      await store.close();
    }
  });

  it('a reminder sent after a crash loses its buttons when the grant expires, and the requester\'s copy follows every transition', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jitbot-restart-reminder-'));
    const first = await spawnBot('reminder-first', { JITBOT_DATA_DIR: dir, JITBOT_SIM_PORT: '0' });
    bots.push(first);
    const asked = await postJson(`${first.url}/console/command`, { as: 'alice@example.com', text: '/jit ssh web-01 30m from 10.1.2.7 for restart' });
    const id = /Sent for approval: (R[A-Z0-9]{5})/.exec(JSON.stringify(asked.body))?.[1];
    assert.ok(id, JSON.stringify(asked.body).slice(0, 400));
    assert.equal((await postJson(`${first.url}/console/action`, { as: 'bob@example.com', verb: 'approve', requestId: id })).body.ok, true);
    await first.advance('PT1M');
    first.signal('SIGKILL');
    await first.exited;

    const second = await spawnBot('reminder-second', { JITBOT_DATA_DIR: dir, JITBOT_SIM_PORT: '0' });
    bots.push(second);
    await second.advance('PT25M');
    const before = await snapshot(second.url, 'alice@example.com');
    assert.match(before, /ends at (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC/, 'the reminder came from the new process');
    await second.advance('PT10M');
    const after = await snapshot(second.url, 'alice@example.com');
    assert.doesNotMatch(after, /ends at (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC \(in/, 'no reminder is left with its old words');
    assert.match(after, /Closed at (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC: the access ended/);
    second.signal('SIGTERM');
    assert.equal((await second.exited).code, 0);

    const store = await openStore({ dataDir: dir });
    try {
      const refs = await store.listMessageRefs(id);
      assert.equal(refs.filter((r) => r.kind === 'notice').length, 2, 'the thread reminder and the direct one are remembered on disk');
      assert.ok(refs.some((r) => r.kind === 'copy'), "the requester's copy is remembered on disk");
      assert.equal((await store.findJobIds([`${id}:close-notices`])).size, 0, 'nothing left to redraw');
    } finally {
      await store.close();
    }
  });
});

/** A bot on its own data directory with the local world, web escalating to Dave after 20 minutes. */
function escalatingEnv(dir: string): Record<string, string> {
  const config = path.join(dir, 'jitbot.yaml');
  writeFileSync(config, readFileSync(LOCAL_CONFIG, 'utf8').replace('    approvals: 1\n', '    approvals: 1\n    escalateAfterMinutes: 20\n    escalateTo: [dave@example.com]\n'));
  return { JITBOT_DATA_DIR: dir, JITBOT_SIM_PORT: '0', JITBOT_CONFIG: config };
}

/** What the console shows this person right now: the first event of its stream, a snapshot. */
async function snapshot(base: string, as: string): Promise<string> {
  const controller = new AbortController();
  const res = await fetch(`${base}/console/events?as=${encodeURIComponent(as)}`, { signal: controller.signal });
  const reader = res.body!.getReader();
  let text = '';
  try {
    // The first event is complete once a data line is followed by a blank line.
    while (!/^data:.*\n\n/m.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
  } finally {
    controller.abort();
  }
  return text;
}
