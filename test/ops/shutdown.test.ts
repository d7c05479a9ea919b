// Graceful shutdown of a replica that holds work: SIGTERM, as Kubernetes or systemd send it. The bot
// stops taking requests (/readyz says draining), lets the work it runs finish, gives back the leases
// of the work it had claimed but not started, and exits 0 well within 10 seconds. Another process
// then finishes everything at once (not after the 30-second leases lapse), and nothing runs twice.
import { strict as assert } from 'node:assert';
import { users } from '../clients/teams';
import { click, deliveries, installTeams, requestAndCard, say, startCluster, type Cluster } from './cluster';
import { getJson, inLanes, waitUntil } from './support';

const REQUESTS = 30;
const MINUTE = 60_000;

if (process.env.TEST_DATABASE_URL) {
  describe('graceful shutdown of a replica holding work', function () {
    this.timeout(180_000);
    let cluster: Cluster;

    before(async () => {
      cluster = await startCluster({ vms: 6, portsPerVm: 5 });
    });
    after(async () => {
      await cluster?.close();
    });

    it('SIGTERM finishes running work, releases claimed work, exits 0 within 10 s; another replica finishes the rest once', async () => {
      // B alone takes the approvals, so the openings are B's to run, 8 at a time.
      const b = await cluster.startBot('b', { JITBOT_JOB_CONCURRENCY: '8' });
      await installTeams(cluster, b);
      cluster.connector.reset();
      const asks = Array.from({ length: REQUESTS }, (_, i) => i);
      const cards = new Map<number, { id: string; cardId: string }>();
      await inLanes(asks, 4, async (i) => {
        const t = cluster.targets[i];
        await say(cluster, b, users.alice, `jit ${t.port} ${t.vm} 30m from 10.2.0.${i + 1} for DRAIN-${i}`);
        cards.set(i, await requestAndCard(cluster, `DRAIN-${i}`));
      });
      await cluster.settle();

      // Azure takes each initiate at once but answers after 3 s: B's openings stay in flight.
      cluster.sim.setFaults({ slowRate: 1, slowMs: 3_000 });
      await inLanes(asks, 4, async (i) => {
        const { id, cardId } = cards.get(i)!;
        await click(cluster, b, i % 2 === 0 ? users.bob : users.carol, 'approve', id, cardId);
      });
      // More claimed than B runs at once: some openings run, the rest wait in B's hands.
      await waitUntil('B to hold more leases than it runs at once', async () => (await leases(cluster, b.owner)) >= 12, 10_000, 10);
      // And one opening that has only just reached Azure, so B is still waiting on it when the signal comes.
      const initiatesSoFar = () => cluster.sim.requestLog.filter((e) => e.method === 'POST' && /\/initiate\?/i.test(e.path)).length;
      const initiatesBefore = initiatesSoFar();
      await waitUntil('B to send another initiate', async () => initiatesSoFar() > initiatesBefore, 10_000, 5);
      const held = await leases(cluster, b.owner);

      // Watch B from outside while it stops, as a load balancer would: several probes in flight at
      // once, since a readiness probe waits for Azure, which is slow right now.
      const seen: string[] = [];
      const probe = setInterval(() => {
        getJson(`${b.url}/readyz`).then(
          (r) => {
            seen.push(`readyz ${r.status} ${r.body?.status}`);
            // While draining, the process is still alive: nothing should restart it.
            if (r.body?.status === 'draining') getJson(`${b.url}/healthz`).then((h) => seen.push(`healthz ${h.status}`), () => undefined);
          },
          () => undefined,
        );
      }, 25);
      b.signal('SIGTERM');
      const exit = await b.exited;
      clearInterval(probe);
      assert.ok(seen.includes('readyz 503 draining'), `a load balancer is told to stop sending requests: ${[...new Set(seen)].join(', ')}`);
      assert.ok(seen.includes('healthz 200'), 'and the health check still says the process lives');
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, `B exited cleanly: ${b.stderr.join('')}`);
      assert.ok(exit.afterMs < 10_000, `B exited ${exit.afterMs} ms after SIGTERM`);

      assert.equal(await leases(cluster, b.owner), 0, 'B holds no lease after it exits');
      const waiting = await cluster.store.db.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM jobs WHERE done_at IS NULL AND failed_at IS NULL AND lease_owner IS NULL AND due_at <= $1`,
        [cluster.clock.now()],
      );
      assert.ok(Number(waiting[0].n) > 0, 'work B had claimed but not started is back in the queue');
      const opening = (await cluster.store.listRequests({ states: ['opening'] })).length;
      assert.ok(opening > 0 && opening < REQUESTS, `B finished some openings and left others (${opening} still opening)`);

      // A replica taking over finishes the released work at once: the clocks do not move, so work
      // still leased to B would wait 30 seconds for the lease to lapse.
      cluster.sim.setFaults({});
      const tookOver = Date.now();
      const a = await cluster.startBot('a');
      await waitUntil('every request to be active', async () => (await cluster.store.listRequests({ states: ['active'] })).length === REQUESTS, 20_000, 100);
      await cluster.settle();
      const takeOverMs = Date.now() - tookOver;
      assert.ok(takeOverMs < 25_000, `A finished B's work in ${takeOverMs} ms, without waiting out B's leases`);

      const initiates = cluster.sim.requestLog.filter((e) => e.method === 'POST' && /\/initiate\?/i.test(e.path) && e.status === 202);
      assert.equal(initiates.length, REQUESTS, 'each approval opened once');
      await cluster.advance('PT35M', 35 * MINUTE);
      await cluster.settle();
      assert.equal((await cluster.store.listRequests({ states: ['expired'] })).length, REQUESTS, 'every grant ended on time');

      // A clean stop repeats nothing: every card and notice reached Teams exactly once.
      const sent = deliveries(cluster.connector);
      for (const { id } of cards.values()) {
        const mine = sent.filter((d) => d.requestId === id).map((d) => `${d.where}:${d.kind}`).sort();
        assert.deepEqual(
          mine,
          ['card:other', 'dm:approved', 'dm:expired', 'dm:opened', 'dm:reminder', 'thread:approved', 'thread:expired', 'thread:opened', 'thread:reminder'],
          `${id} got each message once`,
        );
      }
      const undone = await cluster.store.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM jobs WHERE done_at IS NULL AND failed_at IS NULL`);
      assert.equal(undone[0].n, '0', 'no job is left undone');
      assert.ok(a.alive);
      process.stdout.write(`      ${JSON.stringify({ leasesHeldAtSigterm: held, exitMs: exit.afterMs, openingLeftByB: opening, takeOverMs })}\n`);
    });
  });
}

async function leases(cluster: Cluster, owner: string): Promise<number> {
  const [row] = await cluster.store.db.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM jobs WHERE lease_owner = $1 AND done_at IS NULL AND failed_at IS NULL`,
    [owner],
  );
  return Number(row.n);
}
