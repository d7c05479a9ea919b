import assert from 'node:assert/strict';
import { ManualClock } from '../../src/app/clock';
import type { DirectoryGroupRef } from '../../src/app/ports';
import { DirectoryError } from '../../src/core/errors';
import { createGraphDirectory, DEFAULT_GRAPH_URL } from '../../src/entra/graph-directory';
import { FakeGraph } from '../fakes/graph';

const SRE = '11111111-1111-4111-8111-111111111111';
const PLATFORM = '22222222-2222-4222-8222-222222222222';
const sre: DirectoryGroupRef = { name: 'sre', kind: 'entra', id: SRE };
const platform: DirectoryGroupRef = { name: 'platform', kind: 'entra', id: PLATFORM };

describe('Entra ID group membership through Microsoft Graph', () => {
  let graph: FakeGraph;
  let waits: number[];
  const clock = new ManualClock();

  function directory(extra: Partial<Parameters<typeof createGraphDirectory>[0]> = {}) {
    return createGraphDirectory({
      baseUrl: graph.url,
      credential: graph.credential,
      clock,
      timeoutMs: 2_000,
      sleep: async (ms) => {
        waits.push(ms);
      },
      ...extra,
    });
  }

  beforeEach(async () => {
    graph = await FakeGraph.start({ pageSize: 100 });
    waits = [];
  });
  afterEach(() => graph.close());

  it('reads every member of a 1,000-member group across ten pages', async () => {
    const users = Array.from({ length: 1000 }, (_, i) => graph.user(`eng${i}@example.com`, `Engineer ${i}`));
    graph.addGroup({ id: SRE, displayName: 'SRE', members: users.map((u) => u.id) });
    const members = await directory().members(sre);
    assert.equal(members.length, 1000);
    assert.equal(new Set(members.map((m) => m.email)).size, 1000, 'nobody twice, nobody lost at a page edge');
    assert.ok(members.some((m) => m.email === 'eng999@example.com' && m.name === 'Engineer 999'));
    const pages = graph.callsTo(`/groups/${SRE}/transitiveMembers`);
    assert.equal(pages.length, 10, 'one call per page of 100');
    assert.equal(pages[0].query.get('$select'), 'id,displayName,mail,userPrincipalName', 'only what is needed is asked for');
  });

  it('finds a membership on the last page of a person in 250 groups, nested groups included', async () => {
    const ann = graph.user('ann@example.com', 'Ann');
    for (let i = 0; i < 249; i++) graph.addGroup({ id: `33333333-3333-4333-8333-${String(i).padStart(12, '0')}`, displayName: `g${i}`, members: [ann.id] });
    // Ann is in SRE only through the team she is in.
    const team = graph.addGroup({ id: '44444444-4444-4444-8444-444444444444', displayName: 'Team', members: [ann.id] });
    graph.addGroup({ id: SRE, displayName: 'SRE', members: [team.id] });
    const answer = await directory().membership('ann@example.com', [sre, platform]);
    assert.deepEqual(answer.groupIds, [SRE]);
    assert.equal(answer.name, 'Ann');
    assert.equal(graph.callsTo('/transitiveMemberOf/microsoft.graph.group').length, 3, '251 groups are three pages of 100');
  });

  it('finds a person whose email is not their sign-in name by their mail address', async () => {
    const ann = graph.addUser({ id: '55555555-5555-4555-8555-555555555555', userPrincipalName: 'ann.k@corp.onmicrosoft.com', mail: 'ann@example.com', displayName: 'Ann' });
    graph.addGroup({ id: SRE, displayName: 'SRE', members: [ann.id] });
    assert.deepEqual((await directory().membership('ann@example.com', [sre])).groupIds, [SRE]);
  });

  it('puts a person Entra does not know in no group', async () => {
    assert.deepEqual((await directory().membership('nobody@example.com', [sre])).groupIds, []);
  });

  it('waits as long as Retry-After says after a 429, then answers', async () => {
    const ann = graph.user('ann@example.com', 'Ann');
    graph.addGroup({ id: SRE, displayName: 'SRE', members: [ann.id] });
    graph.throttleNext(2, 3);
    assert.deepEqual((await directory().membership('ann@example.com', [sre])).groupIds, [SRE]);
    assert.deepEqual(waits, [3000, 3000]);
  });

  it('gives up after its bounded retries, and on a Retry-After longer than it will wait', async () => {
    graph.user('ann@example.com', 'Ann');
    graph.throttleNext(10, 1);
    await assert.rejects(directory({ maxRetries: 2 }).membership('ann@example.com', [sre]), (err: unknown) => err instanceof DirectoryError && err.kind === 'throttled');
    assert.equal(waits.length, 2);
    waits = [];
    graph.throttleNext(1, 120);
    await assert.rejects(directory().membership('ann@example.com', [sre]), (err: unknown) => err instanceof DirectoryError && err.kind === 'throttled');
    assert.deepEqual(waits, [], 'two minutes is not waited for inside a click');
  });

  it('says which permissions to grant when consent is missing (403 Authorization_RequestDenied)', async () => {
    graph.user('ann@example.com', 'Ann');
    graph.consented = false;
    await assert.rejects(directory().membership('ann@example.com', [sre]), (err: unknown) => {
      assert.ok(err instanceof DirectoryError);
      assert.equal(err.kind, 'consent');
      assert.match(err.message, /403 Authorization_RequestDenied/);
      assert.match(err.message, /User\.Read\.All and GroupMember\.Read\.All, with admin consent/);
      return true;
    });
  });

  it('fails with a timeout when Graph does not answer, within its deadline', async () => {
    graph.hanging = true;
    await assert.rejects(directory({ timeoutMs: 200 }).membership('ann@example.com', [sre]), (err: unknown) => err instanceof DirectoryError && err.kind === 'timeout');
  });

  it('asks for a token for the Graph it was given, so a national cloud gets its own audience', async () => {
    graph.user('ann@example.com', 'Ann');
    await directory().membership('ann@example.com', [sre]);
    assert.deepEqual([...new Set(graph.scopesAsked)], [`${graph.url}/.default`]);
    assert.ok(graph.calls.every((c) => c.authorization === `Bearer fake-graph-token|${graph.url}/.default`));
    assert.equal(DEFAULT_GRAPH_URL, 'https://graph.microsoft.com');
  });

  it('refuses a token minted for another Graph', async () => {
    graph.user('ann@example.com', 'Ann');
    const other = createGraphDirectory({
      baseUrl: graph.url,
      clock,
      credential: { getToken: async () => ({ token: 'fake-graph-token|https://graph.microsoft.com/.default', expiresOnTimestamp: Date.now() + 60_000 }) },
    });
    await assert.rejects(other.membership('ann@example.com', [sre]), (err: unknown) => err instanceof DirectoryError && err.kind === 'consent');
  });

  it('never follows a next-page link to another host with its token', async () => {
    const ann = graph.user('ann@example.com', 'Ann');
    graph.addGroup({ id: SRE, displayName: 'SRE', members: [ann.id] });
    const evil = await FakeGraph.start();
    try {
      const original = graph.url;
      // The first page's link points elsewhere: a Graph answer is data, not an instruction.
      const d = createGraphDirectory({
        baseUrl: original,
        clock,
        credential: graph.credential,
      });
      graph.pageSize = 1;
      graph.addGroup({ id: PLATFORM, displayName: 'Platform', members: [ann.id] });
      const realFetch = globalThis.fetch;
      globalThis.fetch = async (input, init) => {
        const res = await realFetch(input, init);
        if (!String(input).includes('transitiveMemberOf')) return res;
        const body = (await res.json()) as Record<string, unknown>;
        if (body['@odata.nextLink']) body['@odata.nextLink'] = String(body['@odata.nextLink']).replace(original, evil.url);
        return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
      };
      try {
        await assert.rejects(d.membership('ann@example.com', [sre, platform]), /next-page link to another host/);
      } finally {
        globalThis.fetch = realFetch;
      }
      assert.equal(evil.calls.length, 0);
    } finally {
      await evil.close();
    }
  });
});
