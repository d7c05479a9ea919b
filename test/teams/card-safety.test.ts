// What people read on the cards when others type hostile or huge input: shown as typed, never a link
// or markup, and always inside Teams' message size.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { approvalCard, cardBytes, noticeCard, replyCard, TEAMS_CARD_BUDGET_BYTES } from '../../src/cards/render';
import { escapeCardMarkdown } from '../../src/cards/markdown';
import { cardHtml, cardLinks, cardTexts, drawMarkdown } from './card-text';
import { everySampleCard, HOSTILE_REASON, LONG_REASON, sampleNotices, sampleReplies, sampleViews } from './card-samples';

/** DESIGN §8: Teams refuses ~100 KB counted as UTF-16; the bot keeps under 80 KB. */
const TEAMS_BUDGET_BYTES = 80 * 1024;

describe('card text is shown, never interpreted', () => {
  it('shows a hostile reason literally on the approver card, with no link and no tag', () => {
    const card = approvalCard(sampleViews().hostile, { forApprover: true });
    const texts = cardTexts(card);
    assert.ok(texts.includes(`Reason: ${HOSTILE_REASON}`), texts.find((t) => t.startsWith('Reason')));
    assert.ok(texts.some((t) => t.startsWith('Mallory **<b>boss</b>** asks for')), 'the requester name shows as typed');
    assert.deepEqual(cardLinks(card), []);
  });

  it('never draws a link, image or HTML from anything on any card the bot sends', () => {
    for (const [name, card] of everySampleCard()) {
      assert.deepEqual(cardLinks(card), [], name);
      for (const html of cardHtml(card)) assert.doesNotMatch(html, /<(img|a|h\d|li|ul|ol|em|strong|code|blockquote|script)\b/, `${name}: ${html}`);
    }
  });

  it('gives the audit download as a button to the bot\'s own address, never as a link in text', () => {
    const audit = sampleReplies().find((r) => r.kind === 'audit' && r.link)!;
    const card = replyCard(audit);
    const sets = (card.body as Array<{ type: string; actions?: Array<{ type: string; url: string; title: string }> }>).filter((b) => b.type === 'ActionSet');
    assert.deepEqual(sets.flatMap((b) => b.actions ?? []), [{ type: 'Action.OpenUrl', title: 'Download the CSV', url: 'https://jitbot.example/audit?t=a-_b' }]);
    assert.deepEqual(cardLinks(card), []);
  });

  it('shows the help grammar with its <placeholders>, which Teams would otherwise swallow as tags', () => {
    const help = sampleReplies().find((r) => r.kind === 'help');
    const texts = cardTexts(replyCard(help!));
    assert.ok(texts.includes('/jit <ports> <vms> <duration> [from <source>|me] [for <reason…>]'), texts.join('\n'));
    assert.ok(texts.includes('/jit cancel <id>'));
  });

  it('escapes a hostile name inside the Teams mention tag, in the card and its mention entity alike', () => {
    const evil = { name: '[Approve](https://evil.example)', email: 'm@example.com', platform: 'teams' as const, userId: '29:m' };
    const card = noticeCard({ kind: 'reminder', requestId: 'R1', text: `${evil.name}, your access ends soon.`, mention: evil }, { teamsMention: true });
    assert.deepEqual(cardLinks(card), []);
    const entity = (card.msteams as { entities: Array<{ text: string; mentioned: { name: string } }> }).entities[0];
    assert.ok(((card.body as Array<{ text: string }>)[1]).text.startsWith(entity.text), 'Teams finds the tag it was told about');
    assert.equal(entity.mentioned.name, evil.name);
  });

  it('keeps the Teams mention tag of a notice and escapes the rest of its text', () => {
    const denied = sampleNotices().find((n) => n.kind === 'denied' && n.text.includes('evil'))!;
    const card = noticeCard(denied, { teamsMention: true });
    const text = ((card.body as Array<{ text: string }>)[1]).text;
    assert.ok(text.startsWith('<at>Alice</at> Denied by Bob: '), text);
    assert.ok(!text.includes('[Approve here]('), 'the masked link is escaped');
  });

  it('escapes each markdown trigger so markdown-it gives back the same characters', () => {
    const samples = ['a*b*c', '_x_', '[t](https://e.example)', '<b>', '&amp;', '# h', '- i', '1. n', '> q', '`c`', '~~s~~', 'a\\b', '10.1.2.3', '| t |'];
    for (const s of samples) assert.equal(drawMarkdown(escapeCardMarkdown(s)).text, s, s);
  });
});

describe('cards stay inside Teams limits whatever the input', () => {
  it('keeps every card under 80 KB as UTF-16, with 200 VMs and 2,000-character reasons', () => {
    for (const [name, card] of everySampleCard()) {
      const bytes = JSON.stringify(card).length * 2;
      assert.ok(bytes < TEAMS_BUDGET_BYTES, `${name}: ${bytes} bytes`);
    }
  });

  it('summarises 200 VMs as their glob with a count, and clips the reason on the card', () => {
    const texts = cardTexts(approvalCard(sampleViews().huge, { forApprover: true }));
    const vms = texts.find((t) => t.startsWith('VMs: '))!;
    assert.match(vms, /^VMs: web-\* \(200 VMs\): web-001, web-002, .*…and 1\d\d more$/);
    const reason = texts.find((t) => t.startsWith('Reason: '))!;
    assert.ok(reason.length < LONG_REASON.length && reason.endsWith('…'), 'the card shows the start of the reason');
    assert.ok(LONG_REASON.startsWith(reason.slice('Reason: '.length, -1)));
  });

  it('lists ten requests per status section and counts the rest', () => {
    const status = sampleReplies().find((r) => r.kind === 'status' && r.mine.length === 60)!;
    const texts = cardTexts(replyCard(status));
    assert.equal(texts.filter((t) => t === '…and 50 more').length, 2);
  });

  it('tells which page of VMs this is and how to get the next', () => {
    const paged = sampleReplies().find((r) => r.kind === 'vms' && r.page)!;
    assert.ok(cardTexts(replyCard(paged)).includes('Showing 21–23 of 170 VMs matching "web-". Next: /jit vms web- page 3'));
  });

  it('keeps any approval card and notice under budget and free of links, whatever was typed', () => {
    const base = sampleViews().pending;
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 600 }),
        fc.string({ unit: 'grapheme', maxLength: 2_000 }),
        fc.array(fc.stringMatching(/^[a-z][a-z0-9-]{0,62}$/), { minLength: 1, maxLength: 400 }),
        (name, reason, vms) => {
          const view = { ...base, requester: { ...base.requester, name }, reason, vms, approvedBy: [name] };
          for (const card of [
            approvalCard(view, { forApprover: true }),
            noticeCard({ kind: 'denied', requestId: view.id, text: `Denied by ${name}: ${reason}`, mention: view.requester }, { teamsMention: true }),
            replyCard({ kind: 'status', mine: Array(30).fill(view), awaiting: Array(30).fill(view) }),
          ]) {
            assert.ok(cardBytes(card) < TEAMS_CARD_BUDGET_BYTES);
            assert.deepEqual(cardLinks(card), []);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
