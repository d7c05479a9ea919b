// Text from outside that the store cannot hold, or that is far too long, gets a one-line answer that
// names the problem, and nothing is stored: a NUL in a command reached PostgreSQL (22P05) and the
// person was told "Something went wrong on our side". On both store engines.
import assert from 'node:assert/strict';
import { engines, person, startWorld, type TestWorld } from '../helpers/world';
import type { Reply } from '../../src/core/views';

function errorLine(reply: Reply): string {
  assert.equal(reply.kind, 'error', `expected an error reply, got ${JSON.stringify(reply).slice(0, 300)}`);
  const message = (reply as Extract<Reply, { kind: 'error' }>).message;
  assert.doesNotMatch(message, /\n/, 'one line');
  assert.doesNotMatch(message, /went wrong/i, 'not the internal-failure answer');
  return message;
}

for (const engine of engines()) {
  describe(`untrusted text in commands, reasons and names (${engine})`, function () {
    this.timeout(120_000);
    let world: TestWorld;

    beforeEach(async () => {
      world = await startWorld({ engine });
    });
    afterEach(async () => world.close());

    async function nothingStored(): Promise<void> {
      assert.deepEqual(await world.store.listRequests({}), [], 'no request was stored');
      assert.deepEqual(await world.store.listAudit({}), [], 'no audit event was written');
    }

    it('answers a NUL or another control character in a command or its reason by naming it, and stores nothing', async () => {
      const nul = errorLine(await world.app.command(person('alice'), 'ssh web-01 1h from 10.1.2.3 for INC\u00004711'));
      assert.match(nul, /control character \(U\+0000\)/);
      const escape = errorLine(await world.app.command(person('alice'), 'status\u001b[2J'));
      assert.match(escape, /control character \(U\+001B\)/);
      const c1 = errorLine(await world.app.command(person('alice'), 'ssh web-01 1h for \u0085x'));
      assert.match(c1, /U\+0085/);
      const surrogate = errorLine(await world.app.command(person('alice'), 'ssh web-01 1h for broken \ud800 text'));
      assert.match(surrogate, /broken character \(U\+D800\)/);
      await nothingStored();
      // Tabs and line breaks are spaces, as typed in a Teams message: the same request goes through.
      const fine = await world.app.command(person('alice'), 'ssh web-01 1h\tfrom 10.1.2.3\nfor INC-4711 😀');
      assert.equal(fine.kind, 'submitted', JSON.stringify(fine).slice(0, 300));
      assert.equal((await world.store.listRequests({})).length, 1);
    });

    it('answers a person whose name or email holds a control character, known or not, and records nothing about them', async () => {
      const named = errorLine(await world.app.command({ ...person('alice'), name: 'Ali\u0000ce' }, 'ssh web-01 1h from 10.1.2.3'));
      assert.match(named, /display name contains a control character \(U\+0000\)/);
      // An unknown person's refusal is audited with their name: that write must not be what fails.
      const stranger = errorLine(await world.app.command({ platform: 'slack', userId: 'U0EVE', email: 'eve@example.org', name: 'Eve\u0007' }, 'vms'));
      assert.match(stranger, /U\+0007/);
      const email = errorLine(await world.app.command({ platform: 'slack', userId: 'U0EVE', email: 'eve\u0000@example.org', name: 'Eve' }, 'vms'));
      assert.match(email, /email address contains a control character/);
      const click = await world.app.act({ ...person('bob'), name: 'B\u0000b' }, 'approve', 'R00000');
      assert.equal(click.ok, false);
      assert.match(click.message, /U\+0000/);
      const form = await world.app.submitForm({ ...person('alice'), name: '\u0000' }, { vm: 'web-01', ports: 'ssh', duration: '1h' });
      assert.equal(form.ok, false);
      await nothingStored();
    });

    it('answers a control character in a form field beside that field, and stores nothing', async () => {
      const result = await world.app.submitForm(person('alice'), { vm: 'web-01', ports: 'ssh', duration: '1h', source: '10.1.2.3', reason: 'INC\u00004711' });
      assert.equal(result.ok, false);
      assert.match(String((result as { errors: Record<string, string> }).errors.reason), /control character \(U\+0000\)/);
      await nothingStored();
    });

    it('caps commands and reasons before reading them, with the length in the answer', async () => {
      const long = errorLine(await world.app.command(person('alice'), `ssh web-01 1h for ${'x'.repeat(100_000)}`));
      assert.match(long, /^the command is 100,018 characters long; keep it to 2,000$/);
      const reason = errorLine(await world.app.command(person('alice'), `ssh web-01 1h from 10.1.2.3 for ${'why '.repeat(200)}`));
      assert.match(reason, /the reason is \d+ characters long; keep it to 500/);
      const form = await world.app.submitForm(person('alice'), { vm: 'web-01', ports: 'ssh', duration: '1h', source: '10.1.2.3', reason: 'x'.repeat(1_000_000) });
      assert.equal(form.ok, false);
      assert.match(String((form as { errors: Record<string, string> }).errors.reason), /1,000,000 characters long; keep it to 500/);
      await nothingStored();
    });
  });
}
