import assert from 'node:assert/strict';
import { isGlob, matchGlob } from '../../src/core/glob';
import { closestMatch, editDistance, quoteWord } from '../../src/core/text';

describe('matchGlob', () => {
  const table: Array<[string, string, boolean]> = [
    ['web-*', 'web-01', true],
    ['web-*', 'WEB-02', true],
    ['WEB-*', 'web-02', true],
    ['web-*', 'web-', true],
    ['web-*', 'web', false],
    ['web-*', 'sql-01', false],
    ['*', 'anything', true],
    ['*', '', true],
    ['web-01', 'web-01', true],
    ['web-01', 'web-011', false],
    ['*-01', 'sql-01', true],
    ['w*b*1', 'web-01', true],
    ['a*a', 'a', false],
    ['a*a', 'aa', true],
    ['web.*', 'webx01', false],
    ['(a)*', '(a)b', true],
  ];
  for (const [pattern, name, expected] of table) {
    it(`${expected ? 'matches' : 'does not match'} ${JSON.stringify(name)} with ${JSON.stringify(pattern)}`, () => {
      assert.equal(matchGlob(pattern, name), expected);
    });
  }

  it('knows a glob by its star', () => {
    assert.equal(isGlob('web-*'), true);
    assert.equal(isGlob('web-01'), false);
  });
});

describe('the wording helpers', () => {
  it('counts edits without regard to case', () => {
    assert.equal(editDistance('web-1', 'WEB-01'), 1);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
  });

  it('suggests only near names', () => {
    assert.equal(closestMatch('web-1', ['web-01', 'sql-01']), 'web-01');
    assert.equal(closestMatch('stauts', ['status', 'vms']), 'status');
    assert.equal(closestMatch('db', ['web', 'sql']), null);
    assert.equal(closestMatch('web-01', ['web-01']), null);
  });

  it('quotes a word on one line and cuts it short', () => {
    assert.equal(quoteWord('a\nb'), '"a b"');
    assert.equal(quoteWord('x'.repeat(100)).length, 42);
  });
});
