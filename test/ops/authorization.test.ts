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
import { person, startWorld, type TestWorld } from '../helpers/world';

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
