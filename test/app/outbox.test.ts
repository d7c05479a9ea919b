// What each transition sends, and where: a platform that had no place for a request's card gets no
// redraws and no thread replies for it, while the platforms that show the card get every one.
import assert from 'node:assert/strict';
import type { MessageRef } from '../../src/app/ports';
import { ChatError } from '../../src/core/errors';
import type { Actor, Route } from '../../src/core/types';
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

/** Refuses the requester's copy for a moment, and nothing else. */
class CopyRefusingChat extends RecordingChat {
  refuseCopies = 0;
  override async postCopy(person: Actor, view: RequestView): Promise<MessageRef | null> {
    if (this.refuseCopies > 0) {
      this.refuseCopies--;
      throw new ChatError('direct messages unavailable (test)', { retryable: true, retryAfterMs: 10 });
    }
    return super.postCopy(person, view);
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

    it("a command's card and the requester's copy go out in one job; a retry posts again only what failed", async () => {
      const slack = new CopyRefusingChat('slack');
      world.addChat(slack);
      const jobKinds = async (id: string) =>
        (await (world.store as TestStore).db.query<{ kind: string }>(`SELECT kind FROM jobs WHERE request_id = $1 AND kind IN ('post-card', 'post-copy')`, [id])).map((j) => j.kind);

      // The card is refused for a moment; the copy goes out at once and is not sent again.
      slack.failNext = 1;
      const first = submittedId(await world.app.command(person('alice', 'slack'), 'ssh web-01 1h from 10.1.2.3 for INC-3'));
      await world.settle();
      assert.deepEqual(await jobKinds(first), ['post-card'], 'one job for the cards and the copy');
      assert.equal(slack.recorded.copies.filter((c) => c.view.id === first).length, 1, 'the copy went out');
      assert.equal(slack.recorded.cards.filter((c) => c.view.id === first).length, 0, 'the card did not');
      for (let i = 0; i < 10 && !slack.recorded.cards.some((c) => c.view.id === first); i++) await world.advance(MINUTE);
      assert.equal(slack.recorded.cards.filter((c) => c.view.id === first).length, 1, 'the card, on the retry');
      assert.equal(slack.recorded.copies.filter((c) => c.view.id === first).length, 1, 'and the copy still once');

      // The copy is refused for a moment; the cards go out at once and are not posted again.
      slack.refuseCopies = 1;
      const second = submittedId(await world.app.command(person('alice', 'slack'), 'ssh web-01 1h from 10.1.2.3 for INC-4'));
      await world.settle();
      assert.equal(slack.recorded.cards.filter((c) => c.view.id === second).length, 1);
      assert.equal(shown.recorded.cards.filter((c) => c.view.id === second).length, 1);
      for (let i = 0; i < 10 && !slack.recorded.copies.some((c) => c.view.id === second); i++) await world.advance(MINUTE);
      assert.equal(slack.recorded.copies.filter((c) => c.view.id === second).length, 1, 'the copy, on the retry');
      assert.equal(slack.recorded.cards.filter((c) => c.view.id === second).length, 1, 'each card still once');
      assert.equal(shown.recorded.cards.filter((c) => c.view.id === second).length, 1);
      assert.deepEqual(shown.recorded.copies.filter((c) => c.view.id === second), [], "the copy only on the requester's platform");
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
