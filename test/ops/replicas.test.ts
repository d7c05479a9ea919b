// Two (then three) bot processes on one PostgreSQL, as replicas behind a load balancer: 300 requests
// from Teams, asked and approved on different replicas, one replica killed (SIGKILL) midway while it
// holds work, a fresh one started in its place, and every clock moved past the end. Nothing may be
// lost, and nothing repeated except what the kill makes unavoidable (see the at-risk jobs below).
import { strict as assert } from 'node:assert';
import { users, type TeamsUser } from '../clients/teams';
import { click, deliveries, installTeams, requestAndCard, say, startCluster, type Cluster, type Delivery, type NoticeKind } from './cluster';
import { inLanes, waitUntil, type BotProcess } from './support';

const REQUESTS = 300;
const LANES = 6;
const MINUTE = 60_000;

/** Who asks, and who approves (never the asker: requesters cannot approve their own requests). */
function people(i: number): { requester: TeamsUser; approver: TeamsUser } {
  const requester = [users.alice, users.bob, users.carol][i % 3];
  const approver = requester === users.bob ? users.carol : requester === users.carol ? users.bob : i % 2 === 0 ? users.bob : users.carol;
  return { requester, approver };
}

interface AtRiskJob {
  id: string;
  kind: string;
  request_id: string;
  payload: { platform?: string; notice?: { kind?: string } };
}

