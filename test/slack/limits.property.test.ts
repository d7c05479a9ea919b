// Whatever people type, every Slack message the bot renders is one Slack accepts: checked against the
// same limits the fake Web API enforces (test/fakes/slack-limits.ts), for arbitrary names, reasons,
// VM lists and notice texts.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Notice, RequestView } from '../../src/core/views';
import { renderCard, renderHome, renderNotice, renderReply } from '../../src/slack/render';
import { blockProblems, MESSAGE_TEXT_MAX, viewProblems } from '../fakes/slack-limits';
import { SAMPLE_VIEW } from './support';

const text = (max: number) => fc.string({ unit: 'grapheme', maxLength: max });
const vmName = fc.stringMatching(/^[a-z][a-z0-9-]{0,62}$/);

const views: fc.Arbitrary<RequestView> = fc
  .record({
    name: text(600),
    reason: text(2_000),
    vms: fc.array(vmName, { minLength: 1, maxLength: 400 }),
    decision: fc.option(text(2_500), { nil: null }),
    failure: fc.option(text(2_500), { nil: null }),
  })
  .map(({ name, reason, vms, decision, failure }) => ({ ...SAMPLE_VIEW, requester: { ...SAMPLE_VIEW.requester, name }, reason, vms, decision, failure, approvedBy: [name, name] }));

function assertFits(m: { text: string; blocks: unknown[] }): void {
  assert.ok(m.text.length <= MESSAGE_TEXT_MAX);
  assert.deepEqual(blockProblems(m.blocks), []);
}

describe('Slack messages fit Slack whatever the input', () => {
  it('approval cards, status and home lists fit for any names, reasons and up to 400 VMs', () => {
    fc.assert(
      fc.property(views, (view) => {
        assertFits(renderCard(view));
        assertFits(renderReply({ kind: 'status', mine: Array(30).fill(view), awaiting: Array(30).fill(view) }));
        assertFits(renderReply({ kind: 'submitted', text: view.reason, request: view }));
        assert.deepEqual(viewProblems(renderHome({ grants: Array(40).fill(view), pending: Array(40).fill(view), awaiting: Array(40).fill(view) })), []);
      }),
      { numRuns: 60 },
    );
  });

  it('notices fit for any text, even past 3,000 characters, and keep their start', () => {
    fc.assert(
      fc.property(text(8_000), text(300), (body, name) => {
        const notice: Notice = { kind: 'opened', requestId: 'R4K7QX', text: `Open until 13:00 UTC: ${body}`, mention: { ...SAMPLE_VIEW.requester, name } };
        const m = renderNotice(notice);
        assertFits(m);
        assert.match(m.text, /Open until 13:00 UTC/);
      }),
      { numRuns: 80 },
    );
  });
});
