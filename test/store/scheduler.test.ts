import assert from 'node:assert/strict';
import { ManualClock } from '../../src/app/clock';
import type { Job, JobSpec } from '../../src/app/ports';
import { Scheduler, isRetryable, type JobHandler, type SchedulerOptions } from '../../src/app/scheduler';
import { ChatError, CloudError, JitError } from '../../src/core/errors';
import type { TestStore } from '../../src/store';
import { jobRows, sampleRequest, storeEngines, T0 } from './helpers';

const SECOND = 1_000;

interface Recorded {
  warn: Array<[object, string | undefined]>;
  error: Array<[object, string | undefined]>;
}

for (const engine of storeEngines()) {
  describe(`Scheduler on ${engine.name}`, function () {
    let store: TestStore;
    let clock: ManualClock;
    let logs: Recorded;
    const schedulers: Scheduler[] = [];

    beforeEach(async function () {
      store = await engine.open();
      clock = new ManualClock(T0);
      logs = { warn: [], error: [] };
    });

    afterEach(async function () {
      await Promise.all(schedulers.splice(0).map((s) => s.stop({ timeoutMs: 100 })));
      await store.close();
    });

    function scheduler(handlers: SchedulerOptions['handlers'], opts: Partial<SchedulerOptions> = {}): Scheduler {
      const s = new Scheduler({
        store,
        clock,
        owner: opts.owner ?? 'test-owner',
        handlers,
        backoffMs: (attempt) => attempt * 10 * SECOND,
        logger: { warn: (obj, msg) => logs.warn.push([obj, msg]), error: (obj, msg) => logs.error.push([obj, msg]) },
        ...opts,
      });
      schedulers.push(s);
      return s;
    }

    const job = (key: string, dueOffsetMs = 0, extra: Partial<JobSpec> = {}): JobSpec => ({
      kind: 'expire',
      requestId: 'R1',
      dueAt: new Date(T0.getTime() + dueOffsetMs),
      key,
      ...extra,
    });

    /** A handler that fails with `errors` in turn, then succeeds; it records every call. */
    function scripted(errors: unknown[]): JobHandler & { calls: Job[] } {
      const calls: Job[] = [];
      const handler = async (j: Job) => {
        calls.push(j);
        const err = errors[calls.length - 1];
        if (err !== undefined) throw err;
      };
      return Object.assign(handler, { calls });
    }

    /** A handler that records every job and holds the ones `held` picks until release(). */
    function gated(held: (j: Job) => boolean): JobHandler & { ran: string[]; release(): void } {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const ran: string[] = [];
      const handler = async (j: Job) => {
        ran.push(j.key);
        if (held(j)) await gate;
      };
      return Object.assign(handler, { ran, release });
    }

    it('should run due jobs, leave the rest for later, and record them done', async function () {
      const ran: string[] = [];
      const s = scheduler({ expire: async (j) => void ran.push(j.key), dm: async (j) => void ran.push(j.key) });
      await store.scheduleJobs([job('a'), job('b', -5 * SECOND, { kind: 'dm' }), job('later', 60 * SECOND)]);

      await s.drain();
      assert.deepEqual(ran, ['b', 'a']);
      assert.equal(s.stats.succeeded, 2);
      assert.equal(s.stats.lastLagMs, 0);

      clock.advance(60 * SECOND);
      await s.drain();
      assert.deepEqual(ran, ['b', 'a', 'later']);
      assert.deepEqual((await jobRows(store)).map((r) => r.done), [true, true, true]);
    });

    it('should record a finished job even when the store refuses the record once, so it never runs again', async function () {
      const ran: string[] = [];
      const s = scheduler({ expire: async (j) => void ran.push(j.key) });
      await store.scheduleJobs([job('a')]);
      const complete = store.completeJob.bind(store);
      let refusals = 0;
      store.completeJob = async (id, owner) => {
        if (refusals++ === 0) throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
        return complete(id, owner);
      };

      await s.drain();
      // Long after the lease would have lapsed, nothing runs a second time.
      clock.advance(10 * 60 * SECOND);
      await s.drain();
      assert.deepEqual(ran, ['a']);
      assert.equal(s.stats.succeeded, 1);
      assert.deepEqual((await jobRows(store)).map((r) => r.done), [true]);
      assert.deepEqual(logs.error, []);
    });

    it('should retry a retryable failure after its backoff and then succeed', async function () {
      const handler = scripted([new CloudError('throttled', 'Azure is throttling requests'), new Error('socket hang up')]);
      const s = scheduler({ expire: handler });
      await store.scheduleJobs([job('a')]);

      await s.drain();
      assert.equal(handler.calls.length, 1);
      let [row] = await jobRows(store);
      assert.deepEqual(row.due_at, new Date(T0.getTime() + 10 * SECOND));
      assert.equal(row.last_error, 'CloudError: Azure is throttling requests');
      assert.equal(row.lease_owner, null);

      clock.advance(10 * SECOND - 1);
      await s.drain();
      assert.equal(handler.calls.length, 1, 'not before the backoff has passed');
      clock.advance(1);
      await s.drain();
      assert.equal(handler.calls.length, 2, 'an unknown error is retried too');
      clock.advance(20 * SECOND);
      await s.drain();
      assert.deepEqual(handler.calls.map((c) => c.attempts), [1, 2, 3]);
      [row] = await jobRows(store);
      assert.equal(row.done, true);
      assert.equal(s.stats.retried, 2);
      assert.equal(logs.warn.length, 2);
    });

    it('should wait as long as the platform asks when that is longer than the backoff', async function () {
      const handler = scripted([new ChatError('Slack rate limit', { retryable: true, retryAfterMs: 45 * SECOND })]);
      const s = scheduler({ expire: handler });
      await store.scheduleJobs([job('a')]);

      await s.drain();
      const [row] = await jobRows(store);
      assert.deepEqual(row.due_at, new Date(T0.getTime() + 45 * SECOND));
    });

    it('should give up at once on an error that says it cannot succeed', async function () {
      const handler = scripted([new CloudError('forbidden', 'The bot lacks the JIT initiate role')]);
      const s = scheduler({ expire: handler });
      await store.scheduleJobs([job('a')]);

      await s.drain();
      clock.advance(3_600 * SECOND);
      await s.drain();
      const [row] = await jobRows(store);
      assert.equal(handler.calls.length, 1);
      assert.equal(row.failed, true);
      assert.equal(row.last_error, 'CloudError: The bot lacks the JIT initiate role');
      assert.equal(s.stats.failed, 1);
      assert.equal(logs.error.length, 1);
    });

    it('should give up after the last allowed attempt', async function () {
      const handler = scripted(Array.from({ length: 10 }, () => new ChatError('Bot Connector 503', { retryable: true })));
      const s = scheduler({ expire: handler }, { maxAttempts: 3 });
      await store.scheduleJobs([job('a')]);

      for (let i = 0; i < 5; i++) {
        await s.drain();
        clock.advance(60 * SECOND);
      }
      const [row] = await jobRows(store);
      assert.equal(handler.calls.length, 3);
      assert.equal(row.failed, true);
      assert.equal(row.attempts, 3);
    });

    it('should retry a job whose kind has no handler here, since another version may run it', async function () {
      const s = scheduler({});
      await store.scheduleJobs([job('a', 0, { kind: 'thread' })]);
      await s.drain();
      const [row] = await jobRows(store);
      assert.equal(row.done || row.failed, false);
      assert.match(row.last_error ?? '', /no handler for job kind "thread"/);
    });

    it('should share one claim among kicks made while a round claims', async function () {
      const ran: string[] = [];
      const s = scheduler({ expire: async (j) => void ran.push(j.key) });
      await store.scheduleJobs([job('first'), job('second')]);

      await Promise.all([s.kick(), s.kick(), s.kick()]);

      assert.deepEqual(ran.sort(), ['first', 'second']);
      assert.equal(s.stats.rounds, 2, 'the first kick claims; the other two share one follow-up');
    });

    it('should run jobs committed while a slow job runs without waiting for it', async function () {
      const expire = gated((j) => j.key === 'slow');
      const { ran } = expire;
      const s = scheduler({ expire });
      await store.scheduleJobs([job('slow')]);
      const slowRound = s.kick();
      while (ran.length === 0) await new Promise((r) => setTimeout(r, 5));

      await store.scheduleJobs([job('reply'), job('redraw')]);
      await s.kick();
      assert.deepEqual(ran, ['slow', 'reply', 'redraw'], 'both ran while the slow job still held its slot');

      expire.release();
      await slowRound;
      assert.equal(s.stats.succeeded, 3);
    });

    it('should work through a backlog larger than one claim without waiting for a poll', async function () {
      const ran: string[] = [];
      // Never started, so nothing polls: only finished jobs can bring the next claim.
      const s = scheduler({ expire: async (j) => void ran.push(j.key) }, { batchSize: 10, concurrency: 8 });
      await store.scheduleJobs(Array.from({ length: 45 }, (_, i) => job(`j${i}`, -i)));

      await s.kick();
      for (let waited = 0; ran.length < 45 && waited < 5_000; waited += 10) await new Promise((r) => setTimeout(r, 10));

      assert.equal(ran.length, 45, `${ran.length} of 45 ran after one kick`);
      assert.equal(new Set(ran).size, 45, 'each once');
      assert.ok(s.stats.rounds >= 5, `${s.stats.rounds} claims of at most 10`);
    });

    it('should not run its own running job again when the clock moves past its lease', async function () {
      const expire = gated(() => true);
      const { ran } = expire;
      const s = scheduler({ expire });
      await store.scheduleJobs([job('notice')]);
      const first = s.kick();
      while (ran.length === 0) await new Promise((r) => setTimeout(r, 5));

      // The local clock jumps 25 minutes while the notice is still being sent: its lease looks lapsed.
      clock.advance(25 * 60 * SECOND);
      await s.kick();
      assert.equal(await s.runJob((await jobRows(store))[0].id), false);
      expire.release();
      await first;
      await s.drain();

      assert.deepEqual(ran, ['notice'], 'sent once');
      assert.deepEqual((await jobRows(store)).map((r) => r.done), [true]);
    });

    it('should run a job by id right away, and refuse one that is leased or not due', async function () {
      const ran: string[] = [];
      const s = scheduler({ expire: async (j) => void ran.push(j.key) });
      await store.scheduleJobs([job('now'), job('later', 60 * SECOND), job('held')]);
      const ids = await store.findJobIds(['now', 'later', 'held']);
      await store.claimJob(ids.get('held')!, 'someone-else', T0, 30 * SECOND);

      assert.equal(await s.runJob(ids.get('now')!), true);
      assert.deepEqual(ran, ['now']);
      assert.equal(await s.runJob(ids.get('now')!), false, 'already done');
      assert.equal(await s.runJob(ids.get('later')!), false);
      assert.equal(await s.runJob(ids.get('held')!), false);
      assert.deepEqual(ran, ['now']);
    });

    it('should never run a job twice across two schedulers sharing the store', async function () {
      const counts = new Map<string, number>();
      const handler: JobHandler = async (j) => {
        counts.set(j.key, (counts.get(j.key) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 1));
      };
      const a = scheduler({ expire: handler }, { owner: 'a', batchSize: 7 });
      const b = scheduler({ expire: handler }, { owner: 'b', batchSize: 5 });
      await store.scheduleJobs(Array.from({ length: 60 }, (_, i) => job(`j${i}`, -i)));

      await Promise.all([a.drain(), b.drain(), a.drain(), b.drain()]);
      assert.equal(counts.size, 60);
      assert.deepEqual([...new Set(counts.values())], [1]);
      assert.equal(a.stats.succeeded + b.stats.succeeded, 60);
    });

    it('should skip a queued job whose lease lapsed before its turn came', async function () {
      const ran: string[] = [];
      const s = scheduler(
        {
          expire: async (j) => {
            ran.push(j.key);
            if (j.key === 'slow') clock.advance(31 * SECOND);
          },
        },
        { concurrency: 1, leaseMs: 30 * SECOND },
      );
      await store.scheduleJobs([job('slow', -1), job('queued')]);
      await s.kick();
      assert.equal(logs.warn.length, 1, 'the queued job was left, not run on a lapsed lease');
      await s.drain();
      assert.deepEqual(ran, ['slow', 'queued'], 'taken again once its lease had lapsed, and run once');
    });

    it('should run a waiting job under the lease a later claim renewed when the clock moved, not leave it stranded', async function () {
      const expire = gated(() => true);
      const redraws: string[] = [];
      const s = scheduler({ expire, 'update-card': async (j) => void redraws.push(j.key) }, { leaseMs: 30 * SECOND, deferKinds: ['update-card'], deferMaxMs: 10_000 });
      await store.scheduleJobs([job('slow', -1), job('redraw', 0, { kind: 'update-card' })]);
      const first = s.kick();
      while (expire.ran.length === 0) await new Promise((r) => setTimeout(r, 5));
      // The local clock jumps while the redraw waits for the slow job: a claim takes it again, for us.
      clock.advance(31 * SECOND);
      await s.kick();
      expire.release();
      await first;

      assert.deepEqual(redraws, ['redraw'], 'run under the renewed lease, without waiting for it to lapse');
      assert.deepEqual(logs.warn, []);
      assert.deepEqual((await jobRows(store)).map((r) => r.done), [true, true]);
    });

    it('should wait for running handlers on stop, abort them at the deadline, and release the leases', async function () {
      let aborted = false;
      let started = 0;
      const s = scheduler(
        {
          expire: (_j, signal) =>
            new Promise<void>((_resolve, reject) => {
              started++;
              signal.addEventListener('abort', () => {
                aborted = true;
                reject(signal.reason);
              });
            }),
        },
        { concurrency: 2 },
      );
      await store.scheduleJobs([job('a', -2), job('b', -1), job('queued')]);

      const round = s.kick();
      while (started < 2) await new Promise((r) => setTimeout(r, 5));
      await s.stop({ timeoutMs: 50 });
      await round;

      assert.equal(aborted, true);
      assert.equal(started, 2, 'the queued job did not start after stop began');
      const rows = await jobRows(store);
      assert.deepEqual(
        rows.map((r) => [r.lease_owner, r.done, r.failed, r.last_error]),
        [
          [null, false, false, null],
          [null, false, false, null],
          [null, false, false, null],
        ],
      );
      assert.deepEqual((await store.claimJobs('next-process', T0, 30 * SECOND, 10)).length, 3);
      assert.equal(await s.runJob(rows[0].id), false, 'a stopped scheduler claims nothing');
    });

    it('should let a handler that finishes before the stop deadline complete its job', async function () {
      const s = scheduler({ expire: () => new Promise<void>((resolve) => setTimeout(resolve, 30)) });
      await store.scheduleJobs([job('a')]);
      const round = s.kick();
      while (s.stats.running === 0) await new Promise((r) => setTimeout(r, 2));
      await s.stop({ timeoutMs: 2_000 });
      await round;
      assert.deepEqual((await jobRows(store)).map((r) => r.done), [true]);
    });

    it('should hold a redraw while other work runs, and start it as soon as that work is done', async function () {
      const expire = gated((j) => j.key === 'open');
      const redraws: string[] = [];
      const s = scheduler({ expire, 'update-card': async (j) => void redraws.push(j.key) }, { deferKinds: ['update-card'], deferMaxMs: 10_000 });
      await store.scheduleJobs([job('open'), job('redraw', 0, { kind: 'update-card' })]);
      const round = s.kick();
      while (expire.ran.length === 0) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(redraws, [], 'the redraw waits while the other job runs');

      expire.release();
      await round;
      assert.deepEqual(redraws, ['redraw'], 'and runs once it is done, well before deferMaxMs');
    });

    it('should start a held redraw after deferMaxMs even while other work keeps running', async function () {
      const expire = gated(() => true);
      const redraws: string[] = [];
      const s = scheduler({ expire, 'update-card': async (j) => void redraws.push(j.key) }, { deferKinds: ['update-card'], deferMaxMs: 60 });
      await store.scheduleJobs([job('slow'), job('redraw', 0, { kind: 'update-card' })]);
      const round = s.kick();
      const started = Date.now();
      while (redraws.length === 0 && Date.now() - started < 5_000) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(redraws, ['redraw']);
      assert.deepEqual(expire.ran, ['slow'], 'while the other job was still running');
      assert.ok(Date.now() - started >= 55, `started after ${Date.now() - started} ms, not at once`);
      expire.release();
      await round;
    });

    it("should run the due jobs a commit leased to it without claiming them, and leave later ones to claims", async function () {
      const ran: string[] = [];
      const s = scheduler({ expire: async (j) => void ran.push(j.key) }, { pollIntervalMs: 60 * SECOND });
      assert.equal(s.leaseForNewJobs(), undefined, 'no lease before the scheduler runs');
      s.start();
      while (s.stats.rounds === 0) await new Promise((r) => setTimeout(r, 5));
      const rounds = s.stats.rounds;

      const lease = s.leaseForNewJobs();
      assert.ok(lease);
      const request = sampleRequest();
      assert.equal(await store.commit({ request, expectedVersion: null, schedule: [job('now'), job('later', 60 * SECOND)], lease }), true);
      while (ran.length === 0) await new Promise((r) => setTimeout(r, 5));
      await s.stop({ timeoutMs: 1_000 });

      assert.deepEqual(ran, ['now']);
      assert.equal(s.stats.rounds, rounds, 'no claim ran for it');
      const rows = await jobRows(store);
      assert.deepEqual(
        rows.map((r) => [r.key, r.done, r.attempts]),
        [
          ['now', true, 1],
          ['later', false, 0],
        ],
      );
      assert.equal(rows[1].lease_owner, null, 'the later job is left for a claim when it falls due');
    });

    it('should hand a leased job to another process once the lease of the one that committed it lapses', async function () {
      const ran: string[] = [];
      const survivor = scheduler({ expire: async (j) => void ran.push(j.key) }, { owner: 'survivor' });
      // The committing process dies before it can run what it leased.
      const lease = { owner: 'dead', now: T0, until: new Date(T0.getTime() + 30 * SECOND), adopt: () => {} };
      assert.equal(await store.commit({ request: sampleRequest(), expectedVersion: null, schedule: [job('notice')], lease }), true);

      await survivor.drain();
      assert.deepEqual(ran, [], 'not while the lease holds');
      clock.advance(31 * SECOND);
      await survivor.drain();
      assert.deepEqual(ran, ['notice'], 'once it lapsed, and once');
      assert.deepEqual((await jobRows(store)).map((r) => [r.done, r.attempts]), [[true, 2]]);
    });

    it('should not lease a commit\'s jobs while it holds as many as a claim would let it', async function () {
      const expire = gated(() => true);
      const s = scheduler({ expire }, { concurrency: 2, pollIntervalMs: 60 * SECOND });
      s.start();
      await store.scheduleJobs([job('a'), job('b'), job('c'), job('d')]);
      const round = s.kick();
      while (expire.ran.length < 2) await new Promise((r) => setTimeout(r, 5));
      assert.equal(s.leaseForNewJobs(), undefined, 'four held: its slots twice over');
      expire.release();
      await round;
      await s.drain();
      assert.ok(s.leaseForNewJobs());
    });

    it('should wake for a job falling due before the next poll, not a whole interval later', async function () {
      const ran: Array<[string, number]> = [];
      const started = Date.now();
      // A clock that moves with real time, so the job falls due while the test waits.
      const moving = { now: () => new Date(T0.getTime() + (Date.now() - started)) };
      const s = scheduler({ expire: async (j) => void ran.push([j.key, Date.now() - started]) }, { clock: moving, pollIntervalMs: 60 * SECOND });
      await store.scheduleJobs([job('soon', 300)]);
      s.start();
      while (ran.length === 0 && Date.now() - started < 5_000) await new Promise((r) => setTimeout(r, 10));
      await s.stop({ timeoutMs: 1_000 });
      assert.equal(ran.length, 1, 'ran before the 60 s poll');
      assert.ok(ran[0][1] >= 300, `not before it was due (${ran[0][1]} ms)`);
    });

    it('should poll on its own once started', async function () {
      const ran: string[] = [];
      const s = scheduler({ expire: async (j) => void ran.push(j.key) }, { pollIntervalMs: 10 });
      s.start();
      await store.scheduleJobs([job('a')]);
      while (ran.length === 0) await new Promise((r) => setTimeout(r, 5));
      await s.stop({ timeoutMs: 1_000 });
      assert.deepEqual(ran, ['a']);
    });
  });
}

describe('Scheduler error classification', function () {
  it('should classify errors: retryable flags first, then our own errors as final, unknown ones as passing', function () {
    assert.equal(isRetryable(new CloudError('unavailable', 'Azure 503')), true);
    assert.equal(isRetryable(new CloudError('invalid', 'port 23 is not in the policy')), false);
    assert.equal(isRetryable(new ChatError('channel_not_found', { retryable: false })), false);
    assert.equal(isRetryable(new JitError('not_found', 'no such request')), false);
    assert.equal(isRetryable(new TypeError('x is undefined')), true);
    assert.equal(isRetryable('a string'), true);
  });
});
