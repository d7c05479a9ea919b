import assert from 'node:assert/strict';
import type { HomeView } from '../../src/app/api';
import type { FormView, Notice, PersonView, RequestView } from '../../src/core/views';
import {
  ACTION_IDS,
  escapeText,
  renderActionResult,
  renderCard,
  renderForm,
  renderHome,
  renderNotice,
  renderReply,
  renderReplyModal,
  verbOfActionId,
} from '../../src/slack/render';

const alice: PersonView = { name: 'Alice', email: 'alice@example.com', platform: 'slack', userId: 'U0ALICE' };

const pending: RequestView = {
  id: 'R4K7QX',
  state: 'pending',
  headline: 'Waiting for approval (1 of 2)',
  requester: alice,
  vms: ['sql-01'],
  ports: ['3389', '5986/TCP'],
  source: '203.0.113.7',
  sourceSize: '1 address',
  sourceWide: false,
  duration: '1h30m',
  reason: 'patching <!channel> & co',
  approvalsText: '1 of 2',
  approvedBy: ['Bob'],
  decision: null,
  endsAt: null,
  failure: null,
  extension: null,
  approverActions: ['approve', 'deny'],
  requesterActions: ['cancel'],
  extendChoices: [],
  extendLimit: null,
  createdAt: '12:00 UTC',
  final: false,
};

const md = (text: string) => ({ type: 'mrkdwn', text });
const pt = (text: string) => ({ type: 'plain_text', text });

