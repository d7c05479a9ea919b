// Who may do what, through the use cases: every command of the grammar and every card button, for
// every person of examples/local.yaml (Alice: dev; Bob: sre; Carol: sre and admin; Dave: in no
// group) and for Eve, whom the access rules do not know. A refusal answers with a message that says
// why, and changes nothing: no request, job, message reference or Azure call; only the refusal
// itself goes into the audit trail.
import { strict as assert } from 'node:assert';
import type { JitApp } from '../../src/app/jit-app';
import type { Actor } from '../../src/core/types';
import type { TestStore } from '../../src/store';
import { RecordingChat } from '../fakes/recording-chat';
import { loadConfigFile, type LoadedConfig } from '../../src/config/file';
import { engines, LOCAL_CONFIG, MINUTE, person, startWorld, type TestWorld } from '../helpers/world';

type Who = 'alice' | 'bob' | 'carol' | 'dave' | 'eve';
const PEOPLE: Who[] = ['alice', 'bob', 'carol', 'dave', 'eve'];
const EVE: Actor = { platform: 'slack', userId: 'U0EVE', email: 'eve@evil.example', name: 'Eve' };

/** What the person sees, whether it came back as a Reply (typed) or an ActionResult (clicked). */
interface Outcome {
  ok: boolean;
  text: string;
}

/** `allow`, or the refusal the person must read. */
type Expect = 'allow' | RegExp;

interface Row {
  name: string;
  /** The request the command acts on: Alice's pending one, or Alice's open one. */
  on?: 'pending' | 'active';
  run(app: JitApp, actor: Actor, id: string): Promise<Outcome>;
  expect: Record<Who, Expect>;
  /** What an allowed command changed, checked on the store. */
  effect?(store: TestStore, id: string): Promise<void>;
}

const NOT_LISTED = /not in jitbot's access list/;

async function typed(app: JitApp, actor: Actor, text: string): Promise<Outcome> {
  const reply = await app.command(actor, text);
  if (reply.kind === 'error') return { ok: false, text: reply.message };
  return { ok: true, text: JSON.stringify(reply) };
}

async function clicked(app: JitApp, actor: Actor, verb: 'approve' | 'deny', id: string): Promise<Outcome> {
  const result = await app.act(actor, verb, id);
  return { ok: result.ok, text: result.message };
}

async function stateOf(store: TestStore, id: string): Promise<string | undefined> {
  return (await store.getRequest(id))?.state;
}

let source = 0;
const nextSource = () => `10.9.${Math.floor(source / 250)}.${(source++ % 250) + 1}`;

