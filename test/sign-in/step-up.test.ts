// Step-up approvals end to end: the use cases on the real store, the bot's HTTP routes, openid-client,
// and a real OpenID provider on loopback (oidc-provider). The browser is a redirect-following fetch
// with a cookie jar; the login step is scripted per test (who signs in, amr, acr, auth_time).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { configFromDocument } from '../../src/config/file';
import { startBot } from '../../src/main';
import { createHttpServer, type HttpServer } from '../../src/server';
import { createOidcSignIn } from '../../src/sign-in/oidc';
import { mountStepUp } from '../../src/sign-in/routes';
import { silentLogger } from '../../src/app/logger';
import type { Actor } from '../../src/core/types';
import type { Reply } from '../../src/core/views';
import { RecordingChat } from '../fakes/recording-chat';
import { browse, startIdp, type TestIdp } from '../fakes/oidc-idp';
import { engines, LOCAL_CONFIG, MINUTE, startWorld, type TestWorld } from '../helpers/world';

const ACCOUNTS = [
  { sub: 'bob-sub', email: 'bob@example.com', name: 'Bob', oid: '11111111-1111-1111-1111-111111111111' },
  { sub: 'carol-sub', email: 'carol@example.com', name: 'Carol', oid: '22222222-2222-2222-2222-222222222222' },
  // Another tenant's or a renamed account that says it is Carol, with another object id.
  { sub: 'mallory-sub', email: 'carol@example.com', name: 'Not Carol', oid: '99999999-9999-9999-9999-999999999999' },
];

const alice: Actor = { platform: 'slack', userId: 'U_ALICE', email: 'alice@example.com', name: 'Alice' };
const bob: Actor = { platform: 'slack', userId: 'U_BOB', email: 'bob@example.com', name: 'Bob' };
const carolInTeams: Actor = { platform: 'teams', userId: '29:carol', email: 'carol@example.com', name: 'Carol', aadObjectId: '22222222-2222-2222-2222-222222222222' };

/** The local world's rules, with step-up: every web approver, and only admins (Carol) on sql-01. */
function stepUpConfig() {
  const doc = YAML.parse(readFileSync(LOCAL_CONFIG, 'utf8')) as { rules: Array<Record<string, unknown>> };
  doc.rules[0].stepUp = true;
  doc.rules[1].stepUp = ['group:admins'];
  return { doc, config: configFromDocument(doc, 'step-up test') };
}

