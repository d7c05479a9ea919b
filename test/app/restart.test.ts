// A bot process holding open grants dies (SIGKILL); a new one on the same data directory finishes
// the work: every expiry runs exactly once, nothing is lost and nothing is repeated.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store';
import { postJson, spawnBot, type BotProcess } from '../helpers/bot-process';

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
});
