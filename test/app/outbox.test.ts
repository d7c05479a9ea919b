// What each transition sends, and where: a platform that had no place for a request's card gets no
// redraws and no thread replies for it, while the platforms that show the card get every one.
import assert from 'node:assert/strict';
import type { MessageRef } from '../../src/app/ports';
import type { Route } from '../../src/core/types';
import type { TestStore } from '../../src/store';
import type { RequestView, Reply } from '../../src/core/views';
import { RecordingChat } from '../fakes/recording-chat';
import { engines, MINUTE, person, startWorld, type TestWorld } from '../helpers/world';

/** A platform with no channel for approval cards: posting one finds no place for it. */
class NowhereChat extends RecordingChat {
  override async postCard(_route: Route, _view: RequestView): Promise<MessageRef | null> {
    return null;
  }
}

function submittedId(reply: Reply): string {
  assert.equal(reply.kind, 'submitted', JSON.stringify(reply));
  return (reply as Extract<Reply, { kind: 'submitted' }>).request.id;
}

for (const engine of engines()) {
  describe(`where a transition's messages go (${engine})`, function () {
    let world: TestWorld;
    let shown: RecordingChat;
    let nowhere: NowhereChat;

    beforeEach(async () => {
      world = await startWorld({ engine });
      shown = new RecordingChat('console');
      nowhere = new NowhereChat('teams');
      world.addChat(shown);
      world.addChat(nowhere);
    });
    afterEach(async () => world.close());

    it('a platform that had no place for the card gets no redraws or replies; the one showing it gets all of them', async () => {
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for INC-1'));
      await world.settle();
      const approved = await world.app.act(person('bob'), 'approve', id);
      assert.equal(approved.ok, true, approved.message);
      await world.settle();
      await world.advance(61 * MINUTE);
      assert.equal((await world.store.getRequest(id))!.state, 'expired');

      const jobs = await (world.store as TestStore).db.query<{ kind: string; platforms: string[] }>(
        `SELECT kind, coalesce(payload->'platforms', jsonb_build_array(payload->>'platform')) AS platforms FROM jobs WHERE request_id = $1 AND kind IN ('update-card', 'thread') ORDER BY id`,
        [id],
      );
      assert.ok(jobs.some((j) => j.kind === 'update-card') && jobs.some((j) => j.kind === 'thread'));
      assert.deepEqual(jobs.filter((j) => j.platforms.includes('teams')), [], 'nothing scheduled for the platform without a card');
      assert.ok(shown.recorded.thread.some((t) => t.notice.requestId === id && t.notice.kind === 'expired'), 'the card\'s thread hears of the expiry');
      assert.ok(shown.recorded.updates.some((u) => u.view.id === id && u.view.state === 'expired'), 'the card is redrawn');
      assert.deepEqual(nowhere.recorded.thread, []);
      assert.deepEqual(nowhere.recorded.updates, []);
    });

    it('a card that one platform refused for a moment is posted again there only, and drawn as the request is by then', async () => {
      const flaky = new RecordingChat('slack');
      world.addChat(flaky);
      flaky.failNext = 1;
      const id = submittedId(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for INC-2'));
      await world.settle();
      assert.equal(shown.recorded.cards.length, 1, 'the platform that took it at once has its card');
      assert.equal(flaky.recorded.cards.length, 0);

      await world.app.act(person('bob'), 'approve', id);
      await world.settle();
      for (let i = 0; i < 10 && flaky.recorded.cards.length === 0; i++) await world.advance(MINUTE);
      assert.equal(flaky.recorded.cards.length, 1, 'posted on the retry');
      assert.equal(shown.recorded.cards.length, 1, 'and not a second time where it was already');
      assert.equal(flaky.lastView(id)!.state, 'active', 'the retried card shows the request as it is now');
      // Its thread replies waited for the card; they follow on their next try.
      await world.advance(MINUTE);
      assert.ok(flaky.threadOf(id).some((t) => t.startsWith('Open until')), 'its thread follows');
    });
  });
}
