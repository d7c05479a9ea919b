import assert from 'node:assert/strict';
import { ManualClock } from '../../src/app/clock';
import type { DirectoryGroupRef } from '../../src/app/ports';
import { DirectoryError } from '../../src/core/errors';
import { createSlackIdentity } from '../../src/slack/identity';
import { createSlackGroups } from '../../src/slack/usergroups';
import { createSlackCaller } from '../../src/slack/web';
import { FakeSlackApi } from '../fakes/slack-api';
import { BOT_TOKEN, RecordingLogger } from './support';
import { createBoltLogger } from '../../src/slack/log';

const dbas: DirectoryGroupRef = { name: 'dbas', kind: 'slack', id: 'dbas' };
const MINUTE = 60_000;

describe('Slack user groups as a directory', () => {
  let fake: FakeSlackApi;
  let clock: ManualClock;

  function groups() {
    const slack = createSlackCaller(BOT_TOKEN, { apiUrl: fake.apiUrl, logger: createBoltLogger(new RecordingLogger()), timeoutMs: 2_000 });
    return createSlackGroups({ slack, identity: createSlackIdentity({ slack, clock }), clock, maxAgeMs: 5 * MINUTE });
  }

  beforeEach(async () => {
    fake = await FakeSlackApi.start();
    clock = new ManualClock();
  });
  afterEach(() => fake.close());

  it('finds a member of a 1,000-person user group by their email, with one member list call', async () => {
    const ids = Array.from({ length: 999 }, (_, i) => {
      const id = `U1${String(i).padStart(6, '0')}`;
      fake.addUser({ id, name: `eng${i}`, realName: `Engineer ${i}`, email: `eng${i}@example.com` });
      return id;
    });
    fake.addUsergroup({ id: 'S0DBAS', handle: 'dbas', name: 'DBAs', users: [...ids, 'U0DAVE'] });
    const d = groups();
    assert.deepEqual((await d.membership('dave@example.com', [dbas])).groupIds, ['dbas']);
    assert.deepEqual((await d.membership('eng998@example.com', [dbas])).groupIds, ['dbas']);
    assert.deepEqual((await d.membership('alice@example.com', [dbas])).groupIds, []);
    assert.equal(fake.callsTo('usergroups.users.list').length, 1, 'the list is reused while fresh');
    assert.equal(fake.callsTo('usergroups.users.list')[0].args.usergroup, 'S0DBAS', 'the handle is resolved to the group id');
    const members = await d.members(dbas);
    assert.equal(members.length, 1000);
  });

  it('reads the member list again once it is older than its maximum age, so a removal shows', async () => {
    const g = fake.addUsergroup({ id: 'S0DBAS', handle: 'dbas', name: 'DBAs', users: ['U0DAVE'] });
    const d = groups();
    assert.deepEqual((await d.membership('dave@example.com', [dbas])).groupIds, ['dbas']);
    g.users = [];
    clock.advance(5 * MINUTE);
    const after = await d.membership('dave@example.com', [dbas]);
    assert.deepEqual(after.groupIds, []);
    assert.equal(after.asOf.getTime(), clock.now().getTime(), 'the answer says how old its data is');
  });

  it('treats a disabled user group as missing: it grants nothing, and the error names the group', async () => {
    fake.addUsergroup({ id: 'S0DBAS', handle: 'dbas', name: 'DBAs', users: ['U0DAVE'], disabled: true });
    await assert.rejects(groups().membership('dave@example.com', [dbas]), /Slack has no user group @dbas \(group:dbas\)/);
    await assert.rejects(groups().membership('dave@example.com', [{ ...dbas, id: 'S0DBAS' }]), /Slack has no user group S0DBAS \(group:dbas\)/);
  });

  it('says which scope to add when the app lacks usergroups:read (missing_scope)', async () => {
    fake.addUsergroup({ id: 'S0DBAS', handle: 'dbas', name: 'DBAs', users: ['U0DAVE'] });
    fake.scopes.delete('usergroups:read');
    await assert.rejects(groups().membership('dave@example.com', [dbas]), (err: unknown) => {
      assert.ok(err instanceof DirectoryError);
      assert.equal(err.kind, 'consent');
      assert.match(err.message, /usergroups\.list \(missing_scope\): add the usergroups:read scope to the Slack app and reinstall it/);
      return true;
    });
  });

  it('says user groups need a paid plan on a free workspace (plan_upgrade_required)', async () => {
    fake.freePlan = true;
    await assert.rejects(groups().membership('dave@example.com', [dbas]), /need a paid Slack plan \(plan_upgrade_required\)/);
  });

  it('counts an outage as no answer, not as no membership', async () => {
    fake.addUsergroup({ id: 'S0DBAS', handle: 'dbas', name: 'DBAs', users: ['U0DAVE'] });
    fake.serverErrorNext('usergroups.list', 5);
    await assert.rejects(groups().membership('dave@example.com', [dbas]), (err: unknown) => err instanceof DirectoryError && err.kind === 'unavailable');
  });
});
