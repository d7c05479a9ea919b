// Contract tests: the published Slack payloads in test/vectors/slack, pushed byte for byte (only
// the command name, action id, callback id and response_url swapped for ours) through the real Bolt
// app, must yield the values expected_extractions.json lists. Then the forgeries a public endpoint sees.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FORM_CONTENT_TYPE, slashCommand, slackSignature } from '../clients/slack';
import { VECTORS } from '../helpers/paths';
import { SIGNING_SECRET, StubApi, startSlackHarness, type SlackHarness } from './support';

const expected = JSON.parse(readFileSync(path.join(VECTORS, 'expected_extractions.json'), 'utf8')) as Record<string, Record<string, unknown>>;

function vector(name: string): string {
  return readFileSync(path.join(VECTORS, 'slack', name), 'utf8').trim();
}

/** Python's `urllib.parse.quote` (the vectors' encoder): like encodeURIComponent but `/` stays raw. */
function pyQuote(s: string): string {
  return encodeURIComponent(s).replace(/%2F/g, '/');
}

function swap(body: string, from: string, to: string): string {
  assert.ok(body.includes(from), `the vector no longer contains ${from}`);
  return body.split(from).join(to);
}

describe('Slack contract vectors', () => {
  let api: StubApi;
  let h: SlackHarness;

  beforeEach(async () => {
    api = new StubApi();
    h = await startSlackHarness(api);
    h.fake.reset();
  });
  afterEach(async () => {
    await h.close();
  });

  describe('slash commands', () => {
    it('reads the docs example, with / and : left raw', async () => {
      const want = expected['slack/slash_command_docs_example.txt'];
      const body = swap(vector('slash_command_docs_example.txt'), 'command=/weather', 'command=/jit');
      const res = await h.client.post(body, FORM_CONTENT_TYPE);
      assert.equal(res.status, 200);
      const [call] = api.calledWith('command');
      assert.equal(call.actor.userId, want.user_id);
      assert.equal(call.text, want.text);
      assert.equal(call.opts?.idempotencyKey, `slack:command:${String(want.trigger_id)}`);
      assert.equal(h.fake.callsTo('users.info')[0].args.user, want.user_id);
      assert.equal(call.actor.name, 'Steve', 'an unknown Slack user keeps the name Slack sent');
    });

    it('reads Bolt’s fixture, fully percent-encoded with + for spaces and a W user id', async () => {
      const want = expected['slack/slash_command_bolt_python.txt'];
      const body = swap(vector('slash_command_bolt_python.txt'), 'command=%2Fhello-world', 'command=%2Fjit');
      await h.client.post(body, FORM_CONTENT_TYPE);
      const [call] = api.calledWith('command');
      assert.equal(call.actor.userId, want.user_id);
      assert.equal(call.text, want.text);
      assert.equal(call.opts?.idempotencyKey, `slack:command:${String(want.trigger_id)}`);
    });

    it('is refused with 400 when the content type carries a charset, as Bolt compares it exactly', async () => {
      const body = swap(vector('slash_command_docs_example.txt'), 'command=/weather', 'command=/jit');
      const res = await h.client.post(body, `${FORM_CONTENT_TYPE}; charset=utf-8`);
      assert.equal(res.status, 400);
      assert.equal(api.calls.length, 0);
    });
  });

  describe('interactivity', () => {
    for (const file of ['block_actions_message_button.form.txt', 'block_actions_message_button_ephemeral_bolt_python.form.txt']) {
      it(`reads the button click in ${file}`, async () => {
        const want = expected[`slack/${file}`];
        let body = vector(file);
        body = swap(body, `%22actions%22%3A%20%5B%7B%22action_id%22%3A%20%22a%22`, `%22actions%22%3A%20%5B%7B%22action_id%22%3A%20%22jit_approve%22`);
        const recordedUrl = String(expected[`slack/${file.replace('.form.txt', '.json')}`].response_url);
        body = swap(body, pyQuote(recordedUrl), pyQuote(h.fake.responseUrl('vector')));
        const res = await h.client.post(body, FORM_CONTENT_TYPE);
        assert.equal(res.status, 200);
        const [act] = api.calledWith('act');
        assert.equal(act.actor.userId, want['user.id']);
        assert.equal(act.verb, 'approve');
        assert.equal(act.requestId, want['actions.0.value']);
        assert.match(act.opts?.idempotencyKey ?? '', new RegExp(`^slack:action:[0-9.]+:${String(want['user.id'])}$`));
        assert.equal(h.fake.responsesTo('vector')[0].response_type, 'ephemeral');
      });
    }

    it('reads the view submission fixture and answers unknown blocks with inline errors', async () => {
      const want = expected['slack/view_submission_bolt_python.form.txt'];
      api.submitResult = (input) => ({ ok: false, errors: input.vm === '' ? { vm: 'Choose a VM.' } : {} });
      const body = swap(vector('view_submission_bolt_python.form.txt'), '%22callback_id%22%3A%20%22view-id%22', '%22callback_id%22%3A%20%22jit_request_form%22');
      const res = await h.client.post(body, FORM_CONTENT_TYPE);
      assert.deepEqual(res.json, { response_action: 'errors', errors: { jit_vm: 'Choose a VM.' } });
      const [call] = api.calledWith('submitForm');
      assert.equal(call.actor.userId, want['user.id']);
      assert.deepEqual(call.input, { vm: '', ports: '', duration: '' });
    });
  });

  describe('events', () => {
    it('publishes App Home for the recorded app_home_opened (home tab, no event_ts)', async () => {
      const want = expected['slack/event_callback_app_home_opened_home_tab.json'];
      const res = await h.client.post(vector('event_callback_app_home_opened_home_tab.json'), 'application/json');
      assert.equal(res.status, 200);
      const [publish] = h.fake.callsTo('views.publish');
      assert.equal(publish.args.user_id, want['event.user']);
    });

    it('ignores the messages tab of an org-wide install', async () => {
      const res = await h.client.post(vector('event_callback_app_home_opened_messages_tab_org_install.json'), 'application/json');
      assert.equal(res.status, 200);
      assert.equal(h.fake.callsTo('views.publish').length, 0);
    });

    it('echoes the url_verification challenge', async () => {
      const want = expected['slack/url_verification.json'];
      const res = await h.client.post(vector('url_verification.json'), 'application/json');
      assert.deepEqual(res.json, { challenge: want.challenge });
    });
  });

  describe('forged requests', () => {
    const command = () => slashCommand({ user_id: 'U0ALICE', text: 'ssh web-01 1h from 10.1.2.3', response_url: h.fake.responseUrl('forged') });

    async function assertNoTrace(): Promise<void> {
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(api.calls.length, 0, 'the api was called');
      assert.deepEqual(h.fake.calls, [], 'the Web API was called');
      assert.equal(h.fake.responseUrlPosts.length, 0);
    }

    it('refuses a wrong signature with 401', async () => {
      const res = await h.client.command(command(), { secret: 'not-the-secret' });
      assert.equal(res.status, 401);
      await assertNoTrace();
    });

    it('refuses a timestamp more than five minutes old with 401', async () => {
      const res = await h.client.command(command(), { timestampSec: Math.floor(Date.now() / 1000) - 301 });
      assert.equal(res.status, 401);
      await assertNoTrace();
    });

    it('refuses a request without the signature or timestamp header with 401', async () => {
      assert.equal((await h.client.command(command(), { omitSignature: true })).status, 401);
      assert.equal((await h.client.command(command(), { omitTimestamp: true })).status, 401);
      await assertNoTrace();
    });

    it('refuses a body altered after signing with 401', async () => {
      const fields = command();
      const signed = new URLSearchParams(fields as unknown as Record<string, string>).toString();
      const res = await h.client.command(fields, { sendBody: signed.replace('web-01', 'web-02') });
      assert.equal(res.status, 401);
      await assertNoTrace();
    });

    it('refuses a signature over the right body with another version prefix', async () => {
      const body = 'text=help&user_id=U0ALICE&command=%2Fjit&trigger_id=1.2.3&response_url=x';
      const ts = Math.floor(Date.now() / 1000);
      const res = await fetch(h.eventsUrl, {
        method: 'POST',
        headers: { 'content-type': FORM_CONTENT_TYPE, 'x-slack-request-timestamp': String(ts), 'x-slack-signature': slackSignature(SIGNING_SECRET, ts, body).replace('v0=', 'v1=') },
        body,
      });
      assert.equal(res.status, 401);
      await assertNoTrace();
    });

    it('leaves the signing secret and the signature out of the logs', async () => {
      await h.client.command(command(), { secret: 'not-the-secret' });
      const log = h.logger.text();
      assert.ok(!log.includes(SIGNING_SECRET));
      assert.ok(!/v0=[0-9a-f]{64}/.test(log));
    });
  });
});