describe('Slack rendering', () => {
  describe('the approval card', () => {
    it('shows requester, VMs, ports, source, duration, reason and "1 of 2", with Approve and Deny carrying the request id', () => {
      assert.deepEqual(renderCard(pending), {
        text: 'R4K7QX: Waiting for approval (1 of 2). Alice asks for 3389, 5986/TCP on sql-01.',
        blocks: [
          { type: 'header', text: pt('JIT access request R4K7QX') },
          { type: 'section', text: md('*Waiting for approval (1 of 2)*') },
          {
            type: 'section',
            fields: [
              md('*Requester*\n<@U0ALICE>'),
              md('*VMs*\n`sql-01`'),
              md('*Ports*\n`3389`, `5986/TCP`'),
              md('*Source*\n`203.0.113.7` · 1 address'),
              md('*Duration*\n1h30m'),
              md('*Approvals*\n1 of 2 (Bob)'),
            ],
          },
          { type: 'section', text: md('*Reason*\npatching &lt;!channel&gt; &amp; co') },
          {
            type: 'actions',
            block_id: 'jit_card',
            elements: [
              { type: 'button', action_id: 'jit_approve', text: pt('Approve'), value: 'R4K7QX', style: 'primary' },
              { type: 'button', action_id: 'jit_deny', text: pt('Deny'), value: 'R4K7QX', style: 'danger' },
            ],
          },
          { type: 'context', elements: [md('R4K7QX · requested 12:00 UTC')] },
        ],
      });
    });

    it('drops the buttons and says who decided and when once approved', () => {
      const active: RequestView = {
        ...pending,
        state: 'active',
        headline: 'Open until 13:35 UTC',
        approvalsText: '2 of 2',
        approvedBy: ['Bob', 'Carol'],
        decision: 'Approved by Bob, Carol at 12:05 UTC',
        endsAt: '13:35 UTC',
        approverActions: [],
        requesterActions: ['extend', 'release'],
        reason: '',
      };
      assert.deepEqual(renderCard(active).blocks, [
        { type: 'header', text: pt('JIT access request R4K7QX') },
        { type: 'section', text: md('*Open until 13:35 UTC*') },
        {
          type: 'section',
          fields: [
            md('*Requester*\n<@U0ALICE>'),
            md('*VMs*\n`sql-01`'),
            md('*Ports*\n`3389`, `5986/TCP`'),
            md('*Source*\n`203.0.113.7` · 1 address'),
            md('*Duration*\n1h30m'),
            md('*Approvals*\n2 of 2 (Bob, Carol)'),
          ],
        },
        { type: 'section', text: md('*Reason*\n_none given_') },
        { type: 'context', elements: [md('Approved by Bob, Carol at 12:05 UTC')] },
        { type: 'context', elements: [md('R4K7QX · requested 12:00 UTC')] },
      ]);
    });

    it('draws no buttons on a final card even if the view still lists approver actions', () => {
      const denied = { ...pending, state: 'denied' as const, headline: 'Denied by Bob', decision: 'Denied by Bob at 12:03 UTC', final: true };
      assert.equal(renderCard(denied).blocks.some((b) => b.type === 'actions'), false);
    });

    it('shows the approve and deny buttons again while an extension waits, with the extension asked', () => {
      const extending: RequestView = { ...pending, state: 'active', headline: 'Open until 13:35 UTC', extension: '+1h, 0 of 2 approvals', approverActions: ['approve', 'deny'] };
      const blocks = renderCard(extending).blocks;
      assert.deepEqual(blocks[4], { type: 'section', text: md('*Extension asked*\n+1h, 0 of 2 approvals') });
      assert.equal(blocks.filter((b) => b.type === 'actions').length, 1);
    });

    it('names a requester from another platform instead of mentioning them, and shows a failure', () => {
      const fromTeams: RequestView = {
        ...pending,
        state: 'failed',
        requester: { name: 'Alice <Ops>', email: 'alice@example.com', platform: 'teams', userId: '29:abc' },
        failure: 'Azure refused: port 3389 is not in the policy',
        approverActions: [],
        final: true,
      };
      const blocks = renderCard(fromTeams).blocks as Array<{ type: string; fields?: unknown[]; text?: unknown }>;
      assert.deepEqual(blocks[2].fields?.[0], md('*Requester*\nAlice &lt;Ops&gt;'));
      assert.deepEqual(blocks[4], { type: 'section', text: md(':x: Azure refused: port 3389 is not in the policy') });
    });

    it('says whom the request was escalated to, under the decision line', () => {
      const blocks = renderCard({ ...pending, escalation: 'Escalated to Dave <on-call> at 12:20 UTC' }).blocks;
      assert.deepEqual(blocks[blocks.length - 3], { type: 'context', elements: [md(':rotating_light: Escalated to Dave &lt;on-call&gt; at 12:20 UTC')] });
      assert.ok(!JSON.stringify(renderCard(pending).blocks).includes('rotating_light'));
    });

    it('cuts a very long reason short', () => {
      const long = { ...pending, reason: 'x'.repeat(5_000) };
      const reason = (renderCard(long).blocks[3] as { text: { text: string } }).text.text;
      assert.equal(reason.length, '*Reason*\n'.length + 1_000);
      assert.ok(reason.endsWith('…'));
    });
  });

  describe('thread replies', () => {
    it('renders the reminder with the requester mentioned in place of their name and Extend / Release now buttons', () => {
      const reminder: Notice = {
        kind: 'reminder',
        requestId: 'R4K7QX',
        text: 'Alice, your access to 22/TCP on web-01 ends at 13:00 UTC (in 10 min). Extend or release it now.',
        mention: alice,
        actions: ['extend', 'release'],
      };
      const text = ':alarm_clock: <@U0ALICE>, your access to 22/TCP on web-01 ends at 13:00 UTC (in 10 min). Extend or release it now.';
      assert.deepEqual(renderNotice(reminder), {
        text,
        blocks: [
          { type: 'section', text: md(text) },
          {
            type: 'actions',
            block_id: 'jit_notice',
            elements: [
              { type: 'button', action_id: 'jit_extend', text: pt('Extend'), value: 'R4K7QX', style: 'primary' },
              { type: 'button', action_id: 'jit_release', text: pt('Release now'), value: 'R4K7QX', style: 'danger' },
            ],
          },
        ],
      });
    });

    it('puts the mention in front when the text does not start with the name', () => {
      const expired: Notice = { kind: 'expired', requestId: 'R1', text: 'Expired, ports closed: 22/TCP on web-01.', mention: alice };
      assert.deepEqual(renderNotice(expired), {
        text: ':lock: <@U0ALICE> Expired, ports closed: 22/TCP on web-01.',
        blocks: [{ type: 'section', text: md(':lock: <@U0ALICE> Expired, ports closed: 22/TCP on web-01.') }],
      });
    });

    it('leaves the text as written for a person who is not on Slack, escaped', () => {
      const opened: Notice = {
        kind: 'opened',
        requestId: 'R1',
        text: 'Open until 13:00 UTC from 10.1.2.3: 22/TCP on web-01 <now>.',
        mention: { name: 'Dana', email: 'dana@example.com', platform: 'teams', userId: '29:x' },
      };
      assert.equal(renderNotice(opened).text, ':unlock: Open until 13:00 UTC from 10.1.2.3: 22/TCP on web-01 &lt;now&gt;.');
    });

    it('mentions the people a request was escalated to ahead of the text, and names the ones Slack does not know', () => {
      const escalated: Notice = {
        kind: 'escalated',
        requestId: 'R1',
        text: "Alice's request R1 has waited 20m for a decision; escalated to Dave and Erin <x>, who may now approve or deny it on the card.",
        mentionEmails: [{ name: 'Dave', email: 'dave@example.com' }, { name: 'Erin <x>', email: 'erin@example.com' }],
      };
      const dave: PersonView = { name: 'Dave', email: 'dave@example.com', platform: 'slack', userId: 'U0DAVE' };
      assert.equal(
        renderNotice(escalated, { people: [dave, dave] }).text,
        ":rotating_light: <@U0DAVE> Alice's request R1 has waited 20m for a decision; escalated to Dave and Erin &lt;x&gt;, who may now approve or deny it on the card.",
      );
      assert.equal(renderNotice(escalated).text.startsWith(":rotating_light: Alice's request"), true, 'no mention without a Slack id');
    });

    it('offers Approve and Deny in the direct message to an escalation person', () => {
      const ask: Notice = { kind: 'escalated', requestId: 'R1', text: 'Dave, the request was escalated to you.', actions: ['approve', 'deny'] };
      const actions = renderNotice(ask).blocks[1] as { elements: Array<{ action_id: string; value: string }> };
      assert.deepEqual(actions.elements.map((e) => [e.action_id, e.value]), [['jit_approve', 'R1'], ['jit_deny', 'R1']]);
    });

    it('keeps forty escalation mentions inside one section', () => {
      const people: PersonView[] = Array.from({ length: 40 }, (_, i) => ({ name: `P${i}`, email: `p${i}@example.com`, platform: 'slack', userId: `U0P${i}` }));
      const m = renderNotice({ kind: 'escalated', requestId: 'R1', text: 'x'.repeat(2_990) }, { people });
      assert.equal((m.text.match(/<@U0P/g) ?? []).length, 20, 'twenty mentions at most; the text names the rest');
      const section = m.blocks[0] as { text: { text: string } };
      assert.ok(section.text.text.length <= 3_000);
    });

    it('has no buttons when the notice has none', () => {
      const released: Notice = { kind: 'released', requestId: 'R1', text: 'Released by Alice, ports closed.' };
      assert.equal(renderNotice(released).blocks.length, 1);
    });

    it("draws the bot's own step-up link as a Slack link, and the words around it as text", () => {
      const url = 'https://jitbot.example.com/step-up/AbC_123-xyz';
      const stepUp: Notice = { kind: 'step-up', requestId: 'R1', text: 'Rule web needs a fresh sign-in <https://evil.example|here>.', link: { url, label: 'Sign in to approve' } };
      const text = JSON.stringify(renderNotice(stepUp).blocks);
      assert.ok(text.includes(`<${url}|Sign in to approve>`), text);
      assert.ok(!text.includes('<https://evil.example|'), 'a link in the words stays text');
    });

    it('draws no link when the URL could break out of the Slack link syntax', () => {
      const stepUp: Notice = { kind: 'step-up', requestId: 'R1', text: 'Sign in.', link: { url: 'https://x.example/a|b>c', label: 'Sign in' } };
      assert.ok(!JSON.stringify(renderNotice(stepUp).blocks).includes('x.example'));
    });
  });

  describe('ephemeral replies', () => {
    it('shows an error in one line with the right form of the command', () => {
      assert.deepEqual(renderReply({ kind: 'error', message: '"web-1" is not a VM you can request; did you mean web-01?', usage: '/jit <ports> <vms> <duration>' }), {
        text: '"web-1" is not a VM you can request; did you mean web-01?',
        blocks: [
          { type: 'section', text: md(':warning: "web-1" is not a VM you can request; did you mean web-01?') },
          { type: 'context', elements: [md('Usage: `/jit &lt;ports&gt; &lt;vms&gt; &lt;duration&gt;`')] },
        ],
      });
    });

    it('answers a request with "sent for approval" and its id, and points to the live copy in direct messages instead of drawing buttons that go stale', () => {
      assert.deepEqual(renderReply({ kind: 'submitted', text: 'Sent for approval: R4K7QX.', request: { ...pending, approvedBy: [], approvalsText: '0 of 2', headline: 'Waiting for approval (0 of 2)' } }), {
        text: 'Sent for approval: R4K7QX.',
        blocks: [
          { type: 'section', text: md('Sent for approval: R4K7QX.') },
          {
            type: 'section',
            text: md('*R4K7QX* · Waiting for approval (0 of 2)\n<@U0ALICE>: `3389`, `5986/TCP` on `sql-01` from `203.0.113.7` for 1h30m — patching &lt;!channel&gt; &amp; co'),
          },
          { type: 'context', elements: [md('Your copy in our direct messages follows this request from here on, with its buttons.')] },
        ],
      });
    });

    it('lists help with every command and the examples', () => {
      const reply = renderReply({
        kind: 'help',
        help: { commands: [{ usage: '/jit help', description: 'usage, with examples' }, { usage: '/jit vms', description: 'VMs you may request' }], examples: ['/jit ssh web-01 1h from 10.1.2.3 for INC-4711'] },
      });
      assert.deepEqual(reply.blocks, [
        { type: 'section', text: md('*Just-in-time access to VM management ports*') },
        { type: 'section', text: md('`/jit help` — usage, with examples\n`/jit vms` — VMs you may request') },
        { type: 'section', text: md('*Examples*\n`/jit ssh web-01 1h from 10.1.2.3 for INC-4711`') },
      ]);
    });

    it('lists status with the buttons each person may use and says when nothing waits', () => {
      const reply = renderReply({ kind: 'status', mine: [pending], awaiting: [] });
      assert.deepEqual(reply.blocks, [
        { type: 'section', text: md('*Your requests*') },
        {
          type: 'section',
          text: md('*R4K7QX* · Waiting for approval (1 of 2)\n<@U0ALICE>: `3389`, `5986/TCP` on `sql-01` from `203.0.113.7` for 1h30m — patching &lt;!channel&gt; &amp; co'),
        },
        { type: 'actions', block_id: 'jit_mine_R4K7QX', elements: [{ type: 'button', action_id: 'jit_cancel', text: pt('Cancel request'), value: 'R4K7QX' }] },
        { type: 'section', text: md('*Waiting for your approval*') },
        { type: 'context', elements: [md('Nothing waits for you.')] },
      ]);
    });

    it('shows whois with where each group comes from, a directory\'s display name escaped', () => {
      const reply = renderReply({
        kind: 'whois',
        whois: {
          email: 'frank@example.com',
          name: 'Frank <!channel>',
          groups: [{ group: 'oncall', from: ['Microsoft Entra ID'] }],
          unchecked: [{ group: 'dbas', directory: 'Slack' }],
          admin: { is: false, via: [] },
          rules: [{ rule: 'web', request: [], approve: ['group:oncall (Microsoft Entra ID)'] }],
        },
      });
      assert.deepEqual(reply.blocks, [
        { type: 'section', text: md('*Frank &lt;!channel&gt; &lt;frank@example.com&gt;*') },
        {
          type: 'section',
          text: md(
            'Groups: group:oncall (Microsoft Entra ID)\nNot checked: group:dbas, because Slack could not be reached; it grants nothing until it answers\nAdmin: no\nRule web: may approve through group:oncall (Microsoft Entra ID)',
          ),
        },
      ]);
    });

    it('keeps a long status list within Slack’s block limit', () => {
      const many = Array.from({ length: 30 }, (_, i) => ({ ...pending, id: `R${i}` }));
      const blocks = renderReply({ kind: 'status', mine: many, awaiting: many }).blocks;
      assert.ok(blocks.length <= 50, `${blocks.length} blocks`);
      assert.deepEqual(blocks[21], { type: 'context', elements: [md('…and 20 more.')] });
    });

    it('shows VMs with their ports, limits, approvals, last access and open grants', () => {
      const reply = renderReply({
        kind: 'vms',
        vms: [
          {
            name: 'web-01',
            resourceGroup: 'rg-web',
            location: 'westeurope',
            os: 'linux',
            jit: true,
            ports: [{ port: '22', protocol: 'TCP', sources: ['10.0.0.0/8'], max: '3h' }],
            approvals: 1,
            lastAccess: '11:00 UTC',
            open: ['22/TCP from 10.1.2.3 until 13:00 UTC'],
          },
          { name: 'build-01', resourceGroup: 'rg-ci', location: 'westeurope', os: 'linux', jit: false, ports: [], approvals: null, lastAccess: null, open: [] },
        ],
      });
      assert.deepEqual(reply.blocks, [
        { type: 'section', text: md('*VMs you may request* (2)') },
        {
          type: 'section',
          text: md('*web-01* · `rg-web` · westeurope · linux\n`22/TCP` from `10.0.0.0/8`, max 3h\n1 approval needed · last access 11:00 UTC\nOpen now: 22/TCP from 10.1.2.3 until 13:00 UTC'),
        },
        { type: 'section', text: md('*build-01* · `rg-ci` · westeurope · linux\n_not under JIT_\nnever opened by the bot') },
      ]);
    });

    it('shows a policy with any-protocol ports', () => {
      const reply = renderReply({
        kind: 'policy',
        vm: { name: 'sql-01', resourceGroup: 'rg-data', location: 'westeurope', os: 'windows', jit: true, ports: [{ port: '3389', protocol: '*', sources: ['*'], max: '3h' }], approvals: 2, lastAccess: null, open: [] },
      });
      assert.deepEqual(reply.blocks[1], { type: 'section', text: md('*sql-01* · `rg-data` · westeurope · windows\n`3389/any` from `*`, max 3h\n2 approvals needed · never opened by the bot') });
    });

    it('answers a button for the clicker alone, with a warning sign when refused', () => {
      assert.deepEqual(renderActionResult({ ok: false, message: "You can't approve this request: you asked for it.", view: null }), {
        text: ":warning: You can't approve this request: you asked for it.",
        blocks: [{ type: 'section', text: md(":warning: You can't approve this request: you asked for it.") }],
      });
      assert.equal(renderActionResult({ ok: true, message: 'Approved R1.', view: null }).text, 'Approved R1.');
    });
  });

  describe('the request form', () => {
    const form: FormView = {
      vms: [
        { name: 'web-01', ports: [{ value: '22', label: '22/TCP (ssh)' }], maxMinutes: 180, sources: ['10.0.0.0/8'] },
        { name: 'sql-01', ports: [{ value: '3389', label: '3389 (rdp)' }, { value: '22', label: '22 again' }], maxMinutes: 60, sources: ['*'] },
      ],
      durations: [
        { value: '30m', label: '30 minutes' },
        { value: '1h', label: '1 hour' },
      ],
      defaults: { vm: 'web-01', port: '22', duration: '1h', source: '10.1.2.3' },
    };

    it('is a modal with callback id jit_request_form and one input block per field', () => {
      const opt = (value: string, label: string) => ({ text: pt(label), value });
      assert.deepEqual(renderForm(form), {
        type: 'modal',
        callback_id: 'jit_request_form',
        title: pt('JIT access'),
        submit: pt('Request'),
        close: pt('Cancel'),
        blocks: [
          {
            type: 'input',
            block_id: 'jit_vm',
            label: pt('VMs (2 you may request; type to search)'),
            element: { type: 'multi_external_select', action_id: 'value', min_query_length: 0, placeholder: pt('Type part of a name, e.g. web-'), initial_options: [opt('web-01', 'web-01')] },
          },
          {
            type: 'input',
            block_id: 'jit_ports',
            label: pt('Ports'),
            hint: pt('web-01: 22/TCP (ssh) · sql-01: 3389 (rdp), 22 again'),
            element: { type: 'multi_static_select', action_id: 'value', options: [opt('22', '22/TCP (ssh)'), opt('3389', '3389 (rdp)')], initial_options: [opt('22', '22/TCP (ssh)')] },
          },
          { type: 'input', block_id: 'jit_duration', label: pt('For how long'), element: { type: 'static_select', action_id: 'value', options: [opt('30m', '30 minutes'), opt('1h', '1 hour')], initial_option: opt('1h', '1 hour') } },
          {
            type: 'input',
            block_id: 'jit_source',
            optional: true,
            label: pt('From (your IP address or CIDR)'),
            hint: pt('Allowed: web-01: 10.0.0.0/8 · sql-01: any address'),
            element: { type: 'plain_text_input', action_id: 'value', placeholder: pt('10.1.2.3 or 10.1.2.0/24'), max_length: 64, initial_value: '10.1.2.3' },
          },
          {
            type: 'input',
            block_id: 'jit_from_me',
            optional: true,
            label: pt('Or'),
            element: { type: 'checkboxes', action_id: 'value', options: [opt('me', 'My address: send me a one-time link to open where I will connect from')] },
          },
          {
            type: 'input',
            block_id: 'jit_reason',
            optional: true,
            label: pt('Reason'),
            element: { type: 'plain_text_input', action_id: 'value', multiline: true, max_length: 500, placeholder: pt('INC-4711: restart the web tier') },
          },
        ],
      });
    });

    it('has nothing to submit when the person may request no VM', () => {
      const view = renderForm({ vms: [], durations: form.durations, defaults: {} });
      assert.equal(view.submit, undefined);
      assert.equal(view.callback_id, undefined);
      assert.equal(view.blocks.some((b) => b.type === 'input'), false);
    });

    it('shows the answer to a submission in the modal without buttons', () => {
      const view = renderReplyModal({ kind: 'submitted', text: 'Sent for approval: R4K7QX.', request: pending });
      assert.deepEqual(view.close, pt('Done'));
      assert.equal(view.blocks.some((b) => b.type === 'actions'), false);
      assert.deepEqual(view.blocks[0], { type: 'section', text: md('Sent for approval: R4K7QX.') });
    });
  });

  describe('App Home', () => {
    it('lists open grants, pending requests and what waits for approval, each with its buttons', () => {
      const grant: RequestView = { ...pending, id: 'R2', state: 'active', headline: 'Open until 13:00 UTC', approverActions: [], requesterActions: ['extend', 'release'] };
      const home: HomeView = { grants: [grant], pending: [], awaiting: [{ ...pending, id: 'R3' }] };
      const view = renderHome(home, 'Released R1.');
      assert.equal(view.type, 'home');
      assert.deepEqual(
        view.blocks.map((b) => {
          const block = b as { type: string; block_id?: string; elements?: Array<{ action_id?: string }> };
          return block.type === 'actions' ? `${block.block_id}:${(block.elements ?? []).map((e) => e.action_id).join(',')}` : block.type;
        }),
        ['header', 'section', 'section', 'section', 'jit_open_R2:jit_extend,jit_release', 'divider', 'section', 'context', 'divider', 'section', 'section', 'jit_awaiting_R3:jit_approve,jit_deny', 'context'],
      );
      assert.deepEqual(view.blocks[1], { type: 'section', text: md('Released R1.') });
    });
  });

  it('maps every verb to a jit_ action id and back', () => {
    for (const [verb, id] of Object.entries(ACTION_IDS)) assert.equal(verbOfActionId(id), verb);
    assert.equal(verbOfActionId('jit_explode'), null);
  });

  it('draws the audit download as a link the bot made, with the token intact', () => {
    const m = renderReply({ kind: 'audit', csv: '', filename: 'a.csv', rows: 0, text: 'Audit trail (0 events).', link: 'https://jitbot.example/audit?t=a-_b|c' });
    assert.match(JSON.stringify(m.blocks), /<https:\/\/jitbot.example\/audit\?t=a-_b%7Cc\|Download the CSV>/);
  });

  it('shows typed mrkdwn as typed: entities for & < >, and formatting marks that cannot pair', () => {
    const zw = '\u200b';
    assert.equal(escapeText('a & <b> *c* _d_'), `a &amp; &lt;b&gt; ${zw}*${zw}c${zw}*${zw} ${zw}_${zw}d${zw}_${zw}`);
    assert.equal(escapeText('<https://evil.example|Approve>'), '&lt;https://evil.example|Approve&gt;');
    assert.equal(escapeText('missing_scope web_01'), 'missing_scope web_01', 'marks inside a word cannot format and stay untouched');
    assert.equal(escapeText('`rm -rf` ~x~').replace(/\u200b/g, ''), '`rm -rf` ~x~', 'the characters themselves still show');
  });
});
