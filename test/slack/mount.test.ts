import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import * as restify from 'restify';
import { createSlackAdapter } from '../../src/slack';
import { SlackTestClient, slashCommand } from '../clients/slack';
import { FakeSlackApi } from '../fakes/slack-api';
import { BOT_TOKEN, RecordingLogger, SIGNING_SECRET, StubApi } from './support';

describe('Mounting Slack in the shared restify server', () => {
  let fake: FakeSlackApi;
  let server: restify.Server;
  let base: string;
  const finished: Array<{ path: string; status: number }> = [];

  before(async () => {
    fake = await FakeSlackApi.start();
    const adapter = createSlackAdapter({ api: new StubApi(), botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, apiUrl: fake.apiUrl, logger: new RecordingLogger(), botId: 'B0BOT', botUserId: 'U0BOT' });
    server = restify.createServer();
    // Another platform's route parses bodies; the Slack route must still see raw bytes.
    server.post('/api/messages', restify.plugins.bodyParser(), async (req: restify.Request, res: restify.Response) => {
      res.send(200, { got: req.body as unknown });
    });
    adapter.mount(server);
    await adapter.start();
    server.on('after', (req: restify.Request, res: restify.Response) => finished.push({ path: req.path(), status: res.statusCode }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await fake.close();
  });

  it('hands POST /slack/events to Bolt with the raw body, next to a route that parses JSON', async () => {
    const client = new SlackTestClient(`${base}/slack/events`, SIGNING_SECRET);
    const res = await client.command(slashCommand({ user_id: 'U0ALICE', text: 'help', response_url: fake.responseUrl('m') }));
    assert.equal(res.status, 200);
    assert.equal((res.json as { text: string }).text, 'How to use /jit');
    const other = await fetch(`${base}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    assert.deepEqual(await other.json(), { got: { a: 1 } });
  });

  it('lets restify see the Slack request end, so after-hooks and metrics count it', async () => {
    const client = new SlackTestClient(`${base}/slack/events`, SIGNING_SECRET);
    await client.command(slashCommand({ user_id: 'U0ALICE', text: 'help', response_url: fake.responseUrl('m') }), { secret: 'wrong' });
    await fake.waitFor(() => finished.find((f) => f.path === '/slack/events' && f.status === 401), 'the after event');
  });

  it('needs no auth.test when the bot ids are given', () => {
    assert.equal(fake.callsTo('auth.test').length, 0);
  });

  it('refuses to start without a signing secret in HTTP mode', () => {
    assert.throws(
      () => createSlackAdapter({ api: new StubApi(), botToken: BOT_TOKEN, signingSecret: '', logger: new RecordingLogger() }),
      /SLACK_SIGNING_SECRET is required/,
    );
  });

  it('fails start with one clear line when Slack refuses the bot token', async () => {
    const adapter = createSlackAdapter({ api: new StubApi(), botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, apiUrl: fake.apiUrl, logger: new RecordingLogger() });
    fake.failNext('auth.test', 'invalid_auth');
    await assert.rejects(adapter.start(), /^Error: Slack: SLACK_BOT_TOKEN was refused \(invalid_auth\)$/);
  });
});