const ROWS: Row[] = [
  { name: 'help', run: (app, a) => typed(app, a, 'help'), expect: { alice: 'allow', bob: 'allow', carol: 'allow', dave: 'allow', eve: 'allow' } },
  { name: 'vms', run: (app, a) => typed(app, a, 'vms'), expect: { alice: 'allow', bob: 'allow', carol: 'allow', dave: 'allow', eve: NOT_LISTED } },
  { name: 'status', run: (app, a) => typed(app, a, 'status'), expect: { alice: 'allow', bob: 'allow', carol: 'allow', dave: 'allow', eve: NOT_LISTED } },
  { name: 'policy web-01', run: (app, a) => typed(app, a, 'policy web-01'), expect: { alice: 'allow', bob: 'allow', carol: 'allow', dave: 'allow', eve: NOT_LISTED } },
  { name: '(the request form)', run: (app, a) => typed(app, a, ''), expect: { alice: 'allow', bob: 'allow', carol: 'allow', dave: /No VM is open to you/, eve: NOT_LISTED } },
  {
    name: 'ssh web-01 1h',
    run: (app, a) => typed(app, a, `ssh web-01 1h from ${nextSource()} for matrix`),
    expect: { alice: 'allow', bob: 'allow', carol: 'allow', dave: /may not request web-01/, eve: NOT_LISTED },
  },
  {
    name: 'rdp sql-01 1h',
    run: (app, a) => typed(app, a, 'rdp sql-01 1h from 203.0.113.9 for matrix'),
    // sql-01 needs two approvers from sre (Bob and Carol): with one of them asking, nobody could finish it.
    expect: {
      alice: 'allow',
      bob: /needs 2 approvals but only 1 other person may approve/,
      carol: /needs 2 approvals but only 1 other person may approve/,
      dave: /may not request sql-01/,
      eve: NOT_LISTED,
    },
  },
  {
    name: 'approve (button)',
    on: 'pending',
    run: (app, a, id) => clicked(app, a, 'approve', id),
    expect: { alice: /can't approve your own request/, bob: 'allow', carol: 'allow', dave: /can't approve/, eve: NOT_LISTED },
    effect: async (store, id) => assert.notEqual(await stateOf(store, id), 'pending'),
  },
  {
    name: 'deny (button)',
    on: 'pending',
    run: (app, a, id) => clicked(app, a, 'deny', id),
    expect: { alice: /can't (approve|deny|decide)/, bob: 'allow', carol: 'allow', dave: /can't (approve|deny|decide)/, eve: NOT_LISTED },
    effect: async (store, id) => assert.equal(await stateOf(store, id), 'denied'),
  },
  {
    name: 'cancel <id>',
    on: 'pending',
    run: (app, a, id) => typed(app, a, `cancel ${id}`),
    expect: { alice: 'allow', bob: /Only Alice, who asked for R\w+, can cancel it/, carol: /Only Alice/, dave: /Only Alice/, eve: NOT_LISTED },
    effect: async (store, id) => assert.equal(await stateOf(store, id), 'cancelled'),
  },
  {
    name: 'release <id>',
    on: 'active',
    run: (app, a, id) => typed(app, a, `release ${id}`),
    expect: { alice: 'allow', bob: /Only Alice, who holds R\w+, or an admin can release it/, carol: 'allow', dave: /Only Alice/, eve: NOT_LISTED },
    effect: async (store, id) => assert.equal(await stateOf(store, id), 'released'),
  },
  {
    name: 'extend <id> 30m',
    on: 'active',
    run: (app, a, id) => typed(app, a, `extend ${id} 30m`),
    expect: { alice: 'allow', bob: /Only Alice, who holds R\w+, can ask to extend it/, carol: /Only Alice/, dave: /Only Alice/, eve: NOT_LISTED },
    effect: async (store, id) => assert.equal((await store.getRequest(id))?.extension?.durationMinutes, 30),
  },
  {
    name: 'enable web-02',
    run: (app, a) => typed(app, a, 'enable web-02'),
    expect: { alice: /Only admins/, bob: /Only admins/, carol: 'allow', dave: /Only admins/, eve: NOT_LISTED },
  },
  { name: 'audit', run: (app, a) => typed(app, a, 'audit 7d'), expect: { alice: /Only admins/, bob: /Only admins/, carol: 'allow', dave: /Only admins/, eve: NOT_LISTED } },
];

/** Everything a command could change, as text to compare. Audit rows are listed separately. */
async function snapshot(world: TestWorld): Promise<{ state: string; audit: Array<{ type: string; actor: string | null }> }> {
  const db = (world.store as TestStore).db;
  const parts = await Promise.all([
    db.query(`SELECT id, version, state FROM requests ORDER BY id`),
    db.query(`SELECT id::text, kind, key, due_at, done_at IS NULL AS open, failed_at IS NULL AS ok, lease_owner FROM jobs ORDER BY id`),
    db.query(`SELECT request_id, kind, platform, ref FROM message_refs ORDER BY id`),
    db.query(`SELECT key FROM idempotency ORDER BY key`),
    db.query(`SELECT namespace, key, value FROM kv ORDER BY namespace, key`),
  ]);
  const writes = world.sim.requestLog.filter((e) => e.method !== 'GET').length;
  const audit = await db.query<{ type: string; actor: { email?: string } | null }>(`SELECT type, actor FROM audit ORDER BY id`);
  return { state: JSON.stringify({ parts, writes }), audit: audit.map((a) => ({ type: a.type, actor: a.actor?.email ?? null })) };
}

