// Contract tests: the published and recorded Teams payloads in test/vectors/teams, read by the
// adapter's own parsers and pushed through the real adapter (only `serviceUrl` is pointed at the
// fake connector, since the bot answers wherever the activity says).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Activity } from 'botbuilder';
import { ManualClock } from '../../src/app/clock';
import type { Store } from '../../src/app/ports';
import { actionVerb } from '../../src/cards/render';
import { commandText, memberFromAnswer, plainText, TEAMS_KV } from '../../src/teams';
import { baseConversationId, kindOf, tenantOf } from '../../src/teams/directory';
import { VECTORS } from '../helpers/paths';
import { postActivity } from '../clients/teams';
import { memoryKvStore, startTeamsHarness, type TeamsHarness } from './harness';
import { StubApi } from './stub-api';

const expected = JSON.parse(fs.readFileSync(path.join(VECTORS, 'expected_extractions.json'), 'utf8')) as Record<string, Record<string, unknown>>;
const load = (name: string): any => JSON.parse(fs.readFileSync(path.join(VECTORS, 'teams', name), 'utf8'));

/** `a.b.0.c` on an object; undefined when absent (the extraction file writes that as null). */
function at(obj: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<any>((o, k) => (o === undefined || o === null ? undefined : o[k]), obj);
}

