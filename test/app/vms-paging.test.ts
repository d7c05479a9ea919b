// `/jit vms` with hundreds of VMs: filtered by name and paged, so every VM can be seen, and the form's
// search finds any of them.
import assert from 'node:assert/strict';
import type { Reply } from '../../src/core/views';
import { bigWorldConfig, person, startWorld, type TestWorld } from '../helpers/world';

function vmsOf(reply: Reply): Extract<Reply, { kind: 'vms' }> {
  assert.equal(reply.kind, 'vms', JSON.stringify(reply).slice(0, 200));
  return reply as Extract<Reply, { kind: 'vms' }>;
}

describe('/jit vms over hundreds of VMs', function () {
  this.timeout(90_000);
  let world: TestWorld;

  before(async () => {
    world = await startWorld({ config: bigWorldConfig(200) });
  });
  after(async () => {
    await world.close();
  });

  it('shows one page of 20 and says how to see the next', async () => {
    const first = vmsOf(await world.app.command(person('alice'), 'vms'));
    assert.equal(first.vms.length, 20);
    assert.ok(first.page && first.page.total > 200 && first.page.page === 1);
    assert.equal(first.page.pages, Math.ceil(first.page.total / 20));
  });

  it('filters by part of a name and pages through the matches to the last VM', async () => {
    const page1 = vmsOf(await world.app.command(person('alice'), 'vms web-2'));
    assert.equal(page1.page?.total, 100, 'web-200 … web-299');
    assert.ok(page1.vms.every((vm) => vm.name.includes('web-2')));
    const last = vmsOf(await world.app.command(person('alice'), 'vms web-2 page 5'));
    assert.equal(last.page?.page, 5);
    assert.equal(last.vms.at(-1)?.name, 'web-299');
    const glob = vmsOf(await world.app.command(person('alice'), 'vms WEB-3*'));
    assert.equal(glob.page?.total, 1, 'web-300, by a glob that ignores case');
  });

  it('says so plainly when nothing matches, and clamps a page past the end', async () => {
    const none = await world.app.command(person('alice'), 'vms db-');
    assert.equal(none.kind, 'text');
    assert.match((none as { text: string }).text, /None of the \d+ VMs you may request matches "db-"/);
    const past = vmsOf(await world.app.command(person('alice'), 'vms web-1 page 99'));
    assert.equal(past.page?.page, past.page?.pages);
  });

  it('finds any VM for the form as the person types, at most the number asked for', async () => {
    const all = await world.app.vmChoices(person('alice'), '', 100);
    assert.equal(all.names.length, 100);
    assert.ok(all.total > 200);
    assert.deepEqual((await world.app.vmChoices(person('alice'), 'web-300')).names, ['web-300']);
    assert.deepEqual(await world.app.vmChoices({ ...person('alice'), email: 'nobody@example.com' }, ''), { names: [], total: 0 });
  });
});
