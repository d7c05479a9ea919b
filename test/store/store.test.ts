import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { JobSpec, StoredMessageRef } from '../../src/app/ports';
import { MIGRATIONS, migrate, type TestStore } from '../../src/store';
import { at, auditEvent, jobRows, person, sampleRequest, storeEngines, T0 } from './helpers';

for (const engine of storeEngines()) {
  describe(`SqlStore on ${engine.name}`, function () {
    let store: TestStore;

    beforeEach(async function () {
      store = await engine.open();
    });

    afterEach(async function () {
      await store.close();
    });

    describe('requests', function () {
      it('should read back a stored request whole, with every date revived as a Date', async function () {
        const approver = person('bob@example.com', 'teams');
        const request = sampleRequest({
          state: 'active',
          approvals: [{ by: approver, at: at(60_000) }],
          openedAt: at(61_000),
          endsAt: at(3_661_000),
          extension: { durationMinutes: 30, requestedAt: at(120_000), approvals: [{ by: approver, at: at(130_000) }] },
          denial: { by: approver, at: at(5_000), reason: 'not during the freeze' },
          autoApproved: false,
        });
        assert.equal(await store.commit({ request, expectedVersion: null }), true);

        const read = await store.getRequest(request.id);
        assert.deepEqual(read, request);
        assert.ok(read?.createdAt instanceof Date);
        assert.ok(read?.extension?.approvals[0].at instanceof Date);
        assert.equal(typeof read?.reason, 'string', 'text that looks like a date stays text');
      });

      it('should read back an escalated request and an escalated extension with their dates revived', async function () {
        const dave = [{ name: 'Dave', email: 'dave@example.com' }];
        const pending = sampleRequest({ escalation: { at: at(1_200_000), to: dave } });
        const extended = sampleRequest({
          id: 'R2EXT',
          state: 'active',
          openedAt: at(61_000),
          endsAt: at(3_661_000),
          escalation: { at: at(30_000), to: [] },
          extension: { durationMinutes: 30, requestedAt: at(120_000), approvals: [], escalation: { at: at(1_320_000), to: dave } },
        });
        for (const request of [pending, extended]) {
          assert.equal(await store.commit({ request, expectedVersion: null }), true);
          const read = await store.getRequest(request.id);
          assert.deepEqual(read, request);
        }
        assert.ok((await store.getRequest(pending.id))?.escalation?.at instanceof Date);
        assert.ok((await store.getRequest('R2EXT'))?.extension?.escalation?.at instanceof Date);
      });

      it('should return null for a request that does not exist', async function () {
        assert.equal(await store.getRequest('RNOPE'), null);
      });

      it('should refuse a second insert with the same id and write nothing that came with it', async function () {
        const request = sampleRequest();
        assert.equal(await store.commit({ request, expectedVersion: null }), true);
        const again = await store.commit({
          request: { ...request, reason: 'second' },
          expectedVersion: null,
          audit: [auditEvent({ requestId: request.id, type: 'request.created' })],
          schedule: [{ kind: 'pending-timeout', requestId: request.id, dueAt: at(0), key: `timeout:${request.id}` }],
        });
        assert.equal(again, false);
        assert.equal((await store.getRequest(request.id))?.reason, request.reason);
        assert.deepEqual(await store.listAudit({}), []);
        assert.deepEqual(await jobRows(store), []);
      });

      it('should update only on the expected version, storing version + 1', async function () {
        const request = sampleRequest();
        await store.commit({ request, expectedVersion: null });

        const approved = { ...request, state: 'opening' as const, version: 2 };
        assert.equal(await store.commit({ request: approved, expectedVersion: 1 }), true);
        const stale = { ...request, state: 'denied' as const, version: 2 };
        assert.equal(await store.commit({ request: stale, expectedVersion: 1, audit: [auditEvent({ type: 'request.denied' })] }), false);

        const read = await store.getRequest(request.id);
        assert.equal(read?.state, 'opening');
        assert.equal(read?.version, 2);
        assert.deepEqual(await store.listAudit({}), [], 'the losing commit wrote no audit');

        // Whatever version the object carries, the stored one is expected + 1.
        assert.equal(await store.commit({ request: { ...approved, version: 99 }, expectedVersion: 2 }), true);
        assert.equal((await store.getRequest(request.id))?.version, 3);
      });

      it('should let exactly one of 50 parallel commits against one version through', async function () {
        const request = sampleRequest();
        await store.commit({ request, expectedVersion: null });

        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            store.commit({
              request: { ...request, state: 'denied', version: 2, denial: { by: person(`approver${i}@example.com`), at: at(i) } },
              expectedVersion: 1,
              audit: [auditEvent({ requestId: request.id, type: 'request.denied', details: { i } })],
              schedule: [{ kind: 'update-card', requestId: request.id, dueAt: at(0), key: `card:${request.id}:${i}` }],
              cancelJobs: { requestId: request.id },
            }),
          ),
        );

        assert.equal(results.filter(Boolean).length, 1);
        const winner = results.indexOf(true);
        const read = await store.getRequest(request.id);
        assert.equal(read?.version, 2);
        assert.equal(read?.denial?.by.email, `approver${winner}@example.com`);
        const audit = await store.listAudit({ requestId: request.id });
        assert.deepEqual(audit.map((e) => e.details), [{ i: winner }]);
        assert.deepEqual((await jobRows(store)).map((j) => j.key), [`card:${request.id}:${winner}`]);
      });

      it('should commit many requests sent at the same moment, each with its own outcome and nothing of a loser', async function () {
        const taken = sampleRequest();
        const moving = sampleRequest();
        await store.commit({ request: taken, expectedVersion: null });
        await store.commit({ request: moving, expectedVersion: null });
        const fresh = Array.from({ length: 30 }, () => sampleRequest());
        const changes = [
          ...fresh.map((request) => ({
            request,
            expectedVersion: null,
            audit: [auditEvent({ requestId: request.id, details: { id: request.id } })],
            schedule: [{ kind: 'post-card' as const, requestId: request.id, dueAt: at(0), key: `${request.id}:post-card` }],
          })),
          // An id already taken, a compare-and-set that wins and one against a version long gone.
          { request: { ...taken, reason: 'again' }, expectedVersion: null, audit: [auditEvent({ requestId: taken.id, type: 'lost' })] },
          { request: { ...moving, state: 'denied' as const, version: 2 }, expectedVersion: 1, audit: [auditEvent({ requestId: moving.id, type: 'request.denied' })] },
          { request: { ...taken, state: 'denied' as const, version: 8 }, expectedVersion: 7, schedule: [{ kind: 'update-card' as const, requestId: taken.id, dueAt: at(0), key: 'lost' }] },
        ];
        const results = await Promise.all(changes.map((c) => store.commit(c)));

        assert.deepEqual(results, [...fresh.map(() => true), false, true, false]);
        for (const r of fresh) assert.equal((await store.getRequest(r.id))?.reason, r.reason);
        assert.equal((await store.getRequest(taken.id))?.reason, taken.reason);
        assert.equal((await store.getRequest(moving.id))?.state, 'denied');
        const audit = await store.listAudit({});
        assert.deepEqual(audit.map((e) => e.requestId), [...fresh.map((r) => r.id), moving.id], 'audit rows of the winners, in the order committed');
        assert.deepEqual((await jobRows(store)).map((j) => j.key).sort(), fresh.map((r) => `${r.id}:post-card`).sort());
      });

      it('should fail only the commit the database refuses, and keep the others sent with it', async function () {
        const good = Array.from({ length: 5 }, () => sampleRequest());
        const bad = sampleRequest();
        const results = await Promise.allSettled([
          ...good.map((request) => store.commit({ request, expectedVersion: null, audit: [auditEvent({ requestId: request.id })] })),
          // PostgreSQL refuses a NUL character in a JSON string.
          store.commit({ request: bad, expectedVersion: null, audit: [auditEvent({ requestId: bad.id, details: { text: 'a\u0000b' } })] }),
        ]);

        assert.deepEqual(results.slice(0, 5).map((r) => r.status), Array(5).fill('fulfilled'));
        assert.equal(results[5].status, 'rejected');
        for (const r of good) assert.equal((await store.getRequest(r.id))?.id, r.id);
        assert.equal(await store.getRequest(bad.id), null, 'nothing of the refused commit was kept');
        assert.deepEqual((await store.listAudit({})).map((e) => e.requestId), good.map((r) => r.id));
      });

      it('should list requests by state, requester and VM name (ignoring case), newest first', async function () {
        const a = sampleRequest({ createdAt: at(1), state: 'active', openedAt: at(2) });
        const b = sampleRequest({ createdAt: at(2), requester: person('carol@example.com') });
        const c = sampleRequest({
          createdAt: at(3),
          vms: [{ id: '/x/db-01', name: 'DB-01', resourceGroup: 'rg-db', location: 'westeurope' }],
        });
        for (const r of [a, b, c]) await store.commit({ request: r, expectedVersion: null });

        const ids = async (q: Parameters<TestStore['listRequests']>[0]) => (await store.listRequests(q)).map((r) => r.id);
        assert.deepEqual(await ids({}), [c.id, b.id, a.id]);
        assert.deepEqual(await ids({ states: ['pending'] }), [c.id, b.id]);
        assert.deepEqual(await ids({ states: ['active', 'expired'] }), [a.id]);
        assert.deepEqual(await ids({ states: [] }), []);
        assert.deepEqual(await ids({ requesterEmail: 'Carol@Example.com' }), [b.id]);
        assert.deepEqual(await ids({ vmName: 'db-01' }), [c.id]);
        assert.deepEqual(await ids({ vmName: 'web-01', states: ['pending'] }), [b.id]);
        assert.deepEqual(await ids({ limit: 2 }), [c.id, b.id]);
      });

      it('should tell the last time each VM was opened, from requests that reached active', async function () {
        const web02 = { id: '/x/web-02', name: 'web-02', resourceGroup: 'rg-web', location: 'westeurope' };
        const early = sampleRequest({ state: 'expired', openedAt: at(1_000) });
        const late = sampleRequest({ state: 'active', openedAt: at(5_000), vms: [...sampleRequest().vms, web02] });
        const neverOpened = sampleRequest({ state: 'pending', vms: [{ ...web02, name: 'web-03' }] });
        for (const r of [early, late, neverOpened]) await store.commit({ request: r, expectedVersion: null });

        const last = await store.lastAccessByVm();
        assert.deepEqual(
          [...last.entries()].sort(([x], [y]) => x.localeCompare(y)),
          [
            ['web-01', at(5_000)],
            ['web-02', at(5_000)],
          ],
        );
      });
    });

    describe('audit', function () {
      it('should keep events in the order they were appended and filter by request, VM and time', async function () {
        await store.appendAudit([
          auditEvent({ at: at(3_000), requestId: 'R1', type: 'request.created' }),
          auditEvent({ at: at(1_000), requestId: null, type: 'command.refused', actor: null, platform: null, vmNames: [] }),
        ]);
        await store.appendAudit([
          auditEvent({ at: at(2_000), requestId: 'R2', type: 'request.created', vmNames: ['DB-01'], details: { n: 1 } }),
        ]);

        const all = await store.listAudit({});
        assert.deepEqual(all.map((e) => e.type), ['request.created', 'command.refused', 'request.created']);
        assert.deepEqual(all[1], { at: at(1_000), requestId: null, type: 'command.refused', actor: null, platform: null, vmNames: [], details: {} });
        assert.deepEqual((await store.listAudit({ requestId: 'R2' })).map((e) => e.details), [{ n: 1 }]);
        assert.deepEqual((await store.listAudit({ vmName: 'db-01' })).map((e) => e.requestId), ['R2']);
        assert.deepEqual((await store.listAudit({ since: at(2_000) })).map((e) => e.requestId), ['R1', 'R2']);
        assert.deepEqual((await store.listAudit({ limit: 1 })).map((e) => e.requestId), ['R1']);
      });

      it('should refuse to change or remove audit rows, even by hand', async function () {
        await store.appendAudit([auditEvent()]);
        await assert.rejects(store.db.query(`UPDATE audit SET type = 'forged'`), /append-only/);
        await assert.rejects(store.db.query('DELETE FROM audit'), /append-only/);
        await assert.rejects(store.db.query('TRUNCATE audit'), /append-only/);
        assert.equal((await store.listAudit({}))[0].type, 'request.created');
      });
    });

    describe('message references', function () {
      it('should keep versioned references as given, once each, in the order saved', async function () {
        const card: StoredMessageRef = {
          requestId: 'R1',
          kind: 'card',
          ref: { platform: 'slack', v: 1, data: { channel: 'C1', ts: '1700000000.000100' } },
        };
        const teams: StoredMessageRef = {
          requestId: 'R1',
          kind: 'card',
          ref: { platform: 'teams', v: 1, data: { conversationId: '19:abc@thread.tacv2', activityId: '1:xyz' } },
        };
        await store.saveMessageRef(card);
        await store.saveMessageRef(teams);
        await store.saveMessageRef(card);
        await store.saveMessageRef({ ...card, requestId: 'R2' });

        assert.deepEqual(await store.listMessageRefs('R1'), [card, teams]);
        assert.deepEqual(await store.listMessageRefs('R3'), []);
      });

      it('should keep one row for a reference saved several times at the same moment', async function () {
        const refs: StoredMessageRef[] = Array.from({ length: 10 }, (_, i) => ({
          requestId: 'R1',
          kind: 'card',
          ref: { platform: 'slack', v: 1, data: { channel: 'C1', ts: `1700000000.00010${i}` } },
        }));
        await Promise.all([...refs, refs[3], refs[3], { ...refs[0], kind: 'copy' as const }].map((r) => store.saveMessageRef(r)));

        assert.deepEqual(await store.listMessageRefs('R1'), [...refs, { ...refs[0], kind: 'copy' }]);
      });
    });

    describe('idempotency keys', function () {
      it('should grant a key once until its time to live has passed', async function () {
        assert.equal(await store.claimKey('slack:Ev1', 60_000, T0), true);
        assert.equal(await store.claimKey('slack:Ev1', 60_000, at(59_999)), false);
        assert.equal(await store.claimKey('slack:Ev2', 60_000, at(1)), true);
        assert.equal(await store.claimKey('slack:Ev1', 60_000, at(60_000)), true);
        assert.equal(await store.claimKey('slack:Ev1', 60_000, at(60_001)), false);
      });

      it('should grant a key to exactly one of many claimers at the same moment', async function () {
        const results = await Promise.all(Array.from({ length: 20 }, () => store.claimKey('teams:act-1', 60_000, T0)));
        assert.equal(results.filter(Boolean).length, 1);
      });

      it('should answer each of many keys claimed at the same moment for itself', async function () {
        assert.equal(await store.claimKey('slack:old', 60_000, T0), true);
        assert.equal(await store.claimKey('slack:held', 60_000, at(30_000)), true);
        const keys = ['slack:a', 'slack:old', 'slack:b', 'slack:held', 'slack:a'];
        const results = await Promise.all(keys.map((k) => store.claimKey(k, 60_000, at(60_000))));
        assert.deepEqual(results, [true, true, true, false, false]);
      });
    });

    describe('key-value space', function () {
      it('should set, overwrite, read and list values per namespace', async function () {
        assert.equal(await store.getValue('teams.conversations', 'u1'), null);
        await store.setValue('teams.conversations', 'u2', { conversation: { id: 'a:2' } });
        await store.setValue('teams.conversations', 'u1', { conversation: { id: 'a:1' } });
        await store.setValue('teams.conversations', 'u1', { conversation: { id: 'a:1b' }, list: [1, 2] });
        await store.setValue('slack.users', 'u1', 'alice@example.com');

        assert.deepEqual(await store.getValue('teams.conversations', 'u1'), { conversation: { id: 'a:1b' }, list: [1, 2] });
        assert.equal(await store.getValue('slack.users', 'u1'), 'alice@example.com');
        assert.deepEqual(await store.listValues('teams.conversations'), [
          { key: 'u1', value: { conversation: { id: 'a:1b' }, list: [1, 2] } },
          { key: 'u2', value: { conversation: { id: 'a:2' } } },
        ]);
      });
    });

    describe('jobs', function () {
      const job = (key: string, dueAt: Date, extra: Partial<JobSpec> = {}): JobSpec => ({ kind: 'expire', requestId: 'R1', dueAt, key, ...extra });

      it('should claim only due jobs, earliest first, up to the limit, with their payload', async function () {
        await store.scheduleJobs([
          job('later', at(10_000)),
          job('second', at(-1_000), { payload: { platform: 'teams' } }),
          job('first', at(-2_000), { kind: 'dm', requestId: null }),
          job('third', at(0)),
        ]);
        const claimed = await store.claimJobs('p1', T0, 30_000, 2);
        assert.deepEqual(
          claimed.map((j) => [j.key, j.kind, j.requestId, j.dueAt, j.payload, j.attempts]),
          [
            ['first', 'dm', null, at(-2_000), {}, 1],
            ['second', 'expire', 'R1', at(-1_000), { platform: 'teams' }, 1],
          ],
        );
        assert.deepEqual((await store.claimJobs('p1', T0, 30_000, 10)).map((j) => j.key), ['third']);
        assert.deepEqual(await store.claimJobs('p1', at(9_999), 30_000, 10), []);
      });

      it('should keep one job per key, and a finished job keeps its key', async function () {
        await store.scheduleJobs([job('k', at(0)), job('k', at(5))]);
        await store.scheduleJobs([job('k', at(7))]);
        const [claimed] = await store.claimJobs('p1', T0, 30_000, 10);
        assert.deepEqual(claimed.dueAt, at(0));
        await store.completeJob(claimed.id, 'p1');
        await store.scheduleJobs([job('k', at(0))]);
        assert.equal((await jobRows(store)).length, 1);
        assert.deepEqual(await store.claimJobs('p1', at(60_000), 30_000, 10), []);
      });

      it('should not hand a leased job to anyone until the lease lapses, then let another owner take it over', async function () {
        await store.scheduleJobs([job('k', at(0))]);
        const [first] = await store.claimJobs('p1', T0, 30_000, 10);
        assert.deepEqual(await store.claimJobs('p2', at(29_999), 30_000, 10), []);
        assert.equal(await store.claimJob(first.id, 'p2', at(30_000), 30_000), null, 'a lease lapses after its end, not at it');

        const [taken] = await store.claimJobs('p2', at(30_001), 30_000, 10);
        assert.equal(taken.id, first.id);
        assert.equal(taken.attempts, 2);

        // The first owner wakes up late: its word no longer counts.
        await store.completeJob(first.id, 'p1');
        await store.retryJob(first.id, 'p1', at(0), 'late');
        await store.failJob(first.id, 'p1', 'late');
        let [row] = await jobRows(store);
        assert.equal(row.done || row.failed, false);
        assert.equal(row.lease_owner, 'p2');

        await store.completeJob(taken.id, 'p2');
        [row] = await jobRows(store);
        assert.equal(row.done, true);
        assert.deepEqual(await store.claimJobs('p3', at(120_000), 30_000, 10), []);
      });

      it('should put a retried job back at its new due time and keep a failed one out of reach', async function () {
        await store.scheduleJobs([job('retry', at(0)), job('fail', at(0))]);
        const claimed = await store.claimJobs('p1', T0, 30_000, 10);
        const byKey = new Map(claimed.map((j) => [j.key, j]));
        await store.retryJob(byKey.get('retry')!.id, 'p1', at(5_000), 'CloudError: throttled');
        await store.failJob(byKey.get('fail')!.id, 'p1', 'JitError: no such VM');

        assert.deepEqual(await store.claimJobs('p1', at(4_999), 30_000, 10), []);
        const [again] = await store.claimJobs('p1', at(5_000), 30_000, 10);
        assert.equal(again.key, 'retry');
        assert.equal(again.attempts, 2);
        const rows = await jobRows(store);
        assert.deepEqual(
          rows.map((r) => [r.key, r.failed, r.last_error]),
          [
            ['retry', false, 'CloudError: throttled'],
            ['fail', true, 'JitError: no such VM'],
          ],
        );
        assert.deepEqual(await store.findJobIds(['retry', 'fail', 'none']), new Map([['retry', again.id]]));
      });

      it('should claim a single job by id only when it is due and free', async function () {
        await store.scheduleJobs([job('now', at(0)), job('later', at(60_000))]);
        const ids = await store.findJobIds(['now', 'later']);
        assert.equal(await store.claimJob(ids.get('later')!, 'p1', T0, 30_000), null);
        assert.equal(await store.claimJob('12345678', 'p1', T0, 30_000), null);
        assert.equal(await store.claimJob('not-a-number', 'p1', T0, 30_000), null);
        const claimed = await store.claimJob(ids.get('now')!, 'p1', T0, 30_000);
        assert.equal(claimed?.key, 'now');
        assert.equal(await store.claimJob(ids.get('now')!, 'p2', T0, 30_000), null);
      });

      it('should give back every lease of one owner, and only that owner, on release', async function () {
        await store.scheduleJobs([job('a', at(-3)), job('b', at(-2)), job('c', at(-1))]);
        await store.claimJobs('p1', T0, 30_000, 2);
        await store.claimJobs('p2', T0, 30_000, 1);
        await store.releaseLeases('p1');
        assert.deepEqual((await store.claimJobs('p3', T0, 30_000, 10)).map((j) => j.key), ['a', 'b']);
      });

      it('should cancel a request\'s open jobs in the commit, by kind, and free their keys', async function () {
        const request = sampleRequest({ state: 'active' });
        await store.commit({
          request,
          expectedVersion: null,
          schedule: [
            { kind: 'remind', requestId: request.id, dueAt: at(0), key: `remind:${request.id}` },
            { kind: 'expire', requestId: request.id, dueAt: at(60_000), key: `expire:${request.id}` },
            { kind: 'expire', requestId: 'OTHER', dueAt: at(60_000), key: 'expire:OTHER' },
          ],
        });
        const released = { ...request, state: 'released' as const, version: 2 };
        await store.commit({
          request: released,
          expectedVersion: 1,
          cancelJobs: { requestId: request.id, kinds: ['expire'] },
          schedule: [{ kind: 'expire', requestId: request.id, dueAt: at(1_000), key: `expire:${request.id}` }],
        });

        const rows = await jobRows(store);
        assert.deepEqual(
          rows.map((r) => [r.key, r.cancelled]),
          [
            [`remind:${request.id}`, false],
            [`expire:${request.id}`, true],
            ['expire:OTHER', false],
            [`expire:${request.id}`, false],
          ],
        );
        const claimed = await store.claimJobs('p1', at(60_000), 30_000, 10);
        assert.deepEqual(
          claimed.map((j) => [j.key, j.dueAt]),
          [
            [`remind:${request.id}`, at(0)],
            [`expire:${request.id}`, at(1_000)],
            ['expire:OTHER', at(60_000)],
          ],
        );

        await store.commit({ request: { ...released, version: 3 }, expectedVersion: 2, cancelJobs: { requestId: request.id } });
        const live = await store.findJobIds([`remind:${request.id}`, `expire:${request.id}`, 'expire:OTHER']);
        assert.deepEqual(live, new Map([['expire:OTHER', claimed[2].id]]));
      });

      it('should share due jobs among concurrent claimers without handing one out twice', async function () {
        await store.scheduleJobs(Array.from({ length: 200 }, (_, i) => job(`j${i}`, at(-i))));
        const batches = await Promise.all(Array.from({ length: 8 }, (_, i) => store.claimJobs(`p${i}`, T0, 30_000, 30)));
        const ids = batches.flat().map((j) => j.id);
        assert.equal(ids.length, 200);
        assert.equal(new Set(ids).size, 200);
      });
    });

    describe('migrations', function () {
      it('should apply a new migration once when two processes migrate at the same moment', async function () {
        // The pause keeps the first migration open while the second one starts.
        const next = {
          version: 10_000,
          name: 'probe',
          sql: 'CREATE TABLE probe (id int PRIMARY KEY);\nSELECT pg_sleep(0.2);\nINSERT INTO probe VALUES (1);',
        };
        const applied = await Promise.all([
          migrate(store.db, { migrations: [...MIGRATIONS, next] }),
          migrate(store.db, { migrations: [...MIGRATIONS, next] }),
        ]);
        assert.deepEqual(applied.sort((x, y) => x.length - y.length), [[], [10_000]]);
        const rows = await store.db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
        assert.deepEqual(rows.map((r) => r.version), [...MIGRATIONS.map((m) => m.version), 10_000]);
        assert.deepEqual(await store.db.query('SELECT id FROM probe'), [{ id: 1 }]);
      });

      it('should be a no-op on an up-to-date database', async function () {
        await store.migrate();
        await store.migrate();
        await store.ping();
      });
    });
  });
}

const WRITES_TO_AUDIT = /\b(UPDATE|DELETE\s+FROM|TRUNCATE)\s+(TABLE\s+)?audit\b/i;

describe('store source', function () {
  it('should contain no UPDATE or DELETE of the audit table anywhere in the code', function () {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts') && WRITES_TO_AUDIT.test(readFileSync(path, 'utf8'))) offenders.push(path);
      }
    };
    walk(join(__dirname, '../../src'));
    assert.deepEqual(offenders, []);
  });
});
