// A bot process holding open grants dies (SIGKILL); a new one on the same data directory finishes
// the work: every expiry runs exactly once, nothing is lost and nothing is repeated.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store';
import { startBotProcess, type BotProcess } from '../helpers/bot-process';

const GRANTS = 6;

describe('restarting the bot on the same PGlite data', function () {
  this.timeout(120_000);
  let dataDir: string;
  const bots: BotProcess[] = [];

  before(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'jitbot-restart-'));
  });
  after(async () => {
    for (const b of bots) if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGKILL');
  });

  it('runs every expiry exactly once after the process holding the grants is killed', async () => {
    const first = await startBotProcess({ JITBOT_DATA_DIR: dataDir });
    bots.push(first);
    const ids: string[] = [];
    for (let i = 1; i <= GRANTS; i++) {
      const vm = i % 2 === 0 ? 'web-01' : 'web-02';
      const res = await first.post('/console/command', { as: 'alice@example.com', text: `/jit ssh ${vm} 30m from 10.1.2.${i} for restart ${i}` });
      assert.equal(res.status, 200);
      const id = /Sent for approval: (R[A-Z0-9]{5})/.exec(JSON.stringify(res.body))?.[1];
      assert.ok(id, JSON.stringify(res.body).slice(0, 400));
      ids.push(id);
    }
    // Approve them all, and kill the process while the last openings may still be in flight.
    for (const id of ids) {
      const res = await first.post('/console/action', { as: 'bob@example.com', verb: 'approve', requestId: id });
      assert.equal(res.body.ok, true, JSON.stringify(res.body));
    }
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await startBotProcess({ JITBOT_DATA_DIR: dataDir });
    bots.push(second);
    // Past the leases the dead process held, and past every grant's end.
    for (const by of ['PT1M', 'PT10M', 'PT25M']) {
      const res = await second.post('/_local/clock/advance', { by });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0, 'a clean stop');

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
      }
    } finally {
      await store.close();
    }
  });
});
