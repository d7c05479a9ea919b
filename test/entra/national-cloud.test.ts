// The composition root against a Graph at another address, as in a national cloud: the bot started
// the way `npm start` starts it reads memberships there, with a token asked for that Graph's scope.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { silentLogger } from '../../src/app/logger';
import { startBot, type RunningBot } from '../../src/main';
import { directoryDoc, startDirectoryGraph, type DirectoryPeople } from '../helpers/directory';

describe('Entra ID groups through a national cloud\'s Graph (JITBOT_GRAPH_URL)', function () {
  this.timeout(60_000);
  let dir: DirectoryPeople;
  let bot: RunningBot;
  let requestId = '';

  before(async () => {
    dir = await startDirectoryGraph();
    const data = mkdtempSync(path.join(tmpdir(), 'jitbot-graph-'));
    const file = path.join(data, 'rules.yaml');
    writeFileSync(file, YAML.stringify(directoryDoc()));
    bot = await startBot({ JITBOT_CONFIG: file, JITBOT_DATA_DIR: data, PORT: '0', JITBOT_SIM_PORT: '0', JITBOT_SIM_APPLY_DELAY_MS: '0', JITBOT_GRAPH_URL: `${dir.graph.url}/` }, { logger: silentLogger });
  });
  after(async () => {
    await bot?.close();
    await dir?.graph.close();
  });

  it('lets a person known only there request, with every Graph call carrying a token for that Graph', async () => {
    const reply = await bot.app.command(dir.erin, 'ssh web-01 1h from 10.1.2.3 for INC-9');
    assert.equal(reply.kind, 'submitted', JSON.stringify(reply));
    requestId = (reply as { request: { id: string } }).request.id;
    assert.ok(dir.graph.calls.length > 0, 'Graph at the configured address was asked');
    for (const call of dir.graph.calls) assert.equal(call.authorization, `Bearer jitbot-local|${dir.graph.url}/.default`);
  });

  it('shows in /readyz which permissions to grant once Graph refuses for want of consent', async () => {
    dir.graph.consented = false;
    const refused = await bot.app.act(dir.frank, 'approve', requestId);
    assert.equal(refused.ok, false);
    assert.match(refused.message, /jitbot is not permitted to read the directory \(Microsoft Entra ID\), so your membership of group:oncall can't be checked/);
    const ready = (await (await fetch(`${bot.url.replace('//localhost:', '//127.0.0.1:')}/readyz`)).json()) as { details?: { directory?: Array<{ ok: boolean; message?: string }> } };
    assert.equal(ready.details?.directory?.[0]?.ok, false);
    assert.match(ready.details?.directory?.[0]?.message ?? '', /User\.Read\.All and GroupMember\.Read\.All/);
  });
});

describe('starting with Slack user groups in the rule file', () => {
  it('refuses to start without Slack, naming the groups it could not read', async () => {
    const data = mkdtempSync(path.join(tmpdir(), 'jitbot-slackgroups-'));
    const file = path.join(data, 'rules.yaml');
    writeFileSync(file, YAML.stringify(directoryDoc({ slack: true })));
    await assert.rejects(
      startBot({ JITBOT_CONFIG: file, JITBOT_DATA_DIR: data, PORT: '0', JITBOT_SIM_PORT: '0' }, { logger: silentLogger }),
      /group:dbas is a Slack user group: set SLACK_BOT_TOKEN \(with the usergroups:read scope\) to read it/,
    );
  });
});
