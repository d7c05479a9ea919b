import { strict as assert } from 'node:assert';
import {
  actionVerb,
  approvalCard,
  formCard,
  formInputFrom,
  MAX_REFRESH_USER_IDS,
  noticeCard,
  replyCard,
  type AdaptiveCardJson,
} from '../../src/cards/render';
import { lintCard } from './card-lint';
import { cardTexts } from './card-text';
import { everySampleCard, sampleForm, sampleNotices, sampleReplies, sampleViews } from './card-samples';

type Json = Record<string, unknown>;

const everyCard = everySampleCard;

/** Every action anywhere in a card (body ActionSets, card-level actions), with its path. */
function actionsOf(card: unknown): Json[] {
  const out: Json[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    const o = v as Json;
    if (typeof o.type === 'string' && o.type.startsWith('Action.')) out.push(o);
    for (const [k, c] of Object.entries(o)) if (k !== 'fallback' && k !== 'refresh') walk(c);
  };
  walk(card);
  return out;
}

describe('Adaptive Cards (src/cards/render.ts)', () => {
  it('should render every card the bot can send so that the adaptivecards parser has no complaint', () => {
    const cards = everyCard();
    assert.ok(cards.length > 60);
    for (const [name, card] of cards) {
      assert.deepEqual(lintCard(card), [], name);
      assert.equal(card.version, '1.5', name);
      assert.ok(JSON.stringify(card).length < 20_000, `${name} stays far below Teams' 28 KB`);
    }
  });

  it('should leave no template expression unexpanded, and keep user text containing ${…} literal', () => {
    for (const [name, card] of everyCard()) {
      const text = JSON.stringify(card).split('${not.a.template}').join('');
      assert.ok(!text.includes('${'), `${name}: ${text.slice(text.indexOf('${') - 40, text.indexOf('${') + 40)}`);
    }
    const texts = cardTexts(approvalCard(sampleViews().pending, { forApprover: true }));
    assert.ok(texts.includes('Reason: INC-4711 ${not.a.template} **bold**'), texts.join('\n'));
  });

  it('should give approvers Approve and Deny with the verb in data too, plus a Submit fallback', () => {
    const card = approvalCard(sampleViews().pending, { forApprover: true });
    const actions = actionsOf(card);
    assert.deepEqual(actions.map((a) => [a.type, a.verb, a.data]), [
      ['Action.Execute', 'approve', { verb: 'approve', requestId: 'R4K7QX' }],
      ['Action.Execute', 'deny', { verb: 'deny', requestId: 'R4K7QX' }],
    ]);
    for (const a of actions) assert.deepEqual((a.fallback as Json).data, a.data);
  });

  it('should give the requester cancel while pending and extend/release while active, never approve', () => {
    const v = sampleViews();
    assert.deepEqual(actionsOf(approvalCard(v.pending, { forApprover: false, forRequester: true })).map((a) => a.verb), ['cancel']);
    assert.deepEqual(actionsOf(approvalCard(v.active, { forApprover: false, forRequester: true })).map((a) => a.verb), ['extend', 'release']);
    assert.deepEqual(actionsOf(approvalCard(v.active, { forApprover: true })).map((a) => a.verb), []);
    assert.deepEqual(actionsOf(approvalCard(v.activeExtension, { forApprover: true })).map((a) => a.verb), ['approve', 'deny']);
    assert.deepEqual(actionsOf(approvalCard(v.pending, { forApprover: false })), []);
  });

  it('should show the two-approver progress, the decision, the failure and a pending extension', () => {
    const v = sampleViews();
    const text = (c: AdaptiveCardJson): string => JSON.stringify(c);
    assert.match(text(approvalCard(v.pendingTwo, { forApprover: true })), /Waiting for approval \(1 of 2\)/);
    assert.match(text(approvalCard(v.pendingTwo, { forApprover: true })), /"1 of 2 \(Bob\)"/);
    assert.match(text(approvalCard(v.denied, { forApprover: true })), /Denied by Bob at 12:00 UTC: not during the freeze/);
    assert.match(text(approvalCard(v.failed, { forApprover: true })), /Azure said: BadRequest: port 22 is not in the policy/);
    assert.match(text(approvalCard(v.activeExtension, { forApprover: true })), /Extension asked: \+1h, 0 of 1 approvals/);
    assert.match(text(approvalCard(v.auto, { forApprover: true })), /Approved automatically by rule/);
  });

  it('should carry a refresh with verb and data for non-final cards, capped at 60 users, and none once final', () => {
    const v = sampleViews();
    const ids = Array.from({ length: 70 }, (_, i) => `29:u${i}`);
    const refresh = approvalCard(v.pending, { forApprover: true, refreshUserIds: [...ids, '29:u0'] }).refresh as Json;
    assert.deepEqual(refresh.action, { type: 'Action.Execute', verb: 'refresh', data: { verb: 'refresh', requestId: 'R4K7QX' } });
    assert.equal((refresh.userIds as string[]).length, MAX_REFRESH_USER_IDS);
    assert.deepEqual((approvalCard(v.pending, { forApprover: true }).refresh as Json).userIds, []);
    for (const k of ['denied', 'cancelled', 'timedOut', 'failed', 'expired', 'released'] as const) {
      const card = approvalCard(v[k], { forApprover: true, forRequester: true, refreshUserIds: ['29:bob'] });
      assert.equal(card.refresh, undefined, k);
      assert.deepEqual(actionsOf(card), [], k);
    }
  });

  it('should draw the reminder with extend/release and a Teams mention only when asked', () => {
    const reminder = sampleNotices().find((n) => n.kind === 'reminder')!;
    const plain = noticeCard(reminder);
    assert.equal(plain.msteams, undefined);
    assert.ok(!JSON.stringify(plain).includes('<at>'));
    const teams = noticeCard(reminder, { teamsMention: true });
    assert.deepEqual(teams.msteams, { entities: [{ type: 'mention', text: '<at>Alice</at>', mentioned: { id: '29:alice', name: 'Alice' } }] });
    assert.match(JSON.stringify(teams), /"<at>Alice<\/at>, your access to 22\/TCP on web-01 ends at 12:59 UTC/);
    assert.equal(JSON.stringify(teams).split('Alice').length - 1, 3, 'the name is tagged, not repeated');
    assert.deepEqual(actionsOf(teams).map((a) => a.data), [{ verb: 'extend', requestId: 'R4K7QX' }, { verb: 'release', requestId: 'R4K7QX' }]);
  });

  it('should mention every escalation person Teams knows, keep the requester mention, and name the rest in the text', () => {
    const notice = { ...sampleNotices().find((n) => n.kind === 'reminder')!, kind: 'escalated' as const, actions: [] };
    const card = noticeCard(notice, { teamsMention: true, teamsPeople: [{ name: 'Dave', userId: '29:dave' }, { name: 'Alice', userId: '29:alice' }] });
    assert.deepEqual(card.msteams, {
      entities: [
        { type: 'mention', text: '<at>Alice</at>', mentioned: { id: '29:alice', name: 'Alice' } },
        { type: 'mention', text: '<at>Dave</at>', mentioned: { id: '29:dave', name: 'Dave' } },
      ],
    });
    assert.match(JSON.stringify(card), /"<at>Dave<\/at> <at>Alice<\/at>, your access/);
  });

  it('should say on the approval card whom the request was escalated to', () => {
    const card = approvalCard(sampleViews().escalated, { forApprover: true });
    const texts = cardTexts(card).join('\n');
    assert.match(texts, /Escalated to Dave, Mallory 0 .* and 36 more at 12:00 UTC$/m);
    assert.ok(!cardTexts(approvalCard(sampleViews().pending, { forApprover: true })).join('\n').includes('Escalated'));
  });

  it('should render the error reply with its usage line and the help with every command', () => {
    const [, err, , help] = sampleReplies();
    const e = JSON.stringify(replyCard(err));
    assert.match(e, /did you mean web-01\?/);
    assert.match(e, /"Monospace"/);
    const h = cardTexts(replyCard(help)).join('\n');
    for (const u of ['/jit policy <vm>', '/jit ssh web-01 1h from 10.1.2.3 for INC-4711', '/jit vms', '/jit status', '/jit cancel <id>', '/jit audit [<vm>] [<n>d]']) assert.ok(h.includes(u), u);
  });

  it('should render the request form with the five inputs, the my-address choice and a submit-form Execute', () => {
    const card = formCard(sampleForm, { values: { ports: '22' }, errors: { source: 'Source 1.2.3.4 is outside 10.0.0.0/8' } });
    const body = card.body as Json[];
    const inputs = body.filter((b) => String(b.type).startsWith('Input.'));
    assert.deepEqual(inputs.map((i) => i.id), ['vm', 'ports', 'duration', 'source', 'fromMe', 'reason']);
    const ports = inputs[1];
    assert.equal(ports.isMultiSelect, true);
    assert.deepEqual(ports.choices, [
      { title: 'SSH 22/TCP (web-01)', value: '22' },
      { title: 'RDP 3389 (sql-01)', value: '3389' },
      { title: 'WinRM-HTTPS 5986/TCP (sql-01)', value: '5986' },
    ]);
    assert.equal(ports.value, '22');
    assert.equal(inputs[2].value, '1h');
    assert.match(JSON.stringify(card), /Source 1\.2\.3\.4 is outside 10\.0\.0\.0\/8/);
    assert.deepEqual(actionsOf(card).map((a) => [a.verb, a.data]), [['submit-form', { verb: 'submit-form' }]]);
  });

  it('should read the verb from verb or from data.verb, and the form inputs from data', () => {
    assert.equal(actionVerb({ verb: 'approve', data: {} }), 'approve');
    assert.equal(actionVerb({ data: { verb: 'deny', requestId: 'R1' } }), 'deny');
    assert.equal(actionVerb({ verb: 'def', data: {} }), null);
    assert.equal(actionVerb({ data: { feedback: 'x' } }), null);
    assert.equal(actionVerb(undefined), null);
    assert.deepEqual(formInputFrom({ verb: 'submit-form', vm: ' web-01 ', ports: '22,3389', duration: '1h', source: '', reason: 'x' }), {
      vm: 'web-01',
      ports: '22,3389',
      duration: '1h',
      reason: 'x',
    });
  });

  it('should be pure: the same view renders the same card twice', () => {
    const v = sampleViews().pending;
    assert.deepEqual(approvalCard(v, { forApprover: true }), approvalCard(v, { forApprover: true }));
    assert.deepEqual(formCard(sampleForm), formCard(sampleForm));
  });
});
