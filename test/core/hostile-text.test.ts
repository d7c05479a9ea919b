// Text an attacker shapes to make the parsers backtrack: 150,000 `<` in a Teams message held the event
// loop for 14 s. Each case here is several times that size, with a deadline of its own that linear
// work meets easily and the old quadratic patterns could not (minutes at this size).
import { strict as assert } from 'node:assert';
import { cleanCommandText, MAX_COMMAND_LENGTH, parseCommand } from '../../src/core/grammar';
import { controlCharacter } from '../../src/core/text';
import { plainText } from '../../src/teams/text';
import { routeConsoleToLogger } from '../../src/main';
import type { Logger } from '../../src/app/logger';

const HUGE = 600_000;

describe('hostile text', function () {
  this.timeout(5000);

  it('strips Teams tags from 600,000 "<" and from unclosed tags in one pass', () => {
    // (assert.ok, not equal: a failing equal would diff two 600,000-character strings.)
    assert.ok(plainText({ text: '<'.repeat(HUGE) }) === '<'.repeat(HUGE), 'a < that opens no tag is text');
    assert.ok(plainText({ text: `${'<a'.repeat(HUGE / 2)}>x` }) === `${'<a'.repeat(HUGE / 2 - 1)} x`, 'only the last <a> is a tag');
    assert.equal(plainText({ text: '<at>jitbot</at> jit <b>help</b>' }), 'jitbot jit help');
  });

  it('reads mentions linearly however many there are, at the start, in the middle or at the end', () => {
    assert.ok(cleanCommandText(`status ${'<at'.repeat(HUGE / 3)}`) === `status ${'<at'.repeat(HUGE / 3)}`, 'unclosed mention tags stay text');
    assert.equal(cleanCommandText(`${'<at>jitbot</at> '.repeat(40_000)}status`), 'status');
    assert.equal(cleanCommandText(`status${'<at>jitbot</at>'.repeat(40_000)}`), 'status');
    assert.ok(cleanCommandText(`ssh web-01 1h for ask <at>Bob</at> ${'<at>x</at>'.repeat(50_000)} today`).startsWith('ssh web-01 1h for ask @Bob @x@x'));
    // The bot's own mention at the end (as Teams sends it) is dropped; someone named in a reason stays.
    assert.equal(cleanCommandText('jit ssh web-01 1h for ask <at>Bob</at> <at>jitbot</at>'), 'ssh web-01 1h for ask');
    assert.equal(cleanCommandText('<at>jitbot</at> ssh web-01 1h for ask <at>Bob</at>'), 'ssh web-01 1h for ask @Bob');
  });

  it('answers a command longer than the cap without reading it', () => {
    const r = parseCommand(`ssh web-01 1h for ${'<at'.repeat(HUGE)}`);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.error.message, new RegExp(`keep it to ${MAX_COMMAND_LENGTH.toLocaleString('en-US')}$`));
  });

  it('names control characters and unpaired surrogates, and lets tabs, line breaks and emoji through', () => {
    assert.equal(controlCharacter('a\u0000b'), 'U+0000');
    assert.equal(controlCharacter('a\u007fb'), 'U+007F');
    assert.equal(controlCharacter('x\udc00'), 'U+DC00');
    assert.equal(controlCharacter('x\ud83d'), 'U+D83D');
    assert.equal(controlCharacter('tab\tline\nfeed\r 😀 ü'), null);
    assert.equal(controlCharacter('x'.repeat(HUGE)), null);
  });

  it('turns console output (botbuilder dumps errors there) into one log record each', () => {
    const records: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> = [];
    const logger: Logger = {
      debug: (obj, msg) => records.push({ level: 'debug', obj: obj as Record<string, unknown>, msg }),
      info: (obj, msg) => records.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
      warn: (obj, msg) => records.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
      error: (obj, msg) => records.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
      child: () => logger,
    };
    const saved = { error: console.error, warn: console.warn, info: console.info, log: console.log, debug: console.debug };
    try {
      routeConsoleToLogger(logger);
      console.error(Object.assign(new Error('invalid signature'), { name: 'JsonWebTokenError' }));
      console.warn('BadRequest: Missing activity or activity type.');
      console.error('Error finding key for token. Available keys: %s', 'a,b');
    } finally {
      Object.assign(console, saved);
    }
    assert.deepEqual(
      records.map((r) => [r.level, r.msg]),
      [
        ['error', 'invalid signature'],
        ['warn', 'BadRequest: Missing activity or activity type.'],
        ['error', 'Error finding key for token. Available keys: a,b'],
      ],
    );
    assert.equal((records[0].obj.err as { type: string }).type, 'JsonWebTokenError');
  });
});
