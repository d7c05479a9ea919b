import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readSettings } from '../../src/config/env';
import { configFromDocument, loadConfigFile } from '../../src/config/file';
import { JitError } from '../../src/core/errors';
import { LOCAL_CONFIG } from '../helpers/paths';

function configError(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof JitError && err.code === 'config', `expected a config error, got ${String(err)}`);
    return err.message.split('\n');
  }
  assert.fail('expected the config to be refused');
}

describe('the access-rule file', () => {
  it('loads the local world with its people, rules and simulated VMs', () => {
    const { policy, world } = loadConfigFile(LOCAL_CONFIG);
    assert.deepEqual(policy.people.map((p) => p.email), ['alice@example.com', 'bob@example.com', 'carol@example.com', 'dave@example.com']);
    assert.deepEqual(policy.rules.map((r) => [r.name, r.approvals]), [['web', 1], ['sql', 2]]);
    assert.equal(policy.reminderMinutes, 10);
    assert.equal(policy.pendingTimeoutMinutes, 60);
    const sql = world!.vms.find((v) => v.name === 'sql-01')!;
    assert.deepEqual(sql.jit, [
      { number: 3389, protocol: '*', allowedSourcePrefixes: ['*'], maxDurationMinutes: 180 },
      { number: 5986, protocol: 'TCP', allowedSourcePrefixes: ['*'], maxDurationMinutes: 60 },
    ]);
    assert.equal(world!.vms.find((v) => v.name === 'build-01')!.jit, null);
  });

  it('reports every problem on its own line with the path that holds it', () => {
    const lines = configError(() =>
      configFromDocument({
        people: [{ email: 'not-an-email', name: 'X' }],
        rules: [
          { name: 'a', vms: { names: ['web-*'] }, requesters: ['group:dev'], approvers: ['group:sre'], approvals: 1 },
          { name: 'b', vms: { names: ['sql-*'] }, requesters: ['group:dev'], approvers: ['group:sre'], approvals: 0 },
        ],
        azure: { vms: [{ name: 'x', resourceGroup: 'rg', os: 'linux', jit: [{ port: 70000, max: 'PT48H' }] }] },
      }, 'jitbot.yaml'),
    );
    assert.ok(lines.includes('jitbot.yaml: rules[1].approvals: must be ≥ 1'), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('jitbot.yaml: people[0].email: ')), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('jitbot.yaml: azure.vms[0].jit[0].port: ')), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('jitbot.yaml: azure.vms[0].jit[0].max: ')), lines.join('\n'));
  });

  it('reports a wrong field and a duplicate in the same pass, not in two rounds', () => {
    const lines = configError(() =>
      configFromDocument({
        people: [{ email: 'a@example.com', name: 'A' }, { email: 'A@example.com', name: 'A again' }],
        rules: [
          { name: 'web', vms: { names: ['web-*'] }, requesters: ['group:dev'], approvers: ['group:sre'], approvals: 0 },
          { name: 'web', vms: { names: ['x'] }, requesters: ['*'] },
        ],
      }, 'jitbot.yaml'),
    );
    assert.deepEqual(lines.sort(), [
      'jitbot.yaml: people[1].email: duplicates people[0]',
      'jitbot.yaml: rules[0].approvals: must be ≥ 1',
      'jitbot.yaml: rules[1].approvers: must name approvers unless autoApprove is true',
      'jitbot.yaml: rules[1].name: duplicates rules[0].name',
    ]);
  });

  it('names every YAML syntax error, each with its line', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jitbot-yaml-'));
    const file = path.join(dir, 'jitbot.yaml');
    writeFileSync(file, 'people:\n  - { email: a@example.com, name: A\nrules: [\n');
    const lines = configError(() => loadConfigFile(file));
    assert.ok(lines.length >= 2, lines.join('\n'));
    assert.ok(lines.every((l) => l.startsWith(`${file}: line `)), lines.join('\n'));
  });

  it('refuses unknown keys, so a typo never silently loosens a rule', () => {
    const lines = configError(() =>
      configFromDocument({ rules: [{ name: 'a', vms: { names: ['x'] }, requesters: ['*'], approvers: ['*'], aprovals: 2 }] }),
    );
    assert.ok(lines.some((l) => l.includes('rules[0]')), lines.join('\n'));
  });

  it('a rule without approvers must say it approves automatically', () => {
    const lines = configError(() => configFromDocument({ rules: [{ name: 'a', vms: { names: ['x'] }, requesters: ['*'] }] }));
    assert.ok(lines.some((l) => l.includes('rules[0].approvers')), lines.join('\n'));
  });

  it('maps directory groups to an Entra group id or a Slack user group, and keeps the file\'s groups', () => {
    const c = configFromDocument({
      people: [{ email: 'bob@example.com', name: 'Bob', groups: ['sre'] }],
      groups: { oncall: { entra: '0C0C0C0C-0000-4000-8000-00000000CA11' }, DBAs: { slack: '@dbas' }, ops: { slack: 'S0OPS' } },
      rules: [{ name: 'a', vms: { names: ['x'] }, requesters: ['*'], approvers: ['group:sre', 'group:oncall'] }],
    });
    assert.deepEqual(c.groups, [
      { name: 'oncall', kind: 'entra', id: '0c0c0c0c-0000-4000-8000-00000000ca11' },
      { name: 'dbas', kind: 'slack', id: 'dbas' },
      { name: 'ops', kind: 'slack', id: 'S0OPS' },
    ]);
    assert.deepEqual(c.policy.directoryGroups, ['oncall', 'dbas', 'ops']);
    assert.deepEqual(c.policy.people[0].groups, ['sre']);
  });

  it('reports every wrong directory group in one pass', () => {
    const lines = configError(() =>
      configFromDocument({
        groups: { a: { entra: 'not-a-guid' }, b: { entra: '0c0c0c0c-0000-4000-8000-00000000ca11', slack: '@b' }, c: {}, d: { slack: 'Has Spaces' }, 'e f': { slack: '@e' }, g: { okta: 'x' }, G: { slack: '@g' } },
      }),
    );
    assert.ok(lines.includes("config: groups.a.entra: must be the Entra group's object id (a GUID)"), lines.join('\n'));
    assert.ok(lines.includes('config: groups.b: must name exactly one directory: entra or slack'), lines.join('\n'));
    assert.ok(lines.includes('config: groups.c: must name exactly one directory: entra or slack'), lines.join('\n'));
    assert.ok(lines.includes('config: groups.d.slack: must be a Slack user group handle (as in @sre) or id (S…)'), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('config: groups.e f') && l.endsWith('must be a group name as rules write it after group: (letters, digits, . _ -)')), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('config: groups.g') && /unrecognized key/i.test(l)), lines.join('\n'));
    assert.ok(lines.includes('config: groups.G: is the same group as g (names ignore case)'), lines.join('\n'));
  });

  describe('escalation', () => {
    const web = { name: 'web', vms: { names: ['web-*'] }, requesters: ['group:dev'], approvers: ['group:sre'] };

    it('reads escalateAfterMinutes and escalateTo, emails normalised like every principal', () => {
      const { policy } = configFromDocument({ rules: [{ ...web, escalateAfterMinutes: 20, escalateTo: ['group:oncall', 'Dave@Example.com'] }] });
      assert.equal(policy.rules[0].escalateAfterMinutes, 20);
      assert.deepEqual(policy.rules[0].escalateTo, ['group:oncall', 'dave@example.com']);
    });

    it('without escalateTo, escalates to the rule\'s own approvers: a reminder, with no one new allowed to decide', () => {
      const { policy } = configFromDocument({ rules: [{ ...web, escalateAfterMinutes: 20 }] });
      assert.equal(policy.rules[0].escalateAfterMinutes, 20);
      assert.equal(policy.rules[0].escalateTo, undefined);
    });

    it('refuses every escalation mistake in one pass, each on its own line', () => {
      const lines = configError(() =>
        configFromDocument(
          {
            pendingTimeoutMinutes: 30,
            rules: [
              { ...web, name: 'late', escalateAfterMinutes: 30, escalateTo: ['group:oncall'] },
              { ...web, name: 'no-time', escalateTo: ['group:oncall'] },
              { ...web, name: 'bad', escalateAfterMinutes: 2.5, escalateTo: [] },
              { ...web, name: 'zero', escalateAfterMinutes: 0, escalateTo: ['not a principal'] },
            ],
          },
          'jitbot.yaml',
        ),
      );
      assert.deepEqual(lines.sort(), [
        'jitbot.yaml: rules[0].escalateAfterMinutes: must be shorter than pendingTimeoutMinutes (30): a request times out before it would be escalated',
        'jitbot.yaml: rules[1].escalateTo: needs escalateAfterMinutes: how long a decision may wait before these people are asked',
        'jitbot.yaml: rules[2].escalateAfterMinutes: must be a whole number of minutes',
        'jitbot.yaml: rules[2].escalateTo: must name at least one principal ("*", group:<name> or an email)',
        'jitbot.yaml: rules[3].escalateAfterMinutes: must be ≥ 1',
        'jitbot.yaml: rules[3].escalateTo[0]: must be "*", "group:<name>" or an email',
      ]);
    });

    it('measures escalateAfterMinutes against the default pending timeout of 60 minutes when none is set', () => {
      const lines = configError(() => configFromDocument({ rules: [{ ...web, escalateAfterMinutes: 60 }] }, 'jitbot.yaml'));
      assert.deepEqual(lines, ['jitbot.yaml: rules[0].escalateAfterMinutes: must be shorter than pendingTimeoutMinutes (60): a request times out before it would be escalated']);
      assert.equal(configFromDocument({ rules: [{ ...web, escalateAfterMinutes: 59 }] }).policy.rules[0].escalateAfterMinutes, 59);
    });
  });

  it('names the line of a YAML syntax error', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jitbot-config-'));
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'people:\n  - email: a@b.c\n    name: [unclosed\n');
    const lines = configError(() => loadConfigFile(file));
    assert.match(lines[0], /bad\.yaml: line \d+/);
  });
});