describe('Teams contract vectors', () => {
  const jsonVectors = fs.readdirSync(path.join(VECTORS, 'teams')).filter((f) => f.endsWith('.json'));

  it('should hold every value expected_extractions.json lists, absent ones absent', () => {
    assert.ok(jsonVectors.length >= 15);
    for (const file of jsonVectors) {
      const want = expected[`teams/${file}`];
      assert.ok(want, `no expectations for ${file}`);
      const v = load(file);
      for (const [p, value] of Object.entries(want)) {
        const got = at(v, p);
        if (value === null) assert.equal(got ?? null, null, `${file} ${p} is absent`);
        else assert.deepEqual(got, value, `${file} ${p}`);
      }
    }
  });

  it('should read the words for the bot out of recorded messages, mentions stripped by id', () => {
    const channel = load('message_channel_mention.json') as Partial<Activity>;
    assert.equal(plainText(channel), 'reply to thread');
    assert.equal(commandText(channel), 'reply to thread', 'mentioned in a channel: everything after the mention is for the bot');
    assert.equal(kindOf(channel), 'channel');
    assert.equal(baseConversationId(channel.conversation!.id), '19:6848757105754c8981c67612732d9aa7@thread.tacv2');

    const legacy = load('message_channel_mention_legacy_2017.json') as Partial<Activity>;
    assert.equal(plainText(legacy), 'Hello Jingjing Xia', 'the other person’s mention keeps their name');
    assert.equal(tenantOf(legacy), '72f988bf-86f1-41af-91ab-2d7cd011db47', 'legacy payloads: tenant from channelData');
    assert.equal(kindOf(legacy), 'channel');

    const personal = load('message_personal_chat.json') as Partial<Activity>;
    assert.equal(commandText(personal), 'Hello Teams TestBot.Sending bold-italic rich text');
    assert.equal(kindOf(personal), 'personal');

    assert.equal(commandText({ ...channel, text: '<at>ridotest</at> jit ssh web-01 1h from 10.1.2.3' }), 'ssh web-01 1h from 10.1.2.3');
    assert.equal(commandText({ ...channel, text: '<at>ridotest</at>&nbsp;/jit&nbsp;status' }), 'status');
    assert.equal(commandText({ ...channel, text: 'jitter', entities: [] }), null);
  });

  it('should route invokes on verb, else data.verb, and never guess one', () => {
    const recorded = load('invoke_adaptive_card_action_execute_manual.json');
    assert.equal(recorded.value.action.verb, undefined);
    assert.equal(actionVerb(recorded.value.action), null, 'no verb anywhere: not ours');
    assert.equal(actionVerb({ ...recorded.value.action, data: { verb: 'release', requestId: 'R1' } }), 'release');
    assert.equal(actionVerb(load('invoke_adaptive_card_action_refresh_automatic_docs_completed.json').value.action), null);
    assert.equal(actionVerb(load('invoke_adaptive_card_action_sequential_workflow_docs_completed.json').value.action), null);
    assert.equal(actionVerb({ ...load('invoke_adaptive_card_action_refresh_automatic_docs_completed.json').value.action, verb: 'refresh' }), 'refresh');
  });

  it('should read email and Entra id from both member answer spellings, and nothing from an anonymous one', () => {
    const now = new Date('2026-11-21T12:00:00Z');
    const regular = memberFromAnswer(load('get_member_response_regular_user.json'), { userId: 'x' }, now);
    assert.equal(regular.email, 'larry.brown@fabrikam.com');
    assert.equal(regular.aadObjectId, '9d3e08f9-a7ae-43aa-a4d3-de3f319a8a9c');
    assert.equal(regular.name, 'Larry Brown');
    const sdk = memberFromAnswer(load('get_member_response_botbuilder_js_fixture.json'), { userId: 'x' }, now);
    assert.equal(sdk.email, 'user.one@microsoft.com');
    assert.equal(sdk.aadObjectId, 'User-One-Object-Id');
    const anon = memberFromAnswer(load('get_member_response_anonymous_user.json'), { userId: 'x' }, now);
    assert.equal(anon.email, null);
    assert.equal(anon.aadObjectId, undefined);
  });

  it('should answer invokes in the documented response shapes', () => {
    const card = load('invoke_response_card_docs_completed.json');
    const error = load('invoke_response_error_botbuilder_js.json');
    assert.deepEqual(Object.keys(card).sort(), ['statusCode', 'type', 'value']);
    assert.deepEqual(Object.keys(error).sort(), ['statusCode', 'type', 'value']);
    assert.equal(card.type, 'application/vnd.microsoft.card.adaptive');
    assert.equal(error.type, 'application/vnd.microsoft.error');
  });

  describe('through the real adapter', () => {
    let api: StubApi;
    let store: Store;
    let h: TeamsHarness;

    beforeEach(async () => {
      api = new StubApi();
      store = memoryKvStore();
      h = await startTeamsHarness({ api, store, clock: new ManualClock() });
    });
    afterEach(() => h.close());

    /** A vector with its serviceUrl pointed at the fake connector, which knows the vector's sender. */
    function aimed(file: string): any {
      const v = load(file);
      v.serviceUrl = h.connector.url;
      return v;
    }

    it('should take recorded channel and personal messages as commands from the member Teams describes', async () => {
      const channel = aimed('message_channel_mention.json');
      h.connector.members.set(channel.from.id, { ...load('get_member_response_regular_user.json'), id: channel.from.id });
      assert.equal((await postActivity(h.url, channel)).status, 200);
      const personal = aimed('message_personal_chat.json');
      h.connector.members.set(personal.from.id, { ...load('get_member_response_botbuilder_js_fixture.json'), id: personal.from.id });
      assert.equal((await postActivity(h.url, personal)).status, 200);
      const commands = api.calls.filter((c) => c.method === 'command');
      assert.deepEqual(
        commands.map((c) => [c.text, c.actor?.email, c.actor?.aadObjectId]),
        [
          ['reply to thread', 'larry.brown@fabrikam.com', '9d3e08f9-a7ae-43aa-a4d3-de3f319a8a9c'],
          ['Hello Teams TestBot.Sending bold-italic rich text', 'user.one@microsoft.com', 'User-One-Object-Id'],
        ],
      );
      // In the channel the lookup uses the team id, as TeamsInfo.getMember does.
      assert.ok(h.connector.calls.some((c) => c.method === 'GET' && c.path.startsWith(`/v3/conversations/${channel.channelData.team.id}/members/`)));
    });

    it('should store the install vectors as the selected team channel', async () => {
      assert.equal((await postActivity(h.url, aimed('installation_update_add.json'))).status, 200);
      assert.equal((await postActivity(h.url, aimed('conversation_update_bot_added_to_team.json'))).status, 200);
      const stored = await store.listValues<any>(TEAMS_KV.conversations);
      assert.deepEqual(
        stored.map((s) => [s.key, s.value.kind, s.value.teamId, s.value.tenantId]),
        [['19:0b7f32667e064dd9b25d7969801541f4@thread.tacv2', 'channel', '19:zFLSDFWsesfzcmKArqKJ-65aOXJz@sgf462H2wz41@thread.tacv2', 'b28fdbfd-2b78-4f93-b0f8-8881793f0f8f']],
      );
    });

    it('should answer the recorded verb-less invoke as not ours, and act on it once data names the verb', async () => {
      const recorded = aimed('invoke_adaptive_card_action_execute_manual.json');
      let res = await postActivity(h.url, recorded);
      assert.equal(res.status, 200);
      assert.equal(res.body.statusCode, 400);
      assert.equal(api.calls.length, 0);
      const ours = aimed('invoke_adaptive_card_action_execute_manual.json');
      ours.id = 'f:00000000-0000-4000-8000-000000000001';
      ours.value.action.data = { verb: 'cancel', requestId: 'R4K7QX' };
      res = await postActivity(h.url, ours);
      assert.equal(res.body.statusCode, 200);
      assert.equal(res.body.type, 'application/vnd.microsoft.card.adaptive');
      const act = api.calls.find((c) => c.method === 'act')!;
      assert.equal(act.verb, 'cancel');
      assert.equal(act.actor?.email, null, 'the connector does not know this sender: unknown person');
      assert.equal(act.actor?.aadObjectId, 'c5e99701-2a32-49c1-a660-4629ceeb8c61');
    });
  });
});