if (process.env.TEST_DATABASE_URL) {
  describe('several replicas on one PostgreSQL', function () {
    this.timeout(300_000);
    let cluster: Cluster;

    before(async () => {
      cluster = await startCluster({ vms: 30, portsPerVm: 10 });
    });
    after(async () => {
      await cluster?.close();
    });

    it('carries 300 requests from two replicas to expiry through a SIGKILL midway, each notice once', async () => {
      assert.ok(cluster.targets.length >= REQUESTS);
      const [a, b] = await Promise.all([cluster.startBot('a'), cluster.startBot('b')]);
      await installTeams(cluster, a);
      cluster.connector.reset();

      const ids = new Map<number, string>();
      /** Ask on one replica and approve on another, as a load balancer would spread them. */
      const drive = (from: number, to: number, askOn: (i: number) => BotProcess, approveOn: (i: number) => BotProcess) =>
        inLanes(
          Array.from({ length: to - from }, (_, k) => from + k),
          LANES,
          async (i) => {
            const t = cluster.targets[i];
            const { requester, approver } = people(i);
            await say(cluster, askOn(i), requester, `jit ${t.port} ${t.vm} 30m from 10.1.${Math.floor(i / 200)}.${(i % 200) + 1} for LOAD-${i}`);
            const { id, cardId } = await requestAndCard(cluster, `LOAD-${i}`);
            ids.set(i, id);
            await click(cluster, approveOn(i), approver, 'approve', id, cardId);
          },
        );
      const started = Date.now();

      // First half: asks and approvals spread over both replicas.
      await drive(0, 120, (i) => (i % 2 === 0 ? a : b), (i) => (i % 2 === 0 ? b : a));
      // Then Azure and Teams answer slowly (each takes the call at once; only the answer waits), and B
      // takes the approvals: B is left holding openings Azure has accepted and posts Teams has shown,
      // neither recorded yet. The worst moment to die.
      cluster.sim.setFaults({ slowRate: 1, slowMs: 2_000 });
      cluster.teams.slowAnswersMs = 1_500;
      await drive(120, 150, () => a, () => b);

      // No request to B is in flight now: a crash in the middle of an inbound request is another
      // window (the platform's retry finds the idempotency key claimed by the dead process) that this
      // test leaves out on purpose. B's scheduler is busy. Kill it while it holds an opening: if its last ones have just finished,
      // B takes one more approval, whose opening it then holds for the two seconds Azure takes.
      let next = 150;
      while ((await leasedBy(cluster, b.owner, 'open')) === 0) {
        assert.ok(next < 170, 'B took openings to run');
        await drive(next, next + 1, () => a, () => b);
        next += 1;
      }
      b.signal('SIGKILL');
      assert.equal((await b.exited).signal, 'SIGKILL');
      const atRisk = await cluster.store.db.query<AtRiskJob>(
        `SELECT id::text, kind, request_id, payload FROM jobs WHERE lease_owner = $1 AND done_at IS NULL AND failed_at IS NULL`,
        [b.owner],
      );
      const killedAtMs = Date.now() - started;
      assert.ok(atRisk.some((j) => j.kind === 'open'), 'B died holding at least one opening');
      cluster.sim.setFaults({});
      cluster.teams.slowAnswersMs = 0;

      // A replacement joins; the second half is spread over A and it.
      const c = await cluster.startBot('c');
      await drive(next, REQUESTS, (i) => (i % 2 === 0 ? a : c), (i) => (i % 2 === 0 ? c : a));
      const drivenMs = Date.now() - started;
      assert.equal(ids.size, REQUESTS);

      // B's leases lapse once the clocks pass them; the survivors finish B's openings.
      await cluster.settle({ deadOwner: b.owner });
      await cluster.advance('PT1M', MINUTE);
      await waitUntil('every request to be active', async () => (await states(cluster)).get('active') === REQUESTS, 60_000, 200);
      await cluster.settle();

      // Each approval opened its ports once: Azure saw exactly one initiate per request, the ones B
      // sent before dying included (the survivors found them accepted and did not send them again).
      const log = cluster.sim.requestLog;
      assert.ok(log.length < 1000, 'the simulator log kept every call (it keeps the last 1000)');
      const initiates = log.filter((e) => e.method === 'POST' && /\/initiate\?/i.test(e.path) && e.status === 202);
      assert.equal(initiates.length, REQUESTS, 'one accepted initiate per approved request');
      // And per request, from Azure's own history (the justification names the request).
      const history = await cluster.cloud.accessRecords(await cluster.cloud.listVms());
      for (const id of ids.values()) {
        assert.equal(history.filter((x) => x.justification?.startsWith(`jitbot ${id} `)).length, 1, `${id} was opened once in Azure`);
      }

      // Reminders (10 minutes before the end of a 30-minute grant), then the end.
      await cluster.advance('PT25M', 25 * MINUTE);
      await cluster.settle();
      await cluster.advance('PT10M', 10 * MINUTE);
      await cluster.settle();
      assert.deepEqual([...(await states(cluster))], [['expired', REQUESTS]], 'every request ended expired');
      for (const t of cluster.targets.slice(0, REQUESTS)) {
        assert.equal(cluster.sim.nsg(t.vm).some((r) => r.access === 'Allow'), false, `${t.vm} has no open JIT rule left`);
      }

      // What reached Teams. Expiry and reminder notices were all sent after the kill: exactly once.
      const sent = deliveries(cluster.connector);
      const count = (id: string, where: Delivery['where'], kind?: NoticeKind) => sent.filter((d) => d.requestId === id && d.where === where && (kind === undefined || d.kind === kind)).length;
      const risky = (id: string, kind: string, notice?: string) => atRisk.some((j) => j.request_id === id && j.kind === kind && (notice === undefined || j.payload.notice?.kind === notice));
      const duplicates: string[] = [];
      for (const id of ids.values()) {
        for (const kind of ['expired', 'reminder'] as const) {
          assert.equal(count(id, 'thread', kind), 1, `${id}: one ${kind} reply in the card's thread`);
          assert.equal(count(id, 'dm', kind), 1, `${id}: one ${kind} message to the requester`);
        }
        // Earlier notices: once, unless the job that posts it was in B's hands when B died. The post
        // may have reached Teams with B dead before recording it; the survivor then posts it again.
        const once: Array<[Delivery['where'], NoticeKind | undefined, string, string | undefined]> = [
          ['card', undefined, 'post-card', undefined],
          ['thread', 'approved', 'thread', 'approved'],
          ['dm', 'approved', 'dm', 'approved'],
          ['thread', 'opened', 'thread', 'opened'],
          ['dm', 'opened', 'dm', 'opened'],
        ];
        for (const [where, kind, job, notice] of once) {
          const n = count(id, where, kind);
          assert.ok(n >= 1, `${id}: the ${kind ?? 'approval card'} ${where} arrived`);
          if (n > 1) {
            const jobs = await cluster.store.db.query(`SELECT id, kind, key, attempts, lease_owner, payload->'notice'->>'kind' AS notice FROM jobs WHERE request_id = $1 ORDER BY id`, [id]);
            assert.ok(risky(id, job, notice), `${id}: ${n} × ${where} ${kind ?? ''} without a job B (${b.owner}) held when it died; jobs ${JSON.stringify(jobs)}`);
            duplicates.push(`${id} ${where} ${kind ?? 'card'} ×${n}`);
          }
        }
        // The audit trail, in the shared database, tells each request's whole story.
        const audit = await cluster.store.listAudit({ requestId: id });
        const types = audit.map((e) => e.type);
        for (const type of ['request.created', 'request.approval', 'request.approved', 'request.opened', 'request.reminded', 'request.expired']) {
          assert.equal(types.filter((t) => t === type).length, 1, `${id}: one ${type} in ${types.join(', ')}`);
        }
        const opens = audit.filter((e) => (e.type === 'azure.initiate' && e.details.ok === true) || e.type === 'azure.reconciled');
        assert.equal(opens.length, 1, `${id}: one record of how Azure opened it: ${types.join(', ')}`);
      }

      // No job is left to do, and none failed for good (the console, which lives in each process's
      // memory, draws a card it has not seen before replying under it).
      const undone = await cluster.store.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM jobs WHERE done_at IS NULL AND failed_at IS NULL`);
      assert.equal(undone[0].n, '0', 'no job is left undone');
      const failed = await cluster.store.db.query<{ kind: string; platform: string | null; last_error: string }>(
        `SELECT kind, payload->>'platform' AS platform, last_error FROM jobs WHERE failed_at IS NOT NULL`,
      );
      assert.deepEqual(failed, [], 'no job failed for good');

      // The survivors' logs: warnings and errors only (LOG_LEVEL=warn), each naming its request or
      // job, and no error at all.
      for (const bot of [a, c]) {
        const lines = bot.logLines();
        assert.deepEqual(lines.filter((l) => l.reqId === undefined && l.jobId === undefined).map((l) => l.msg), [], `${bot.name}: every line names its request or job`);
        const errors = lines.filter((l) => Number(l.level) >= 50);
        assert.deepEqual(errors, [], `${bot.name} logged no error`);
      }

      const report = {
        requests: REQUESTS,
        drivenMs,
        killedAtMs,
        atRiskJobs: atRisk.map((j) => `${j.kind}${j.payload.notice?.kind ? `:${j.payload.notice.kind}` : ''}${j.payload.platform ? `@${j.payload.platform}` : ''}`).sort(),
        duplicates,
        consoleRepliesFailed: failed.length,
        acceptedOpeningsFoundAfterTheKill: (await cluster.store.listAudit({})).filter((e) => e.type === 'azure.reconciled').length,
      };
      process.stdout.write(`      ${JSON.stringify(report)}\n`);
    });
  });
}

async function leasedBy(cluster: Cluster, owner: string, kind: string): Promise<number> {
  const [row] = await cluster.store.db.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM jobs WHERE lease_owner = $1 AND kind = $2 AND done_at IS NULL AND failed_at IS NULL`,
    [owner, kind],
  );
  return Number(row.n);
}

async function states(cluster: Cluster): Promise<Map<string, number>> {
  const rows = await cluster.store.db.query<{ state: string; n: string }>(`SELECT state, count(*)::text AS n FROM requests GROUP BY state ORDER BY state`);
  return new Map(rows.map((r) => [r.state, Number(r.n)]));
}
