import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as restify from 'restify';
import { createSlackAdapter, type SlackAdapter } from '../../src/slack';
import { appHomeOpened } from '../clients/slack';
import { FakeSlackApi } from '../fakes/slack-api';
import { FakeSlackSocket } from '../fakes/slack-socket';
import { VECTORS } from '../helpers/paths';
import { APP_TOKEN, BOT_TOKEN, RecordingLogger, StubApi } from './support';

function envelopeVector(name: string): { payload: Record<string, unknown> } {
  return JSON.parse(readFileSync(path.join(VECTORS, 'slack', name), 'utf8')) as { payload: Record<string, unknown> };
}

describe('Slack over Socket Mode (loopback WebSocket)', () => {
  let fake: FakeSlackApi;
  let socket: FakeSlackSocket;
  let api: StubApi;
  let logger: RecordingLogger;
  let adapter: SlackAdapter;

  beforeEach(async () => {
    fake = await FakeSlackApi.start();
    socket = await FakeSlackSocket.start(fake);
    api = new StubApi();
    logger = new RecordingLogger();
    adapter = createSlackAdapter({ api, botToken: BOT_TOKEN, signingSecret: '', appToken: APP_TOKEN, apiUrl: fake.apiUrl, logger });
    await adapter.start();
  });
  afterEach(async () => {
    await adapter.stop();
    await socket.close();
    await fake.close();
  });

  it('opens the connection with the app-level token and keeps the bot token for Web API calls', async () => {
    const [open] = fake.callsTo('apps.connections.open');
    assert.equal(open.authorization, `Bearer ${APP_TOKEN}`);
    assert.equal(fake.callsTo('auth.test')[0].authorization, `Bearer ${BOT_TOKEN}`);
    assert.equal(socket.connections, 1);
  });

  it('acknowledges a slash command envelope with the reply as its payload', async () => {
    const { payload } = envelopeVector('socket_mode_slash_commands_envelope.json');
    const ack = await socket.deliver('slash_commands', { ...payload, command: '/jit', text: 'help', response_url: fake.responseUrl('sock') });
    assert.equal(ack.payload?.response_type, 'ephemeral');
    assert.equal(ack.payload?.text, 'How to use /jit');
    const [call] = api.calledWith('command');
    assert.equal(call.actor.userId, 'U111');
    assert.equal(call.opts?.idempotencyKey, 'slack:command:111.222.xxx');
  });

  it('acknowledges a button envelope at once and answers the clicker through response_url', async () => {
    const { payload } = envelopeVector('socket_mode_interactive_block_actions_envelope.json');
    // Approve answers at once; Deny first asks for a reason in a modal.
    const actions = (payload.actions as Array<Record<string, unknown>>).map((a) => ({ ...a, action_id: 'jit_approve' }));
    const ack = await socket.deliver('interactive', { ...payload, actions, response_url: fake.responseUrl('sock-click') }, { acceptsResponsePayload: false });
    assert.deepEqual(ack.payload ?? {}, {});
    await fake.waitFor(() => fake.responsesTo('sock-click')[0], 'the ephemeral answer');
    const [act] = api.calledWith('act');
    assert.deepEqual([act.verb, act.requestId, act.actor.userId], ['approve', 'underlying', 'U111']);
  });

  it('publishes App Home from an events_api envelope', async () => {
    const body = appHomeOpened('U0ALICE');
    await socket.deliver('events_api', body);
    const publish = await fake.waitFor(() => fake.callsTo('views.publish')[0], 'views.publish');
    assert.equal(publish.args.user_id, 'U0ALICE');
  });

  it('acknowledges events it has no listener for', async () => {
    const { payload } = envelopeVector('socket_mode_events_api_app_mention_envelope.json');
    const ack = await socket.deliver('events_api', payload);
    assert.equal(typeof ack.envelope_id, 'string');
    assert.equal(api.calls.length, 0);
  });

  it('mounts no HTTP route, and disconnects on stop', async () => {
    const server = restify.createServer();
    adapter.mount(server);
    assert.equal(Object.keys(server.getDebugInfo().routes).length, 0);
    await adapter.stop();
    await fake.waitFor(() => !socket.connected, 'the socket to close');
  });
});