describe('environment settings', () => {
  it('with nothing set, runs in local mode on port 3978 with data under ./.jitbot', () => {
    const s = readSettings({}, '/srv/bot');
    assert.equal(s.localMode, true);
    assert.equal(s.port, 3978);
    assert.equal(s.dataDir, '/srv/bot/.jitbot');
    assert.match(s.configPath, /examples[/\\]local\.yaml$/);
    assert.equal(s.teams?.appId, '', 'the Emulator endpoint is on, without auth, in local mode only');
    assert.equal(s.slack, undefined);
  });

  it('never runs Teams without auth outside local mode', () => {
    const s = readSettings({ AZURE_SUBSCRIPTION_ID: '11111111-2222-3333-4444-555555555555' });
    assert.equal(s.localMode, false);
    assert.equal(s.teams, undefined);
  });

  it('reads JITBOT_TRUSTED_PROXIES as CIDRs and refuses anything else, or everyone', () => {
    assert.deepEqual(readSettings({ JITBOT_TRUSTED_PROXIES: '10.0.0.0/8, 192.0.2.10' }).trustedProxies, ['10.0.0.0/8', '192.0.2.10']);
    assert.deepEqual(readSettings({}).trustedProxies, []);
    assert.match(configError(() => readSettings({ JITBOT_TRUSTED_PROXIES: 'proxy.local' }))[0], /^JITBOT_TRUSTED_PROXIES: "proxy.local" is not an address or CIDR/);
    assert.match(configError(() => readSettings({ JITBOT_TRUSTED_PROXIES: '0.0.0.0/0' }))[0], /^JITBOT_TRUSTED_PROXIES: /);
  });

  it('gives one clear line per missing or inconsistent setting', () => {
    const lines = configError(() => readSettings({ SLACK_SIGNING_SECRET: 's', MicrosoftAppPassword: 'p' }));
    assert.deepEqual(lines, [
      'SLACK_BOT_TOKEN: must be set to turn Slack on (xoxb-…)',
      'MicrosoftAppId: must be set with MicrosoftAppPassword',
    ]);
    const bad = configError(() => readSettings({ PORT: 'eighty', DATABASE_URL: 'mysql://x' }));
    assert.equal(bad.length, 2);
    assert.ok(bad[0].startsWith('PORT: '));
    assert.ok(bad[1].startsWith('DATABASE_URL: '));
  });

  it('turns Slack on in HTTP or Socket Mode', () => {
    const http = readSettings({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'sec' });
    assert.deepEqual(http.slack, { botToken: 'xoxb-1', signingSecret: 'sec' });
    const socket = readSettings({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1-abc' });
    assert.equal(socket.slack?.appToken, 'xapp-1-abc');
  });

  describe('against an insider (issue 12)', () => {
    const SUB = '11111111-2222-3333-4444-555555555555';
    const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
    const LINKS = { JITBOT_LINK_SECRET: 'a-shared-secret-of-enough-length-0123', JITBOT_PUBLIC_URL: 'https://jitbot.example.com' };
    const teams = { MicrosoftAppId: '00000000-0000-0000-0000-00000000b07a', MicrosoftAppPassword: 'p' };

    it('refuses a multi-tenant Teams bot without a tenant allow-list outside local mode', () => {
      const lines = configError(() => readSettings({ AZURE_SUBSCRIPTION_ID: SUB, ...teams, MicrosoftAppType: 'MultiTenant', ...LINKS }));
      assert.deepEqual(lines, [
        'JITBOT_TEAMS_TENANTS: must list the Entra tenants the bot serves when MicrosoftAppType is MultiTenant (or set MicrosoftAppTenantId with SingleTenant)',
      ]);
    });

    it('serves only MicrosoftAppTenantId for a single-tenant bot, the default once a tenant is named', () => {
      const s = readSettings({ AZURE_SUBSCRIPTION_ID: SUB, ...teams, MicrosoftAppTenantId: TENANT, ...LINKS });
      assert.equal(s.teams?.appType, 'SingleTenant');
      assert.deepEqual(s.teams?.tenants, [TENANT]);
    });

    it('takes several tenants from JITBOT_TEAMS_TENANTS and refuses one that is not a GUID', () => {
      const other = '9a27e7e0-0000-4000-8000-0000000000aa';
      const s = readSettings({ AZURE_SUBSCRIPTION_ID: SUB, ...teams, MicrosoftAppType: 'MultiTenant', JITBOT_TEAMS_TENANTS: `${TENANT}, ${other}`, ...LINKS });
      assert.deepEqual(s.teams?.tenants, [TENANT, other]);
      assert.deepEqual(configError(() => readSettings({ AZURE_SUBSCRIPTION_ID: SUB, ...teams, JITBOT_TEAMS_TENANTS: 'contoso', ...LINKS })), [
        'JITBOT_TEAMS_TENANTS: "contoso" is not a tenant id (a GUID); separate several with commas',
      ]);
    });

    it('requires the link secret and the public URL, one line each, when links can be issued outside local mode', () => {
      const lines = configError(() => readSettings({ AZURE_SUBSCRIPTION_ID: SUB, ...teams, MicrosoftAppTenantId: TENANT }));
      assert.equal(lines.length, 2);
      assert.match(lines[0], /^JITBOT_LINK_SECRET: must be set/);
      assert.match(lines[1], /^JITBOT_PUBLIC_URL: must be set/);
      assert.deepEqual(configError(() => readSettings({ AZURE_SUBSCRIPTION_ID: SUB, SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', JITBOT_PUBLIC_URL: LINKS.JITBOT_PUBLIC_URL })).length, 1);
      // Slack alone takes the CSV as a file: no link, so nothing more is needed.
      assert.equal(readSettings({ AZURE_SUBSCRIPTION_ID: SUB, SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' }).localMode, false);
    });

    it('keeps local mode working with the Emulator and no tenant list', () => {
      const s = readSettings({});
      assert.deepEqual(s.teams?.tenants, []);
    });
  });
});
