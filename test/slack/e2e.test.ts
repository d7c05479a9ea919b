// End to end with the real parts: the Bolt app inside the real restify server, the real use cases on
// the real store, the Azure simulator behind the real Azure client, and the fake Slack Web API.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '../../src/app/logger';
import { fromMeUrl, mountFromMe } from '../../src/web/from-me';
import { createHttpServer, type HttpServer } from '../../src/server';
import { createSlackAdapter, type SlackAdapter } from '../../src/slack';
import { blockActions, blockSuggestion, formValues, slashCommand, SlackTestClient, viewSubmission, appHomeOpened } from '../clients/slack';
import { FakeSlackApi, type FakeMessage } from '../fakes/slack-api';
import { MINUTE, startWorld, type TestWorld } from '../helpers/world';
import { BOT_TOKEN, RecordingLogger, SIGNING_SECRET } from './support';

const APPROVALS = 'C0JITAPPROVALS';

interface Ephemeral {
  response_type?: string;
  replace_original?: boolean;
  text?: string;
  blocks?: unknown[];
  response_action?: string;
  errors?: Record<string, string>;
  view?: { blocks: Array<{ text?: { text: string } }> };
}

function actionIdsOf(message: FakeMessage | undefined): string[] {
  return JSON.stringify(message?.blocks ?? []).match(/jit_(approve|deny|extend|release|cancel)/g) ?? [];
}

function textOf(message: FakeMessage | undefined): string {
  return JSON.stringify(message?.blocks ?? []);
}