describe('the authorization matrix, through the use cases', function () {
  this.timeout(120_000);
  let world: TestWorld;
  let chat: RecordingChat;

  before(async () => {
    world = await startWorld();
    chat = new RecordingChat();
    world.addChat(chat);
  });
  after(async () => world?.close());

  const actorOf = (who: Who): Actor => (who === 'eve' ? EVE : person(who, 'slack'));

  /** A fresh request by Alice on web-02: pending, or approved by Bob and open in Azure. */
  async function fixture(kind: 'pending' | 'active'): Promise<string> {
    const reply = await world.app.command(person('alice', 'slack'), `ssh web-02 2h from ${nextSource()} for fixture`);
    assert.equal(reply.kind, 'submitted', JSON.stringify(reply));
    const id = (reply as Extract<typeof reply, { kind: 'submitted' }>).request.id;
    if (kind === 'active') {
      assert.equal((await world.app.act(person('bob', 'slack'), 'approve', id)).ok, true);
    }
    await world.settle();
    assert.equal(await stateOf(world.store as TestStore, id), kind);
    return id;
  }

  it('has a row for every command of the grammar and every button', () => {
    const covered = new Set(ROWS.map((r) => r.name.split(/[ <(]/)[0]));
    for (const word of ['help', 'vms', 'status', 'policy', 'ssh', 'rdp', 'approve', 'deny', 'cancel', 'release', 'extend', 'enable', 'audit']) {
      assert.ok(covered.has(word), `row for ${word}`);
    }
  });

  for (const row of ROWS) {
    it(`${row.name}: ${PEOPLE.map((p) => `${p} ${row.expect[p] === 'allow' ? 'allowed' : 'refused'}`).join(', ')}`, async () => {
      for (const who of PEOPLE) {
        const id = row.on ? await fixture(row.on) : '';
        const before = await snapshot(world);
        const chatBefore = JSON.stringify(chat.recorded);
        const outcome = await row.run(world.app, actorOf(who), id);
        await world.settle();
        const after = await snapshot(world);
        const expected = row.expect[who];
        if (expected === 'allow') {
          assert.equal(outcome.ok, true, `${who}: ${row.name} should be allowed, got "${outcome.text}"`);
          if (row.effect) await row.effect(world.store as TestStore, id);
          continue;
        }
        assert.equal(outcome.ok, false, `${who}: ${row.name} should be refused, got ${outcome.text.slice(0, 200)}`);
        assert.match(outcome.text, expected, `${who}: ${row.name}`);
        assert.ok(outcome.text.length < 300 && !outcome.text.includes('\n'), `${who}: one line: ${outcome.text}`);
        assert.equal(after.state, before.state, `${who}: ${row.name} changed nothing in the store or Azure`);
        assert.equal(JSON.stringify(chat.recorded), chatBefore, `${who}: ${row.name} sent nothing to chat`);
        const added = after.audit.slice(before.audit.length);
        assert.ok(added.length <= 1 && added.every((a) => a.type === 'command.refused' && a.actor === actorOf(who).email), `${who}: only the refusal is audited: ${JSON.stringify(added)}`);
      }
    });
  }
});

// Issue 12: the same rules against a determined insider, through the use cases, on each store engine.
describe('the authorization matrix against an insider, through the use cases', function () {
  this.timeout(120_000);

  for (const engine of engines()) {
    describe(`on ${engine}`, () => {
      let world: TestWorld;

      /** examples/local.yaml with rule web approving on its own up to an hour, and at most 2h30m in all. */
      function insiderConfig(): LoadedConfig {
        const base = loadConfigFile(LOCAL_CONFIG);
        const rules = base.policy.rules.map((r) => (r.name === 'web' ? { ...r, autoApprove: true, maxDurationMinutes: 60, maxTotalMinutes: 150 } : r));
        return { ...base, policy: { ...base.policy, rules } };
      }

      before(async () => {
        world = await startWorld({ engine, config: insiderConfig() });
        world.addChat(new RecordingChat());
      });
      after(async () => world?.close());

      async function openWeb(minutes: string): Promise<string> {
        const reply = await world.app.command(person('alice', 'slack'), `ssh web-01 ${minutes} from ${nextSource()} for insider`);
        assert.equal(reply.kind, 'submitted', JSON.stringify(reply));
        const id = (reply as Extract<typeof reply, { kind: 'submitted' }>).request.id;
        await world.settle();
        assert.equal(await stateOf(world.store as TestStore, id), 'active');
        return id;
      }

      it('refuses 2h under rule max 1h, and 1h then extend 1h30m waits for an approver instead of opening', async () => {
        const direct = await world.app.command(person('alice', 'slack'), `ssh web-01 2h from ${nextSource()}`);
        assert.equal(direct.kind, 'error');
        const id = await openWeb('1h');
        const extend = await world.app.command(person('alice', 'slack'), `extend ${id} 1h30m`);
        assert.equal(extend.kind, 'text', JSON.stringify(extend));
        assert.match((extend as { text: string }).text, /Asked the approvers/);
        await world.settle();
        const r = await world.store.getRequest(id);
        assert.equal(r?.extension?.opening, undefined, 'not approved automatically');
        assert.equal(r?.endsAt?.getTime(), r!.openedAt!.getTime() + 60 * MINUTE, 'the port closes on time unless someone approves');
        assert.equal((await world.app.act(person('bob', 'slack'), 'approve', id)).ok, true);
        await world.settle();
        assert.equal((await world.store.getRequest(id))?.endsAt?.getTime(), r!.openedAt!.getTime() + 150 * MINUTE);
      });

      it('refuses an extension past maxTotal even before anyone is asked, and changes nothing', async () => {
        const id = await openWeb('1h');
        const before = await world.store.getRequest(id);
        const refused = await world.app.command(person('alice', 'slack'), `extend ${id} 2h`);
        assert.equal(refused.kind, 'error');
        assert.match((refused as { message: string }).message, /over the 2h30m maximum of rule web; ask for at most 1h30m/);
        assert.deepEqual(await world.store.getRequest(id), before);
      });

      it('still opens an extension within the rule maximum automatically', async () => {
        const id = await openWeb('30m');
        const extend = await world.app.command(person('alice', 'slack'), `extend ${id} 30m`);
        assert.match(JSON.stringify(extend), /Extending/);
        await world.settle();
        const r = await world.store.getRequest(id);
        assert.equal(r?.endsAt?.getTime(), r!.openedAt!.getTime() + 60 * MINUTE);
      });

      for (const source of ['0.0.0.0/1', '128.0.0.0/1', '::/1', '8000::/1']) {
        it(`refuses rdp sql-01 from ${source}: a one-bit prefix is any source`, async () => {
          const reply = await world.app.command(person('alice', 'slack'), `rdp sql-01 1h from ${source} for wide`);
          assert.equal(reply.kind, 'error');
          assert.match((reply as { message: string }).message, /does not open ports to any source/);
        });
      }

      it('shows who holds web-01 open to its requesters and admins, and to nobody else', async () => {
        await openWeb('1h');
        const seen = async (who: 'alice' | 'carol' | 'dave') => {
          const reply = await world.app.command(person(who, 'slack'), 'policy web-01');
          assert.equal(reply.kind, 'policy', JSON.stringify(reply));
          return (reply as Extract<typeof reply, { kind: 'policy' }>).vm;
        };
        assert.ok((await seen('alice')).open.length > 0);
        assert.ok((await seen('carol')).open.length > 0);
        const outsider = await seen('dave');
        assert.deepEqual(outsider.open, []);
        assert.equal(outsider.lastAccess, null);
        assert.doesNotMatch(JSON.stringify(outsider), /Alice|insider|10\.9\./);
      });

      it('never names a VM Dave may not see when his glob matches nothing', async () => {
        const reply = await world.app.command(person('dave', 'slack'), 'ssh web-* 1h from 10.1.2.3');
        assert.equal(reply.kind, 'error');
        assert.doesNotMatch((reply as { message: string }).message, /web-0\d/);
      });

      it('shows a refused click nothing of a request the person is not part of', async () => {
        const id = await openWeb('1h');
        const dave = await world.app.act(person('dave', 'slack'), 'release', id);
        assert.equal(dave.ok, false);
        assert.equal(dave.view, null);
        assert.equal(await world.app.involved(person('dave', 'slack'), id), false);
        assert.equal(await world.app.involved(person('bob', 'slack'), id), true);
        assert.equal(await world.app.involved(person('alice', 'slack'), id), true);
      });

      it('filters the audit trail by glob and by resource group as the grammar reads them', async () => {
        await openWeb('1h');
        const typed = await world.app.command(person('carol', 'slack'), 'audit web-* 1d');
        assert.equal(typed.kind, 'audit', JSON.stringify(typed));
        assert.ok((typed as Extract<typeof typed, { kind: 'audit' }>).rows > 0, '/jit audit web-* 1d finds web-01 events');
        // Read without exporting, so the export's own audit line does not move the counts.
        const rows = async (vm: string) => (await world.app.auditCsvFor({ vm, days: 1 })).rows;
        const exact = await rows('web-01');
        assert.ok(exact > 0);
        assert.ok((await rows('web-*')) >= exact, 'a glob finds at least what one of its names does');
        assert.equal(await rows('rg-web/web-01'), exact);
        assert.equal(await rows('rg-web/web-*'), exact);
        assert.equal(await rows('rg-data/web-01'), 0);
      });
    });
  }
});