function submittedId(reply: Reply): string {
  assert.equal(reply.kind, 'submitted', JSON.stringify(reply));
  return (reply as Extract<Reply, { kind: 'submitted' }>).request.id;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

for (const engine of engines()) {
  describe(`step-up approvals with a fresh sign-in and a second factor (${engine})`, function () {
    this.timeout(180_000);
    let world: TestWorld;
    let http: HttpServer;
    let base: string;
    let idp: TestIdp;
    let slack: RecordingChat;
    let teams: RecordingChat;

    async function start(opts: { acr?: string } = {}): Promise<void> {
      http = createHttpServer({
        logger: silentLogger,
        mounts: [mountStepUp({ begin: (t) => world.app.stepUps!.begin(t), finish: (q) => world.app.stepUps!.finish(q), logger: silentLogger })],
      });
      base = await http.listen(0, '127.0.0.1');
      base = base.replace('localhost', '127.0.0.1');
      idp = await startIdp({ accounts: ACCOUNTS, redirectUris: () => [`${base}/step-up/callback`] });
      world = await startWorld({
        engine,
        config: stepUpConfig().config,
        app: {
          stepUp: {
            signIn: createOidcSignIn({ issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, redirectUri: () => `${base}/step-up/callback` }),
            baseUrl: () => base,
            requirement: { maxAgeSeconds: 600, ...(opts.acr ? { acr: opts.acr } : {}) },
          },
        },
      });
      slack = new RecordingChat('slack');
      teams = new RecordingChat('teams');
      world.addChat(slack);
      world.addChat(teams);
    }

    afterEach(async () => {
      await world?.close();
      await http?.close();
      await idp?.close();
    });

    /** Ask for web-01, click Approve as this approver, and return the link they were sent personally. */
    async function clickApprove(approver: Actor, command = 'ssh web-01 1h from 10.1.2.3 for INC-4711'): Promise<{ id: string; link: string }> {
      const id = submittedId(await world.app.command(alice, command));
      await world.settle();
      return { id, link: await linkFor(approver, id) };
    }

    async function linkFor(approver: Actor, id: string): Promise<string> {
      const before = [...slack.recorded.dms, ...teams.recorded.dms].length;
      const answer = await world.app.act(approver, 'approve', id);
      assert.match(answer.message, /needs a fresh sign-in with a second factor/);
      assert.match(answer.message, /sent you a one-time sign-in link personally/);
      await world.settle();
      const dms = [...slack.recorded.dms, ...teams.recorded.dms].slice(before).filter((d) => d.notice.kind === 'step-up');
      assert.equal(dms.length, 1, 'one personal message with the link');
      assert.equal(dms[0].to.userId, approver.userId, 'sent to the approver who clicked, not to the requester');
      const link = dms[0].notice.link?.url ?? '';
      assert.ok(link.startsWith(`${base}/step-up/`), link);
      return link;
    }

    it('a click on a step-up rule records no approval and sends the approver a one-time link personally', async () => {
      await start();
      const { id } = await clickApprove(bob);
      const r = await world.store.getRequest(id);
      assert.equal(r?.state, 'pending');
      assert.equal(r?.approvals.length, 0, 'the click alone counts for nothing');
      assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, false);
      assert.ok(!slack.threadOf(id).some((t) => /approved/i.test(t)), 'nobody is told it was approved');
      const audit = (await world.store.listAudit({ requestId: id })).map((e) => e.type);
      assert.ok(audit.includes('approval.step-up-asked'));
    });

    it('a sign-in with MFA by the approver counts, opens the port, and the card and audit say how', async () => {
      await start();
      const { id, link } = await clickApprove(bob);
      idp.nextLogin({ account: 'bob-sub', amr: ['pwd', 'mfa'] });
      const page = await browse(link);
      assert.equal(page.status, 200, page.body);
      assert.match(page.body, /Approval recorded/);
      assert.ok(page.hops.some((h) => h.startsWith(idp.issuer)), 'the browser went through the provider');
      await world.settle();
      const r = await world.store.getRequest(id);
      assert.equal(r?.state, 'active');
      assert.equal(world.sim.check('web-01', 22, '10.1.2.3').allowed, true, 'port 22 opened after the proven approval');
      const card = slack.lastView(id)!;
      assert.equal(card.approvedByText, 'Bob, MFA');
      const approval = (await world.store.listAudit({ requestId: id })).find((e) => e.type === 'request.approval');
      const stepUp = approval?.details.stepUp as { issuer: string; subject: string; amr: string[] };
      assert.equal(stepUp.issuer, idp.issuer);
      assert.equal(stepUp.subject, 'bob-sub');
      assert.deepEqual(stepUp.amr, ['pwd', 'mfa']);
    });

    it('a sign-in without a second factor approves nothing and says why', async () => {
      await start();
      const { id, link } = await clickApprove(bob);
      idp.nextLogin({ account: 'bob-sub', amr: ['pwd'] });
      const page = await browse(link);
      assert.equal(page.status, 403);
      assert.match(page.body, /did not use a second factor/);
      assert.equal((await world.store.getRequest(id))?.approvals.length, 0);
      const failed = (await world.store.listAudit({ requestId: id })).find((e) => e.type === 'approval.step-up-failed');
      assert.match(String(failed?.details.reason), /second factor/);
    });

    it('an acr the operator names counts as a second factor', async () => {
      await start({ acr: 'urn:example:loa:high' });
      const { id, link } = await clickApprove(bob);
      idp.nextLogin({ account: 'bob-sub', amr: ['pwd'], acr: 'urn:example:loa:high' });
      const page = await browse(link);
      assert.equal(page.status, 200, page.body);
      await world.settle();
      assert.equal((await world.store.getRequest(id))?.state, 'active');
    });

    it('another person signing in on the link approves nothing', async () => {
      await start();
      const { id, link } = await clickApprove(bob);
      idp.nextLogin({ account: 'carol-sub', amr: ['pwd', 'mfa'] });
      const page = await browse(link);
      assert.equal(page.status, 403);
      assert.match(page.body, /not by Bob/);
      const r = await world.store.getRequest(id);
      assert.equal(r?.approvals.length, 0, 'Carol did not approve through Bob’s link, and Bob did not either');
    });

    it('a Teams approver is matched by Entra object id, not by email', async () => {
      await start();
      const { id, link } = await clickApprove(carolInTeams);
      idp.nextLogin({ account: 'mallory-sub', amr: ['pwd', 'mfa'] });
      const wrong = await browse(link);
      assert.equal(wrong.status, 403, 'same email, other object id');
      assert.match(wrong.body, /another account/);
      assert.equal((await world.store.getRequest(id))?.approvals.length, 0);

      idp.nextLogin({ account: 'carol-sub', amr: ['mfa'] });
      const right = await browse(link);
      assert.equal(right.status, 200, right.body);
      await world.settle();
      assert.equal((await world.store.getRequest(id))?.state, 'active');
    });

    it('a used link and a replayed redirect approve nothing more', async () => {
      await start();
      const { id, link } = await clickApprove(bob);
      idp.nextLogin({ account: 'bob-sub', amr: ['mfa'] });
      const first = await browse(link);
      assert.equal(first.status, 200, first.body);
      const callback = first.hops[first.hops.length - 1];
      assert.ok(callback.startsWith(`${base}/step-up/callback?`), callback);

      const again = await browse(link);
      assert.equal(again.status, 409);
      assert.match(again.body, /already used/);
      const replay = await browse(callback);
      assert.equal(replay.status, 409);
      assert.match(replay.body, /already used/);
      await world.settle();
      const approvals = (await world.store.listAudit({ requestId: id })).filter((e) => e.type === 'request.approval');
      assert.equal(approvals.length, 1, 'one approval, once');
    });

    it('a link past its ten minutes approves nothing', async () => {
      await start();
      const { id, link } = await clickApprove(bob);
      await world.advance(11 * MINUTE);
      const page = await browse(link);
      assert.equal(page.status, 410);
      assert.match(page.body, /expired/);
      assert.equal((await world.store.getRequest(id))?.approvals.length, 0);
    });

    it('an expired sign-in code approves nothing, and the link still works afterwards', async () => {
      await start();
      const { id, link } = await clickApprove(bob);
      idp.setCodeTtl(1);
      idp.nextLogin({ account: 'bob-sub', amr: ['mfa'] });
      const held = await browse(link, { stopBefore: (u) => u.startsWith(`${base}/step-up/callback`) });
      assert.ok(held.url.startsWith(`${base}/step-up/callback?`), 'stopped at the redirect back');
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const late = await browse(held.url);
      assert.equal(late.status, 403, late.body);
      assert.match(late.body, /sign-in code|expired/);
      assert.equal((await world.store.getRequest(id))?.approvals.length, 0);

      idp.setCodeTtl(60);
      idp.nextLogin({ account: 'bob-sub', amr: ['mfa'] });
      const retry = await browse(link);
      assert.equal(retry.status, 200, retry.body);
    });

    it('a sign-in code used with another sign-in’s state is refused by the provider', async () => {
      await start();
      const { id, link } = await clickApprove(bob);
      const stop = { stopBefore: (u: string) => u.startsWith(`${base}/step-up/callback`) };
      idp.nextLogin({ account: 'bob-sub', amr: ['mfa'] });
      const one = new URL((await browse(link, stop)).url);
      idp.nextLogin({ account: 'bob-sub', amr: ['mfa'] });
      const two = new URL((await browse(link, stop)).url);
      const mixed = new URL(two.href);
      mixed.searchParams.set('code', one.searchParams.get('code') ?? '');
      const page = await browse(mixed.href);
      assert.equal(page.status, 403, page.body);
      assert.match(page.body, /refused the sign-in code/);
      assert.equal((await world.store.getRequest(id))?.approvals.length, 0);
    });

    it('a provider clock a little ahead is tolerated', async () => {
      await start();
      const { id, link } = await clickApprove(bob);
      idp.nextLogin({ account: 'bob-sub', amr: ['mfa'], authTime: nowSeconds() + 20 });
      const page = await browse(link);
      assert.equal(page.status, 200, page.body);
      await world.settle();
      assert.equal((await world.store.getRequest(id))?.state, 'active');
    });

    it('on a two-approver rule only the principals named in stepUp sign in again', async () => {
      await start();
      const id = submittedId(await world.app.command(alice, 'rdp sql-01 1h from 203.0.113.7 for INC-1'));
      await world.settle();
      const byBob = await world.app.act(bob, 'approve', id);
      assert.equal(byBob.ok, true, byBob.message);
      assert.match(byBob.message, /1 of 2/, 'Bob is not named in stepUp: his click counts');
      const link = await linkFor(carolInTeams, id);
      assert.equal((await world.store.getRequest(id))?.approvals.length, 1, "Carol's click alone does not count");
      idp.nextLogin({ account: 'carol-sub', amr: ['pwd', 'mfa'] });
      const page = await browse(link);
      assert.equal(page.status, 200, page.body);
      await world.settle();
      const r = await world.store.getRequest(id);
      assert.equal(r?.state, 'active');
      assert.equal(slack.lastView(id)?.approvedByText, 'Bob; Carol, MFA');
    });

    it('denying needs no sign-in', async () => {
      await start();
      const id = submittedId(await world.app.command(alice, 'ssh web-01 1h from 10.1.2.3 for INC-9'));
      const result = await world.app.act(bob, 'deny', id);
      assert.equal(result.ok, true, result.message);
      assert.equal((await world.store.getRequest(id))?.state, 'denied');
    });

    it("Bob's sign-in link loses its button once Carol denies the request, and says so", async () => {
      await start();
      const { id } = await clickApprove(bob);
      const sent = slack.recorded.dms.find((d) => d.notice.kind === 'step-up');
      assert.ok(sent);
      assert.equal((await world.app.act(carolInTeams, 'deny', id)).ok, true);
      await world.settle();
      const now = slack.recorded.noticeUpdates.filter((u) => u.id === sent.id).at(-1)?.notice;
      assert.ok(now, 'the message with the link was redrawn');
      assert.match(now.text, /^Denied by Carol at (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC: /);
      assert.equal(now.link, undefined, 'no sign-in button left');
    });

    it('tokens signed with a rotated key still verify', async () => {
      await start();
      const first = await clickApprove(bob);
      idp.nextLogin({ account: 'bob-sub', amr: ['mfa'] });
      assert.equal((await browse(first.link)).status, 200);
      await idp.rotateKeys();
      const second = await clickApprove(bob, 'ssh web-02 1h from 10.1.2.4 for INC-2');
      idp.nextLogin({ account: 'bob-sub', amr: ['mfa'] });
      const page = await browse(second.link);
      assert.equal(page.status, 200, page.body);
      await world.settle();
      assert.equal((await world.store.getRequest(second.id))?.state, 'active');
    });

    it('strange links and callbacks answer a page and change nothing', async () => {
      await start();
      for (const p of ['/step-up/nope', `/step-up/${'A'.repeat(43)}`, '/step-up/callback', '/step-up/callback?state=x&code=y', `/step-up/callback?state=${'B'.repeat(43)}&code=z`]) {
        const res = await fetch(`${base}${p}`, { redirect: 'manual' });
        assert.ok(res.status >= 400 && res.status < 500, `${p} → ${res.status}`);
        assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
        await res.text();
      }
    });
  });
}

describe('starting with step-up rules', () => {
  it('refuses to start when a rule asks for step-up and no sign-in provider is set', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jitbot-stepup-'));
    const file = path.join(dir, 'rules.yaml');
    writeFileSync(file, YAML.stringify(stepUpConfig().doc));
    await assert.rejects(
      startBot({ JITBOT_CONFIG: file, JITBOT_DATA_DIR: dir, PORT: '0', JITBOT_SIM_PORT: '0' }, { logger: silentLogger }),
      /rules web, sql ask approvers to sign in again \(stepUp\): set JITBOT_OIDC_CLIENT_ID/,
    );
  });

  it('starts with a sign-in provider set, and serves the step-up routes', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jitbot-stepup-'));
    const file = path.join(dir, 'rules.yaml');
    writeFileSync(file, YAML.stringify(stepUpConfig().doc));
    const bot = await startBot(
      { JITBOT_CONFIG: file, JITBOT_DATA_DIR: dir, PORT: '0', JITBOT_SIM_PORT: '0', JITBOT_OIDC_ISSUER: 'http://127.0.0.1:9/unused', JITBOT_OIDC_CLIENT_ID: 'jitbot' },
      { logger: silentLogger },
    );
    try {
      const res = await fetch(`${bot.url}/step-up/${'A'.repeat(43)}`, { redirect: 'manual' });
      assert.equal(res.status, 404);
      assert.match(await res.text(), /This link is not valid/);
    } finally {
      await bot.close();
    }
  });
});