describe('Slack end to end (real app, store, Azure simulator)', function () {
  this.timeout(20_000);
  let world: TestWorld;
  let fake: FakeSlackApi;
  let adapter: SlackAdapter;
  let http: HttpServer;
  let client: SlackTestClient;
  let logger: RecordingLogger;
  let seq = 0;
  let base = '';

  beforeEach(async () => {
    world = await startWorld({ app: { addressLink: (id, token) => fromMeUrl(base, id, token) } });
    fake = await FakeSlackApi.start();
    logger = new RecordingLogger();
    adapter = createSlackAdapter({
      api: world.app,
      botToken: BOT_TOKEN,
      signingSecret: SIGNING_SECRET,
      apiUrl: fake.apiUrl,
      logger,
      clock: world.clock,
      processBeforeResponse: true,
      botId: 'B0BOT',
      botUserId: 'U0BOT',
    });
    world.addChat(adapter.chat);
    http = createHttpServer({ logger: silentLogger, mounts: [(s) => adapter.mount(s), mountFromMe({ api: world.app, trustedProxies: [], logger: silentLogger })] });
    await http.listen(0);
    const port = (http.server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
    client = new SlackTestClient(`http://127.0.0.1:${port}/slack/events`, SIGNING_SECRET);
    await adapter.start();
  });

  afterEach(async () => {
    await adapter.stop();
    await http.close();
    await world.close();
    await fake.close();
    assert.ok(!logger.text().includes(BOT_TOKEN), 'a log line carried the bot token');
  });

  // ---- helpers --------------------------------------------------------------------------------

  async function command(user: string, text: string, opts: { retryNum?: number; fields?: ReturnType<typeof slashCommand> } = {}): Promise<Ephemeral> {
    seq += 1;
    const fields = opts.fields ?? slashCommand({ user_id: user, text, response_url: fake.responseUrl(`cmd-${seq}`) });
    const res = await client.command(fields, opts.retryNum !== undefined ? { retryNum: opts.retryNum, retryReason: 'http_timeout' } : {});
    assert.equal(res.status, 200);
    await world.settle();
    return (res.json as Ephemeral | undefined) ?? (fake.responsesTo(`cmd-${seq}`)[0] as Ephemeral);
  }

  /** Asks, checks the "sent for approval" answer, and returns the id and the card Slack now shows. */
  async function request(user: string, text: string): Promise<{ id: string; card: FakeMessage }> {
    const answer = await command(user, text);
    const id = /Sent for approval: (R[A-Z0-9]+)/.exec(answer.text ?? '')?.[1];
    assert.ok(id, `no request id in ${JSON.stringify(answer)}`);
    assert.equal(answer.response_type, 'ephemeral');
    return { id, card: cardOf(id) };
  }

  function cardOf(id: string): FakeMessage {
    const card = fake.channelMessages(APPROVALS).find((m) => m.text.startsWith(`${id}:`));
    assert.ok(card, `no card for ${id} in ${APPROVALS}`);
    return card;
  }

  async function click(user: string, verb: string, id: string, where: { messageTs?: string; actionTs?: string } = {}): Promise<Ephemeral> {
    seq += 1;
    const key = `click-${seq}`;
    const res = await client.interactive(
      blockActions({ user, actionId: `jit_${verb}`, value: id, responseUrl: fake.responseUrl(key), channel: APPROVALS, messageTs: where.messageTs ?? cardOf(id).ts, ...(where.actionTs ? { actionTs: where.actionTs } : {}) }),
    );
    assert.equal(res.status, 200);
    await world.settle();
    const [answer] = fake.responsesTo(key) as Ephemeral[];
    assert.ok(answer, 'the clicker got no answer');
    assert.equal(answer.response_type, 'ephemeral');
    assert.equal(answer.replace_original, false);
    return answer;
  }

  const open = (vm: string, port: number, source: string) => world.sim.check(vm, port, source).allowed;

  /** Deny opens a modal for the reason; submitting it denies. The answer is the modal's new content. */
  async function deny(user: string, id: string, reason: string): Promise<string> {
    const before = fake.callsTo('views.open').length;
    const res = await client.interactive(blockActions({ user, actionId: 'jit_deny', value: id, responseUrl: fake.responseUrl(`deny-${id}-${user}`), channel: APPROVALS, messageTs: cardOf(id).ts }));
    assert.equal(res.status, 200);
    const opened = fake.callsTo('views.open').slice(before);
    assert.equal(opened.length, 1, 'the deny button opens one modal');
    const modal = opened[0].args.view as { callback_id: string; private_metadata: string };
    assert.equal(modal.callback_id, 'jit_deny_reason');
    const submitted = await client.interactive(
      viewSubmission({ user, callbackId: modal.callback_id, privateMetadata: modal.private_metadata, viewId: `VDENY${user}`, values: { jit_deny_reason: { value: { type: 'plain_text_input', value: reason } } } }),
    );
    await world.settle();
    const body = submitted.json as Ephemeral;
    assert.equal(body.response_action, 'update');
    return (body.view?.blocks ?? []).map((b) => b.text?.text ?? '').join('\n');
  }

  // ---- the lifecycle ----------------------------------------------------------------------------

  it('takes a request from /jit through approval, the reminder and expiry, opening and closing the port in Azure', async () => {
    const { id, card } = await request('U0ALICE', 'ssh web-01 1h from 10.1.2.3 for INC-4711');
    assert.deepEqual(actionIdsOf(card), ['jit_approve', 'jit_deny']);
    assert.match(textOf(card), /0 of 1/);
    assert.match(textOf(card), /<@U0ALICE>/);
    assert.equal(open('web-01', 22, '10.1.2.3'), false);

    const answer = await click('U0BOB', 'approve', id);
    assert.match(answer.text ?? '', new RegExp(`You approved ${id}`));
    const approved = cardOf(id);
    assert.ok(approved.updates >= 1, 'the card was not redrawn');
    assert.deepEqual(actionIdsOf(approved), [], 'an approved card keeps no buttons');
    assert.match(textOf(approved), /Approved by Bob/);
    const thread = fake.thread(APPROVALS, card.ts);
    assert.ok(thread.some((m) => /open until (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC from 10\.1\.2\.3/i.test(m.text)), thread.map((m) => m.text).join('\n'));
    assert.equal(open('web-01', 22, '10.1.2.3'), true);
    assert.equal(open('web-01', 22, '10.9.9.9'), false);
    const dm = fake.channelMessages('D0ALICE');
    assert.ok(dm.some((m) => /Approved by Bob/.test(m.text)), 'the requester got no direct message');

    await world.advance(50 * MINUTE);
    const reminder = fake.thread(APPROVALS, card.ts).find((m) => m.text.includes(':alarm_clock:'));
    assert.ok(reminder, 'no reminder in the thread');
    assert.match(reminder.text, /<@U0ALICE>/);
    assert.deepEqual(actionIdsOf(reminder), ['jit_extend', 'jit_release']);

    await world.advance(11 * MINUTE);
    assert.ok(fake.thread(APPROVALS, card.ts).some((m) => /expired, ports closed/i.test(m.text)));
    assert.equal(open('web-01', 22, '10.1.2.3'), false);
    assert.deepEqual(actionIdsOf(cardOf(id)), []);
    assert.match(textOf(cardOf(id)), /Expired, ports closed/);
  });

  it('from me: the link comes only to the requester, a preview records nothing, and the button sends the card with that address', async () => {
    const answer = await command('U0ALICE', 'rdp sql-01 1h for patching');
    assert.equal(answer.response_type, 'ephemeral', 'the link is for the requester alone');
    const url = /"url":"([^"]+)"/.exec(JSON.stringify(answer.blocks))?.[1] ?? '';
    assert.ok(url.startsWith(`${base}/from-me/`), JSON.stringify(answer.blocks));
    assert.equal(fake.channelMessages(APPROVALS).length, 0, 'no card before the address is known');
    const preview = await fetch(url);
    const html = await preview.text();
    assert.equal(preview.status, 200);
    await world.settle();
    assert.equal(fake.channelMessages(APPROVALS).length, 0, "a previewer's GET records nothing");
    const token = /name="t" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const id = /\/from-me\/(R[A-Z0-9]+)/.exec(url)?.[1] ?? '';
    const post = await fetch(`${base}/from-me/${id}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `t=${token}` });
    assert.equal(post.status, 200, await post.text());
    await world.settle();
    assert.match(textOf(cardOf(id)), /127\.0\.0\.1/);
    const again = await fetch(`${base}/from-me/${id}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `t=${token}` });
    assert.equal(again.status, 404, 'the link works once');
  });

  it('denies with a reason from a modal: the card, the thread and the requester say who and why, and nothing opens', async () => {
    const { id, card } = await request('U0ALICE', 'ssh web-02 30m from 10.1.2.3 for INC-1');
    const answer = await deny('U0CAROL', id, 'use the bastion for INC-1');
    assert.match(answer, /You denied .*: use the bastion for INC-1/);
    assert.match(textOf(cardOf(id)), /Denied by Carol.*use the bastion for INC-1/);
    assert.deepEqual(actionIdsOf(cardOf(id)), []);
    assert.ok(fake.thread(APPROVALS, card.ts).some((m) => /<@U0ALICE>.*Denied by Carol: use the bastion for INC-1/.test(m.text)));
    assert.equal(open('web-02', 22, '10.1.2.3'), false);
  });

  it('cancels from the requester’s own "sent for approval" message', async () => {
    const { id } = await request('U0ALICE', 'ssh web-01 1h from 10.1.2.3 for INC-2');
    const answer = await click('U0ALICE', 'cancel', id);
    assert.match(answer.text ?? '', new RegExp(`Cancelled ${id}`));
    assert.match(textOf(cardOf(id)), /Cancelled by the requester/);
    assert.deepEqual(actionIdsOf(cardOf(id)), []);
    assert.equal((await world.store.getRequest(id))?.state, 'cancelled');
  });

  it('releases early from the reminder button and closes the port', async () => {
    const { id, card } = await request('U0ALICE', 'ssh web-01 1h from 10.1.2.3 for INC-3');
    await click('U0BOB', 'approve', id);
    assert.equal(open('web-01', 22, '10.1.2.3'), true);
    await world.advance(50 * MINUTE);
    const reminder = fake.thread(APPROVALS, card.ts).find((m) => m.text.includes(':alarm_clock:'));
    assert.ok(reminder);
    const answer = await click('U0ALICE', 'release', id, { messageTs: reminder.ts });
    assert.match(answer.text ?? '', /[Rr]eleased/);
    assert.equal((await world.store.getRequest(id))?.state, 'released');
    assert.ok(fake.thread(APPROVALS, card.ts).some((m) => /Released by Alice; Azure closes 22\/TCP on web-01 within a minute/.test(m.text)));
    assert.deepEqual(actionIdsOf(cardOf(id)), []);
    // Azure cannot revoke: release is a new initiate with the shortest end time it accepts.
    await world.advance(5 * MINUTE);
    assert.equal(open('web-01', 22, '10.1.2.3'), false);
  });

  it('extends: the card asks the approvers again, and an approved extension keeps the port open past the first end', async () => {
    const { id, card } = await request('U0ALICE', 'ssh web-01 1h from 10.1.2.3 for INC-4');
    await click('U0BOB', 'approve', id);
    await world.advance(50 * MINUTE);
    const reminder = fake.thread(APPROVALS, card.ts).find((m) => m.text.includes(':alarm_clock:'));
    assert.ok(reminder);
    await click('U0ALICE', 'extend', id, { messageTs: reminder.ts });
    assert.deepEqual(actionIdsOf(cardOf(id)), ['jit_approve', 'jit_deny']);
    assert.match(textOf(cardOf(id)), /Extension asked/);
    await click('U0BOB', 'approve', id);
    assert.deepEqual(actionIdsOf(cardOf(id)), []);
    await world.advance(20 * MINUTE);
    assert.equal((await world.store.getRequest(id))?.state, 'active');
    assert.equal(open('web-01', 22, '10.1.2.3'), true);
  });

  it('needs two distinct approvers for sql-01: "1 of 2" after the first, open after the second', async () => {
    const { id } = await request('U0ALICE', 'rdp sql-01 1h from 203.0.113.7 for patching');
    assert.match(textOf(cardOf(id)), /0 of 2/);
    await click('U0BOB', 'approve', id);
    assert.match(textOf(cardOf(id)), /1 of 2/);
    assert.deepEqual(actionIdsOf(cardOf(id)), ['jit_approve', 'jit_deny'], 'still waiting for a second approver');
    assert.equal(open('sql-01', 3389, '203.0.113.7'), false);

    const again = await click('U0BOB', 'approve', id);
    assert.match(again.text ?? '', /already approved/);
    assert.match(textOf(cardOf(id)), /1 of 2/);

    await click('U0CAROL', 'approve', id);
    assert.match(textOf(cardOf(id)), /Approved by Bob, Carol/);
    assert.equal(open('sql-01', 3389, '203.0.113.7'), true);
  });

  it('tells a non-approver why they can’t approve, and changes nothing', async () => {
    const { id } = await request('U0ALICE', 'ssh web-01 1h from 10.1.2.3 for INC-5');
    const before = await world.store.getRequest(id);
    const updatesBefore = fake.callsTo('chat.update').length;
    const dave = await click('U0DAVE', 'approve', id);
    assert.match(dave.text ?? '', /you can't approve this request: only group:sre may approve/);
    const own = await click('U0ALICE', 'approve', id);
    assert.match(own.text ?? '', /you can't approve your own request/);
    assert.equal((await world.store.getRequest(id))?.version, before?.version);
    assert.equal(fake.callsTo('chat.update').length, updatesBefore);
  });

  it('tells a second clicker who already decided', async () => {
    const { id } = await request('U0ALICE', 'ssh web-01 1h from 10.1.2.3 for INC-6');
    await click('U0BOB', 'approve', id);
    const late = await deny('U0CAROL', id, '');
    assert.match(late, /already approved by Bob/);
    assert.equal((await world.store.getRequest(id))?.state, 'active');
  });

  it('never makes a second request or decision from a retried delivery or a double click', async () => {
    const fields = slashCommand({ user_id: 'U0ALICE', text: 'ssh web-01 1h from 10.1.2.3 for INC-7', response_url: fake.responseUrl('retry') });
    const first = await command('U0ALICE', '', { fields });
    const id = /Sent for approval: (R[A-Z0-9]+)/.exec(first.text ?? '')?.[1];
    assert.ok(id);
    const retried = await command('U0ALICE', '', { fields, retryNum: 1 });
    assert.match(retried.text ?? '', /Already received/);
    assert.equal((await world.store.listRequests({ requesterEmail: 'alice@example.com' })).length, 1);
    assert.equal(fake.channelMessages(APPROVALS).length, 1);

    const versionBefore = (await world.store.getRequest(id))?.version ?? 0;
    await click('U0BOB', 'approve', id, { actionTs: '1700000200.000001' });
    const versionAfter = (await world.store.getRequest(id))?.version ?? 0;
    assert.ok(versionAfter > versionBefore);
    const redelivered = await click('U0BOB', 'approve', id, { actionTs: '1700000200.000001' });
    assert.match(redelivered.text ?? '', /Already received/);
    const doubleClick = await click('U0BOB', 'approve', id, { actionTs: '1700000200.000002' });
    assert.match(doubleClick.text ?? '', /already approved/);
    const request = await world.store.getRequest(id);
    assert.equal(request?.approvals.length, 1);
    assert.equal(request?.version, versionAfter, 'a duplicate changed the request');
    const approvedAudits = (await world.store.listAudit({ requestId: id })).filter((e) => e.type === 'request.approved');
    assert.equal(approvedAudits.length, 1);
  });

  it('leaves no trace in the store or at Slack for forged requests', async () => {
    const fields = slashCommand({ user_id: 'U0ALICE', text: 'ssh web-01 1h from 10.1.2.3 for forged', response_url: fake.responseUrl('forged') });
    const auditBefore = (await world.store.listAudit({})).length;
    fake.reset();
    const forged = [
      await client.command(fields, { secret: 'guessed-secret' }),
      await client.command(fields, { timestampSec: Math.floor(Date.now() / 1000) - 6 * 60 }),
      // Correctly signed, but dated ahead: held back to be replayed later.
      await client.command(fields, { timestampSec: Math.floor(Date.now() / 1000) + 6 * 60 }),
      await client.command(fields, { omitSignature: true }),
      await client.command(fields, { omitTimestamp: true }),
      await client.command(fields, { sendBody: new URLSearchParams({ ...fields, text: 'ssh web-02 3h from 10.0.0.0/8' }).toString().replace(/\+/g, '%20') }),
      await client.interactive(blockActions({ user: 'U0BOB', actionId: 'jit_approve', value: 'RAAAAA', responseUrl: fake.responseUrl('forged') }), { secret: 'guessed-secret' }),
    ];
    assert.deepEqual(forged.map((r) => r.status), [401, 401, 401, 401, 401, 401, 401]);
    await world.settle();
    assert.equal((await world.store.listRequests({})).length, 0);
    assert.equal((await world.store.listAudit({})).length, auditBefore);
    assert.deepEqual(fake.calls, []);
    assert.deepEqual(fake.responseUrlPosts, []);
  });

  it('opens the request form as a modal and brings an invalid field back inline', async () => {
    const fields = slashCommand({ user_id: 'U0ALICE', text: '', response_url: fake.responseUrl('form') });
    await command('U0ALICE', '', { fields });
    const [opened] = fake.callsTo('views.open');
    assert.equal(opened.args.trigger_id, fields.trigger_id);
    const form = fake.callsTo('views.update')[0].args.view as { callback_id: string; blocks: Array<{ block_id: string; element: { type: string } }> };
    assert.equal(form.callback_id, 'jit_request_form');
    assert.equal(form.blocks.find((b) => b.block_id === 'jit_vm')?.element.type, 'multi_external_select');
    // The VM choices come from the bot as Alice types.
    const suggested = await client.interactive(blockSuggestion({ user: 'U0ALICE', value: '' }));
    const vmChoices = ((suggested.json as { options?: Array<{ value: string }> }).options ?? []).map((o) => o.value);
    assert.ok(vmChoices.includes('web-01') && vmChoices.includes('sql-01'), vmChoices.join(','));
    const typed = await client.interactive(blockSuggestion({ user: 'U0ALICE', value: 'sql' }));
    assert.deepEqual(((typed.json as { options?: Array<{ value: string }> }).options ?? []).map((o) => o.value), ['sql-01']);

    const wrong = await client.interactive(viewSubmission({ user: 'U0ALICE', values: formValues({ vm: 'web-01', ports: ['22'], duration: '1h', source: '192.168.1.10', reason: 'INC-8' }) }));
    const errors = (wrong.json as Ephemeral).errors ?? {};
    assert.equal((wrong.json as Ephemeral).response_action, 'errors');
    assert.deepEqual(Object.keys(errors), ['jit_source'], JSON.stringify(errors));
    assert.equal((await world.store.listRequests({})).length, 0);

    const right = await client.interactive(viewSubmission({ user: 'U0ALICE', values: formValues({ vm: 'web-01', ports: ['22'], duration: '1h', source: '10.1.2.3', reason: 'INC-8' }) }));
    const body = right.json as Ephemeral;
    assert.equal(body.response_action, 'update');
    const id = /Sent for approval: (R[A-Z0-9]+)/.exec(body.view?.blocks[0].text?.text ?? '')?.[1];
    assert.ok(id);
    await world.settle();
    assert.deepEqual(actionIdsOf(cardOf(id)), ['jit_approve', 'jit_deny']);
  });

  it('publishes App Home with the person’s pending request and what waits for an approver', async () => {
    const { id } = await request('U0ALICE', 'ssh web-01 1h from 10.1.2.3 for INC-9');
    await client.event(appHomeOpened('U0ALICE'));
    await client.event(appHomeOpened('U0BOB'));
    const [alice, bob] = fake.callsTo('views.publish');
    assert.equal(alice.args.user_id, 'U0ALICE');
    assert.match(JSON.stringify(alice.args.view), new RegExp(`jit_pending_${id}`));
    assert.equal(bob.args.user_id, 'U0BOB');
    assert.match(JSON.stringify(bob.args.view), new RegExp(`jit_awaiting_${id}`));
  });

  it('answers a Slack user the access rules do not know, and helps anyone', async () => {
    const refused = await command('U0MALLORY', 'ssh web-01 1h from 10.1.2.3');
    assert.match(refused.text ?? '', /not in jitbot's access list/);
    const help = await command('U0MALLORY', 'help');
    assert.equal(help.text, 'How to use /jit');
    assert.equal((await world.store.listRequests({})).length, 0);
  });

  it('sends an admin the audit trail as a CSV file in a direct message', async () => {
    const { id } = await request('U0ALICE', 'ssh web-01 1h from 10.1.2.3 for INC-10');
    const answer = await command('U0CAROL', 'audit 1d');
    assert.match(answer.text ?? '', /direct messages/);
    const [upload] = fake.uploads;
    assert.ok(upload, 'nothing was uploaded');
    assert.match(upload.content, new RegExp(id));
    assert.equal(fake.callsTo('files.completeUploadExternal')[0].args.channel_id, 'D0CAROL');
  });

  it('shows "opening" on the card until Azure applies the rule, then "Open until" with the firewall address to connect to', async () => {
    world.sim.setApplyDelay(8_000);
    const { id, card } = await request('U0ALICE', 'ssh web-fw-01 1h from 10.1.2.3 for INC-11');
    const answer = await click('U0BOB', 'approve', id);
    assert.match(answer.text ?? '', /opening the ports now/);
    assert.match(textOf(cardOf(id)), /opening… \(waiting for Azure to apply the rules\)/);
    assert.ok(fake.thread(APPROVALS, card.ts).some((m) => m.text.includes('Approved by Bob; opening 22/TCP on web-fw-01…')));
    assert.ok(!fake.thread(APPROVALS, card.ts).some((m) => m.text.includes('Open until')), 'nothing says open while Azure is applying');
    assert.equal(open('web-fw-01', 22, '10.1.2.3'), false);
    await world.advance(10_000);
    assert.equal((await world.store.getRequest(id))?.state, 'active');
    assert.match(textOf(cardOf(id)), /Open until (?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC; connect to 22 on web-fw-01 at 203\.0\.113\.50:50022/);
    const opened = fake.thread(APPROVALS, card.ts).find((m) => m.text.includes('Open until'));
    assert.ok(opened && opened.text.includes('Connect through Azure Firewall: 22 on web-fw-01 at 203.0.113.50:50022'), opened?.text);
  });

  it('tells the thread and the requester when Azure fails to apply an approved request', async () => {
    world.sim.setApplyDelay(3_000);
    world.sim.setApplyFailure('web-01', 'The network security group nsg-web-01 is locked.');
    const { id, card } = await request('U0ALICE', 'ssh web-01 1h from 10.1.2.3 for INC-12');
    await click('U0BOB', 'approve', id);
    await world.advance(4_000);
    assert.equal((await world.store.getRequest(id))?.state, 'failed');
    assert.match(textOf(cardOf(id)), /Failed: ports were not opened/);
    assert.deepEqual(actionIdsOf(cardOf(id)), []);
    assert.ok(fake.thread(APPROVALS, card.ts).some((m) => m.text.includes('Azure could not apply port 22 on web-01: The network security group nsg-web-01 is locked')));
    assert.ok(!fake.thread(APPROVALS, card.ts).some((m) => m.text.includes('Open until')));
    assert.ok(fake.channelMessages('D0ALICE').some((m) => m.text.includes('Could not open 22/TCP on web-01')), 'the requester hears it directly');
  });

  // ---- against an insider (issue 12) ----------------------------------------------------------

  it('answers an audit typed in a channel with "sent to you personally" and no link, and sends the CSV to a DM', async () => {
    await request('U0ALICE', 'ssh web-01 1h from 10.1.2.3 for INC-12');
    const answer = await command('U0CAROL', 'audit web-* 1d');
    assert.match(answer.text ?? '', /^Sent to you personally/);
    assert.doesNotMatch(JSON.stringify(answer), /https?:\/\//);
    const [upload] = fake.uploads;
    assert.ok(upload && upload.content.includes('web-01'), 'the glob filter found the web-01 events');
    assert.equal(fake.callsTo('files.completeUploadExternal')[0].args.channel_id, 'D0CAROL');
  });

  it('lets a person Slack did not know in within a minute of being added', async () => {
    fake.addUser({ id: 'U0KATE', name: 'kate', realName: 'Kate' });
    assert.match((await command('U0KATE', 'status')).text ?? '', /not in jitbot's access list/);
    fake.addUser({ id: 'U0KATE', name: 'kate', realName: 'Kate', email: 'alice@example.com' });
    world.clock.advance(30_000);
    assert.match((await command('U0KATE', 'status')).text ?? '', /not in jitbot's access list/, 'still cached for now');
    world.clock.advance(31_000);
    assert.doesNotMatch((await command('U0KATE', 'status')).text ?? '', /not in jitbot's access list/);
  });

  // NFKC folds the full-width `ａ` onto `a`, as it folds the Kelvin sign onto `K`: such an address is refused.
  it('treats a full-width look-alike of a known email as nobody, and folds case alone', async () => {
    fake.addUser({ id: 'U0KELVIN', name: 'lookalike', realName: 'Alice', email: '\uFF41lice@example.com' });
    fake.addUser({ id: 'U0CAROL2', name: 'carol2', realName: 'Carol', email: 'CAROL@EXAMPLE.COM' });
    assert.match((await command('U0KELVIN', 'status')).text ?? '', /not in jitbot's access list/);
    assert.doesNotMatch((await command('U0CAROL2', 'status')).text ?? '', /not in jitbot's access list/, 'case alone is folded');
  });
});
