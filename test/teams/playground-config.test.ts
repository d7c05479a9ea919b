// The Agents Playground's config (.m365agentsplayground.yml) against the local world it stands for, and
// the `--as <name>` copy that makes someone else the current user. No Playground needed.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { PLAYGROUND_CONFIG, withCurrentUser } from '../../scripts/playground';
import { LOCAL_CONFIG } from '../helpers/paths';

interface User {
  id: string;
  name: string;
  email: string;
}
interface PlaygroundConfig {
  currentUser: User;
  users: User[];
  personalChat: { id: string };
  team: { channels: Array<{ name: string }> };
}

const text = readFileSync(PLAYGROUND_CONFIG, 'utf8');
const config = parse(text) as PlaygroundConfig;
const world = parse(readFileSync(LOCAL_CONFIG, 'utf8')) as { people: Array<{ email: string; name: string }> };

describe('Agents Playground config', () => {
  it('should hold every person of the local world under the name and email local mode knows, with Alice as the current user', () => {
    assert.equal(config.currentUser.email, 'alice@example.com');
    const everyone = [config.currentUser, ...config.users];
    for (const person of world.people) {
      const user = everyone.find((u) => u.email === person.email);
      assert.ok(user, `${person.email} is in the Playground`);
      assert.equal(user.name, person.name);
    }
    // The Playground's own schema wants exactly five users besides the current one.
    assert.equal(config.users.length, 5);
    assert.equal(new Set(everyone.map((u) => u.id)).size, everyone.length, 'user ids are unique');
    assert.deepEqual(config.team.channels.map((c) => c.name), ['JIT approvals']);
  });

  it('should make Bob the current user in the --as copy, with a personal chat of his own and Alice among the others', () => {
    const bob = parse(withCurrentUser(text, 'bob')) as PlaygroundConfig;
    assert.equal(bob.currentUser.email, 'bob@example.com');
    assert.ok(bob.users.some((u) => u.email === 'alice@example.com'));
    assert.ok(!bob.users.some((u) => u.email === 'bob@example.com'));
    assert.equal(bob.users.length, 5);
    assert.notEqual(bob.personalChat.id, config.personalChat.id);
    assert.deepEqual(parse(withCurrentUser(text, 'carol@example.com')).currentUser.name, 'Carol');
    assert.equal(withCurrentUser(text, 'Alice'), text, 'Alice is already current');
  });

  it('should refuse a name that is not among the Playground\'s people, naming those who are', () => {
    assert.throws(() => withCurrentUser(text, 'zed'), /^Error: no "zed" among the Playground's people \(Alice, Bob, Carol, Dave, Erin, Frank\)$/);
  });
});
