import assert from 'node:assert/strict';
import { appHomeOpened, blockActions, blockSuggestion, formValues, slashCommand, viewSubmission } from '../clients/slack';
import { BOT_TOKEN, SAMPLE_VIEW, SIGNING_SECRET, StubApi, startSlackHarness, type SlackHarness } from './support';

interface AckBody {
  response_type?: string;
  replace_original?: boolean;
  text?: string;
  blocks?: Array<{ type: string; text?: { text: string } }>;
  response_action?: string;
  errors?: Record<string, string>;
  view?: { type: string; blocks: Array<{ type: string; text?: { text: string } }> };
}

describe('Slack listeners (real Bolt, fake Web API, stand-in api)', () => {
  let api: StubApi;
  let h: SlackHarness;

  beforeEach(async () => {
    api = new StubApi();
    h = await startSlackHarness(api, { ackBudgetMs: 150 });
    h.fake.reset();
  });
  afterEach(async () => {
    await h.close();
  });

  describe('/jit', () => {
    it('answers in the acknowledgement itself, ephemerally, when the api is quick', async () => {
      const res = await h.client.command(slashCommand({ user_id: 'U0ALICE', text: 'help', response_url: h.fake.responseUrl('r1') }));
      assert.equal(res.status, 200);
      const body = res.json as AckBody;
      assert.equal(body.response_type, 'ephemeral');
      assert.equal(body.text, 'How to use /jit');
      assert.equal(h.fake.responseUrlPosts.length, 0);
    });

    it('passes the person as an Actor with the lower-cased email Slack knows, and the trigger id as idempotency key', async () => {
      const cmd = slashCommand({ user_id: 'U0BOB', text: 'ssh web-01 1h from 10.1.2.3 for INC-4711', response_url: h.fake.responseUrl('r1') });
      await h.client.command(cmd);
      const [call] = api.calledWith('command');
      assert.deepEqual(call.actor, { platform: 'slack', userId: 'U0BOB', email: 'bob@example.com', name: 'Bob' });
      assert.equal(call.text, 'ssh web-01 1h from 10.1.2.3 for INC-4711');
      assert.deepEqual(call.opts, { idempotencyKey: `slack:command:${cmd.trigger_id}` });
      assert.deepEqual(h.fake.callsTo('users.info')[0].args.user, 'U0BOB');
    });

    it('says a request was sent for approval, with its id, and points to the live copy in direct messages rather than drawing a Cancel button that goes stale', async () => {
      const res = await h.client.command(slashCommand({ user_id: 'U0ALICE', text: 'ssh web-01 1h from 10.1.2.3', response_url: h.fake.responseUrl('r1') }));
      const body = res.json as AckBody;
      assert.equal(body.text, 'Sent for approval: R4K7QX.');
      assert.ok(!JSON.stringify(body.blocks).includes('"action_id":"jit_cancel"'));
      assert.match(JSON.stringify(body.blocks), /Your copy in our direct messages/);
    });

    it('acknowledges empty and answers through response_url when the api is slow', async () => {
      api.delayMs = 400;
      const res = await h.client.command(slashCommand({ user_id: 'U0ALICE', text: 'vms', response_url: h.fake.responseUrl('slow') }));
      assert.equal(res.status, 200);
      assert.equal(res.text, '');
      const [answer] = h.fake.responsesTo('slow');
      assert.equal(answer.response_type, 'ephemeral');
      assert.equal(answer.replace_original, false);
      assert.equal(answer.text, 'Sent for approval: R4K7QX.');
    });

    it('acknowledges within the budget even when Bolt waits for nothing (processBeforeResponse off)', async () => {
      await h.close();
      api = new StubApi();
      api.delayMs = 600;
      h = await startSlackHarness(api, { ackBudgetMs: 100, processBeforeResponse: false });
      const started = Date.now();
      const res = await h.client.command(slashCommand({ user_id: 'U0ALICE', text: 'vms', response_url: h.fake.responseUrl('later') }));
      assert.equal(res.status, 200);
      assert.ok(Date.now() - started < 450, `acked after ${Date.now() - started} ms`);
      assert.equal(h.fake.responsesTo('later').length, 0);
      await h.fake.waitFor(() => h.fake.responsesTo('later')[0], 'the late answer');
    });

    it('hands an unknown Slack user to the api with no email, and a user Slack hides the email of likewise', async () => {
      await h.client.command(slashCommand({ user_id: 'U0NOBODY', user_name: 'nobody', text: 'status', response_url: h.fake.responseUrl('x') }));
      await h.client.command(slashCommand({ user_id: 'U0NOMAIL', text: 'status', response_url: h.fake.responseUrl('y') }));
      const [unknown, hidden] = api.calledWith('command');
      assert.deepEqual(unknown.actor, { platform: 'slack', userId: 'U0NOBODY', email: null, name: 'nobody' });
      assert.deepEqual(hidden.actor, { platform: 'slack', userId: 'U0NOMAIL', email: null, name: 'No Mail' });
    });

    it('apologises politely, without calling the api, when Slack cannot say who typed', async () => {
      h.fake.serverErrorNext('users.info', 3);
      const res = await h.client.command(slashCommand({ user_id: 'U0ALICE', text: 'status', response_url: h.fake.responseUrl('x') }));
      assert.equal(res.status, 200);
      // Three quick tries outlast the ack budget, so the apology comes through response_url.
      const [answer] = h.fake.responsesTo('x');
      assert.match(String(answer.text), /^Sorry, something went wrong/);
      assert.equal(answer.response_type, 'ephemeral');
      assert.equal(h.fake.callsTo('users.info').length, 3);
      assert.equal(api.calledWith('command').length, 0);
      assert.ok(!h.logger.text().includes(BOT_TOKEN));
    });

    it('opens the modal with the trigger at once, then fills it with the form the api allows', async () => {
      const cmd = slashCommand({ user_id: 'U0ALICE', text: '', response_url: h.fake.responseUrl('x') });
      const res = await h.client.command(cmd);
      assert.equal(res.status, 200);
      const [open] = h.fake.callsTo('views.open');
      assert.equal(open.args.trigger_id, cmd.trigger_id);
      assert.equal(h.fake.calls.indexOf(open), 0, 'views.open comes before any other call');
      const [update] = h.fake.callsTo('views.update');
      const view = update.args.view as { callback_id: string; blocks: Array<{ block_id?: string }> };
      assert.equal(view.callback_id, 'jit_request_form');
      assert.deepEqual(view.blocks.map((b) => b.block_id), ['jit_vm', 'jit_ports', 'jit_duration', 'jit_source', 'jit_from_me', 'jit_reason']);
      assert.equal(typeof update.args.view_id, 'string');
      assert.equal(api.calledWith('form').length, 1);
    });

    it('shows the api’s refusal in the modal when the person may not use the form', async () => {
      api.formResult = () => ({ ok: false, reply: { kind: 'error', message: 'You are not in the access rules.' } });
      await h.client.command(slashCommand({ user_id: 'U0MALLORY', text: '', response_url: h.fake.responseUrl('x') }));
      const view = h.fake.callsTo('views.update')[0].args.view as { blocks: Array<{ text?: { text: string } }> };
      assert.equal(view.blocks[0].text?.text, ':warning: You are not in the access rules.');
    });

    it('tells the person to try again when the trigger has expired', async () => {
      h.fake.failNext('views.open', 'expired_trigger_id');
      await h.client.command(slashCommand({ user_id: 'U0ALICE', text: '', response_url: h.fake.responseUrl('expired') }));
      const [answer] = h.fake.responsesTo('expired');
      assert.match(String(answer.text).replace(/\u200b/g, ''), /Type `\/jit` again/);
      assert.equal(api.calledWith('form').length, 0);
    });

    it('uploads an audit CSV to the requester’s direct messages and says so', async () => {
      const csv = 'at,request,type,actor\n2026-11-21T12:00:00Z,R1,request.created,alice@example.com\n';
      api.commandReply = () => ({ kind: 'audit', csv, filename: 'jit-audit-2026-11-21.csv', rows: 1, text: 'Audit trail of the last 7 days.' });
      const res = await h.client.command(slashCommand({ user_id: 'U0CAROL', text: 'audit 7d', response_url: h.fake.responseUrl('audit') }));
      assert.equal(res.text, '');
      assert.deepEqual(h.fake.callsTo('conversations.open')[0].args.users, 'U0CAROL');
      const [getUrl] = h.fake.callsTo('files.getUploadURLExternal');
      assert.equal(getUrl.args.filename, 'jit-audit-2026-11-21.csv');
      assert.equal(h.fake.uploads.length, 1);
      assert.equal(h.fake.uploads[0].content, csv);
      const [complete] = h.fake.callsTo('files.completeUploadExternal');
      assert.equal(complete.args.channel_id, 'D0CAROL');
      assert.equal(complete.args.initial_comment, 'Audit trail of the last 7 days.');
      const [answer] = h.fake.responsesTo('audit');
      assert.match(String(answer.text), /in our direct messages: jit-audit-2026-11-21\.csv/);
    });

    it('says so when Slack refuses the audit upload', async () => {
      api.commandReply = () => ({ kind: 'audit', csv: 'a,b\n', filename: 'jit-audit.csv', rows: 0, text: 'Audit trail.' });
      h.fake.failNext('files.getUploadURLExternal', 'missing_scope');
      await h.client.command(slashCommand({ user_id: 'U0CAROL', text: 'audit', response_url: h.fake.responseUrl('noscope') }));
      const [answer] = h.fake.responsesTo('noscope');
      assert.match(String(answer.text).replace(/\u200b/g, ''), /Could not send the audit CSV \(Slack said missing_scope\)/);
      assert.equal(h.fake.uploads.length, 0);
    });

    it('gives a retried delivery the same idempotency key as the first', async () => {
      const cmd = slashCommand({ user_id: 'U0ALICE', text: 'ssh web-01 1h from 10.1.2.3', response_url: h.fake.responseUrl('r') });
      await h.client.command(cmd);
      await h.client.command(cmd, { retryNum: 1, retryReason: 'http_timeout' });
      const keys = api.calledWith('command').map((c) => c.opts?.idempotencyKey);
      assert.equal(keys.length, 2);
      assert.equal(keys[0], keys[1]);
    });
  });

  describe('buttons', () => {
    it('passes approve with the clicker, the request id and action_ts + user as idempotency key, and answers the clicker alone', async () => {
      const click = blockActions({ user: 'U0BOB', actionId: 'jit_approve', value: 'R4K7QX', responseUrl: h.fake.responseUrl('click'), actionTs: '1700000100.000042' });
      const res = await h.client.interactive(click);
      assert.equal(res.status, 200);
      const [act] = api.calledWith('act');
      assert.equal(act.verb, 'approve');
      assert.equal(act.requestId, 'R4K7QX');
      assert.equal(act.actor.email, 'bob@example.com');
      assert.deepEqual(act.opts, { idempotencyKey: 'slack:action:1700000100.000042:U0BOB' });
      const [answer] = h.fake.responsesTo('click');
      assert.deepEqual({ type: answer.response_type, replace: answer.replace_original, text: answer.text }, { type: 'ephemeral', replace: false, text: 'approve R4K7QX: done.' });
      assert.equal(h.fake.callsTo('chat.update').length, 0, 'the app, not the listener, redraws the card');
    });

    it('routes every jit_ button to its verb', async () => {
      for (const verb of ['approve', 'deny', 'extend', 'release', 'cancel'] as const) {
        await h.client.interactive(blockActions({ user: 'U0ALICE', actionId: `jit_${verb}`, value: 'R1', responseUrl: h.fake.responseUrl(verb) }));
      }
      assert.deepEqual(api.calledWith('act').map((c) => c.verb), ['approve', 'extend', 'release', 'cancel']);
      // Deny first asks for a reason, in a modal opened with the click's trigger.
      const [opened] = h.fake.callsTo('views.open');
      assert.equal((opened.args.view as { callback_id: string; private_metadata: string }).callback_id, 'jit_deny_reason');
      assert.equal((opened.args.view as { private_metadata: string }).private_metadata, 'R1');
    });

    it('denies with the reason typed in the deny modal', async () => {
      await h.client.interactive(
        viewSubmission({ user: 'U0BOB', callbackId: 'jit_deny_reason', privateMetadata: 'R4K7QX', values: { jit_deny_reason: { value: { type: 'plain_text_input', value: 'use the bastion' } } } }),
      );
      const [call] = api.calledWith('act');
      assert.equal(call.verb, 'deny');
      assert.equal(call.requestId, 'R4K7QX');
      assert.equal(call.opts?.reason, 'use the bastion');
    });

    it('extends by the duration chosen in the extend select', async () => {
      const action = blockActions({ user: 'U0ALICE', actionId: 'jit_extend_by', value: '', responseUrl: h.fake.responseUrl('ext') }) as { actions: Array<Record<string, unknown>> };
      action.actions = [{ type: 'static_select', block_id: 'b', action_id: 'jit_extend_by', selected_option: { text: { type: 'plain_text', text: '+45m' }, value: 'R4K7QX:45' }, action_ts: '1700000200.000001' }];
      await h.client.interactive(action);
      const [call] = api.calledWith('act');
      assert.deepEqual([call.verb, call.requestId, call.opts?.durationMinutes], ['extend', 'R4K7QX', 45]);
    });

    it('ignores a button whose value is not a request id', async () => {
      const res = await h.client.interactive(blockActions({ user: 'U0ALICE', actionId: 'jit_approve', value: '../../etc', responseUrl: h.fake.responseUrl('bad') }));
      assert.equal(res.status, 200);
      assert.equal(api.calledWith('act').length, 0);
    });

    it('answers a click in App Home by redrawing the tab with the result on top', async () => {
      await h.client.interactive(blockActions({ user: 'U0ALICE', actionId: 'jit_cancel', value: 'R4K7QX', responseUrl: '', home: true }));
      const [publish] = h.fake.callsTo('views.publish');
      assert.equal(publish.args.user_id, 'U0ALICE');
      const view = publish.args.view as { type: string; blocks: Array<{ text?: { text: string } }> };
      assert.equal(view.type, 'home');
      assert.equal(view.blocks[1].text?.text, 'cancel R4K7QX: done.');
    });

    it('apologises through response_url when the api fails, and logs no token', async () => {
      api.fail = new Error(`database unreachable (token ${BOT_TOKEN})`);
      const res = await h.client.interactive(blockActions({ user: 'U0BOB', actionId: 'jit_approve', value: 'R4K7QX', responseUrl: h.fake.responseUrl('oops') }));
      assert.equal(res.status, 200);
      const [answer] = h.fake.responsesTo('oops');
      assert.match(String(answer.text), /^Sorry, something went wrong/);
      const log = h.logger.text();
      assert.ok(log.includes('Slack request failed'));
      assert.ok(!log.includes(BOT_TOKEN) && !log.includes(SIGNING_SECRET));
    });
  });

  describe('the request modal', () => {
    it('offers the VMs matching what the person types, beyond the 100 a static select could hold', async () => {
      api.vmNames = Array.from({ length: 340 }, (_, i) => `web-${String(i + 1).padStart(3, '0')}`);
      const res = await h.client.interactive(blockSuggestion({ user: 'U0ALICE', value: 'web-33' }));
      assert.equal(res.status, 200);
      const body = res.json as { options: Array<{ text: { text: string }; value: string }> };
      assert.deepEqual(body.options.map((o) => o.value), Array.from({ length: 10 }, (_, i) => `web-33${i}`));
      assert.deepEqual(api.calledWith('vmChoices').at(-1)?.query, 'web-33');
      const last = await h.client.interactive(blockSuggestion({ user: 'U0ALICE', value: 'web-340' }));
      assert.deepEqual((last.json as { options: Array<{ value: string }> }).options.map((o) => o.value), ['web-340'], 'the last VM, past 300, can be chosen');
    });

    it('answers an empty query with the first 100 and says how many more there are', async () => {
      api.vmNames = Array.from({ length: 340 }, (_, i) => `web-${String(i + 1).padStart(3, '0')}`);
      const res = await h.client.interactive(blockSuggestion({ user: 'U0ALICE', value: '' }));
      const body = res.json as { option_groups: Array<{ label: { text: string }; options: unknown[] }> };
      assert.equal(body.option_groups[0].options.length, 100);
      assert.equal(body.option_groups[0].label.text, 'First 100 of 340; type more of the name');
    });

    it('submits several VMs chosen in the search select as one comma-separated list', async () => {
      await h.client.interactive(viewSubmission({ user: 'U0ALICE', values: formValues({ vm: 'web-01,web-250', ports: ['22'], duration: '1h' }) }));
      assert.deepEqual(api.calledWith('submitForm')[0].input, { vm: 'web-01,web-250', ports: '22', duration: '1h' });
    });

    it('submits the chosen values and replaces the modal with the answer', async () => {
      const res = await h.client.interactive(viewSubmission({ user: 'U0ALICE', values: formValues({ vm: 'web-01', ports: ['22', '3389'], duration: '1h', source: ' 10.1.2.3 ', reason: 'INC-4711' }) }));
      const body = res.json as AckBody;
      assert.equal(body.response_action, 'update');
      assert.equal(body.view?.blocks[0].text?.text, 'Sent for approval: R4K7QX.');
      const [call] = api.calledWith('submitForm');
      assert.deepEqual(call.input, { vm: 'web-01', ports: '22,3389', duration: '1h', source: '10.1.2.3', reason: 'INC-4711' });
      assert.match(call.opts?.idempotencyKey ?? '', /^slack:form:/);
    });

    it('leaves optional fields out when empty', async () => {
      await h.client.interactive(viewSubmission({ user: 'U0ALICE', values: formValues({ vm: 'web-01', ports: ['22'], duration: '1h' }) }));
      assert.deepEqual(api.calledWith('submitForm')[0].input, { vm: 'web-01', ports: '22', duration: '1h' });
    });

    it('returns field errors inline, keyed by the block ids', async () => {
      api.submitResult = () => ({ ok: false, errors: { source: '10.9.9.9 is not inside 192.168.0.0/16', duration: 'at most 3h on web-01' } });
      const res = await h.client.interactive(viewSubmission({ user: 'U0ALICE', values: formValues({ vm: 'web-01', ports: ['22'], duration: '4h', source: '10.9.9.9' }) }));
      assert.deepEqual(res.json, { response_action: 'errors', errors: { jit_source: '10.9.9.9 is not inside 192.168.0.0/16', jit_duration: 'at most 3h on web-01' } });
    });

    it('closes with a promise and answers by direct message when the api is slow', async () => {
      api.delayMs = 400;
      const res = await h.client.interactive(viewSubmission({ user: 'U0ALICE', values: formValues({ vm: 'web-01', ports: ['22'], duration: '1h' }) }));
      const body = res.json as AckBody;
      assert.equal(body.response_action, 'update');
      assert.match(body.view?.blocks[0].text?.text ?? '', /direct message/);
      const dm = await h.fake.waitFor(() => h.fake.callsTo('chat.postMessage').find((c) => c.args.channel === 'U0ALICE'), 'the DM');
      assert.equal(dm.args.text, 'Sent for approval: R4K7QX.');
    });
  });

  describe('App Home', () => {
    it('publishes the person’s home when they open the Home tab', async () => {
      const res = await h.client.event(appHomeOpened('U0ALICE'));
      assert.equal(res.status, 200);
      const [publish] = h.fake.callsTo('views.publish');
      assert.equal(publish.args.user_id, 'U0ALICE');
      assert.ok(JSON.stringify(publish.args.view).includes(SAMPLE_VIEW.id));
      assert.equal(api.calledWith('home')[0].actor.email, 'alice@example.com');
    });

    it('does nothing when they open the Messages tab', async () => {
      await h.client.event(appHomeOpened('U0ALICE', 'messages'));
      assert.equal(h.fake.callsTo('views.publish').length, 0);
    });
  });

  it('looks a person up once for a burst of clicks', async () => {
    for (let i = 0; i < 3; i++) await h.client.interactive(blockActions({ user: 'U0BOB', actionId: 'jit_approve', value: 'R1', responseUrl: h.fake.responseUrl(`b${i}`) }));
    assert.equal(h.fake.callsTo('users.info').length, 1);
  });

  it('sends every Web API call with the bot token and the form encoding Slack expects', async () => {
    await h.client.command(slashCommand({ user_id: 'U0ALICE', text: '', response_url: h.fake.responseUrl('x') }));
    assert.ok(h.fake.calls.length >= 3);
    for (const call of h.fake.calls) {
      assert.equal(call.authorization, `Bearer ${BOT_TOKEN}`);
      assert.equal(call.contentType, 'application/x-www-form-urlencoded');
    }
  });
});
