import assert from 'node:assert/strict';
import { requestView } from '../../src/core/views';
import { baseRequest, NOW } from '../teams/card-samples';

const at = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);

describe('the extension choices on a card', () => {
  // Open for an hour already, an hour left; the ports allow 3 hours from any moment.
  const open = () => baseRequest({ state: 'active', openedAt: at(-60), endsAt: at(60), maxOpenMinutes: 180 });

  it('offer what the port maximum still allows from now', () => {
    const view = requestView(open(), NOW);
    assert.equal(view.extendChoices.at(-1)?.minutes, 120);
    assert.equal(view.extendLimit, 'at most 2 hours more');
  });

  it("never offer more than the rule's maxTotal leaves for the whole grant", () => {
    const view = requestView({ ...open(), maxTotalMinutes: 150 }, NOW);
    assert.deepEqual(view.extendChoices.map((c) => c.minutes).at(-1), 30);
    assert.ok(view.extendChoices.every((c) => c.minutes <= 30), JSON.stringify(view.extendChoices));
    assert.equal(view.extendLimit, 'at most 30 minutes more');
  });

  it('offer nothing once maxTotal is reached', () => {
    const view = requestView({ ...open(), maxTotalMinutes: 120 }, NOW);
    assert.deepEqual(view.extendChoices, []);
    assert.match(view.extendLimit ?? '', /no more time/);
  });
});
