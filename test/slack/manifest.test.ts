import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { SLACK_EVENTS_PATH } from '../../src/slack';
import { REPO_ROOT } from '../helpers/paths';

interface Manifest {
  display_information: { name: string; description: string; long_description: string };
  features: {
    app_home: { home_tab_enabled: boolean };
    bot_user: { display_name: string };
    slash_commands: Array<{ command: string; url: string; description: string; usage_hint: string; should_escape: boolean }>;
  };
  oauth_config: { scopes: { bot: string[] } };
  settings: {
    event_subscriptions: { request_url: string; bot_events: string[] };
    interactivity: { is_enabled: boolean; request_url: string };
    socket_mode_enabled: boolean;
  };
}

describe('The Slack app manifest', () => {
  const text = readFileSync(path.join(REPO_ROOT, 'manifest', 'slack-app.yaml'), 'utf8');
  const manifest = parse(text) as Manifest;

  it('declares /jit, interactivity and app_home_opened on the one events URL the adapter mounts', () => {
    const url = `https://YOUR-HOST${SLACK_EVENTS_PATH}`;
    assert.deepEqual(manifest.features.slash_commands.map((c) => [c.command, c.url]), [['/jit', url]]);
    assert.equal(manifest.settings.interactivity.is_enabled, true);
    assert.equal(manifest.settings.interactivity.request_url, url);
    assert.equal(manifest.settings.event_subscriptions.request_url, url);
    assert.deepEqual(manifest.settings.event_subscriptions.bot_events, ['app_home_opened']);
    assert.equal(manifest.features.app_home.home_tab_enabled, true);
  });

  it('asks for exactly the scopes the adapter uses', () => {
    assert.deepEqual([...manifest.oauth_config.scopes.bot].sort(), ['chat:write', 'chat:write.public', 'commands', 'files:write', 'im:write', 'usergroups:read', 'users:read', 'users:read.email']);
  });

  it('runs over HTTP by default and explains the Socket Mode variant', () => {
    assert.equal(manifest.settings.socket_mode_enabled, false);
    assert.match(text, /Socket Mode[\s\S]*socket_mode_enabled: true[\s\S]*connections:write[\s\S]*SLACK_APP_TOKEN/);
  });

  it('keeps within Slack’s length limits', () => {
    assert.ok(manifest.display_information.name.length <= 35);
    assert.ok(manifest.display_information.description.length <= 140);
    assert.ok(manifest.display_information.long_description.length <= 4000);
    assert.ok(manifest.features.bot_user.display_name.length <= 80);
    for (const c of manifest.features.slash_commands) {
      assert.ok(c.command.length <= 32);
      assert.ok(c.usage_hint.length <= 1000);
    }
  });
});
