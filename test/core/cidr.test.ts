import assert from 'node:assert/strict';
import {
  describeAddressTotal,
  describeSourceProblem,
  isSetWiderThan,
  sameSources,
  sourcesOf,
  isAnySource,
  normalizeSource,
  parsePrefix,
  prefixContains,
  sourceAllowed,
} from '../../src/core/cidr';

describe('normalizeSource', () => {
  const table: Array<[string, string | null]> = [
    ['*', '*'],
    [' 203.0.113.7 ', '203.0.113.7'],
    ['203.0.113.7/32', '203.0.113.7'],
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['255.255.255.255', '255.255.255.255'],
    ['10.1.2.3/8', null],
    ['256.1.1.1', null],
    ['1.2.3', null],
    ['1.2.3.4.5', null],
    ['01.2.3.4', null],
    ['1.2.3.4/', null],
    ['1.2.3.4/33', null],
    ['1.2.3.4/08', null],
    ['1.2.3.4/-1', null],
    ['1.2.3.4/8/8', null],
    ['', null],
    ['localhost', null],
    ['::', '::'],
    ['::/0', '::/0'],
    ['::1', '::1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['2001:db8::1/128', '2001:db8::1'],
    ['fe80::1:2:3:4', 'fe80::1:2:3:4'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['1::', '1::'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['::FFFF:0a01:0203', '10.1.2.3'],
    ['::ffff:10.0.0.0/104', '10.0.0.0/8'],
    ['::10.1.2.3', '::a01:203'],
    ['2001:db8::1/32', null],
    ['2001:db8:::1', null],
    ['2001::db8::1', null],
    ['1:2:3:4:5:6:7:8:9', null],
    ['1:2:3:4:5:6:7', null],
    ['12345::1', null],
    ['g::1', null],
    ['fe80::1%eth0', null],
    ['::ffff:300.1.2.3', null],
    ['2001:db8::/129', null],
    [':1::2', null],
  ];
  for (const [text, expected] of table) {
    it(`${expected === null ? 'refuses' : 'normalises'} ${JSON.stringify(text)}${expected === null ? '' : ` to ${expected}`}`, () => {
      assert.equal(normalizeSource(text), expected);
    });
  }
});

describe('describeSourceProblem', () => {
  it('says nothing about good sources', () => {
    for (const s of ['*', '10.0.0.1', '10.0.0.0/8', '2001:db8::/32']) assert.equal(describeSourceProblem(s), null);
  });

  it('names both meanings of a CIDR with host bits set', () => {
    assert.equal(
      describeSourceProblem('10.1.2.3/8'),
      '"10.1.2.3/8" has host bits set; use 10.0.0.0/8 for the network or 10.1.2.3 for the one address',
    );
    assert.equal(
      describeSourceProblem('2001:db8::1/64'),
      '"2001:db8::1/64" has host bits set; use 2001:db8::/64 for the network or 2001:db8::1 for the one address',
    );
  });

  it('gives the prefix-length limits of the right family', () => {
    assert.equal(describeSourceProblem('10.0.0.0/40'), '"10.0.0.0/40" has a bad prefix length; an IPv4 prefix length is 0 to 32');
    assert.equal(describeSourceProblem('::/200'), '"::/200" has a bad prefix length; an IPv6 prefix length is 0 to 128');
  });

  it('shows the accepted forms for text that is no address at all', () => {
    assert.equal(describeSourceProblem('home'), '"home" is not an IP address or CIDR; use 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32');
  });
});

describe('parsePrefix', () => {
  it('gives the family, the number and the length', () => {
    assert.deepEqual(parsePrefix('10.0.0.0/8'), { family: 4, address: 0x0a000000n, length: 8 });
    assert.deepEqual(parsePrefix('::1'), { family: 6, address: 1n, length: 128 });
  });
});

describe('prefixContains', () => {
  const table: Array<[string, string, boolean]> = [
    ['*', '203.0.113.7', true],
    ['*', '2001:db8::1', true],
    ['*', '*', true],
    ['*', 'not an address', false],
    ['10.0.0.0/8', '*', false],
    ['10.0.0.0/8', '10.1.2.3', true],
    ['10.0.0.0/8', '10.255.255.255', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['10.0.0.0/8', '9.255.255.255', false],
    ['10.0.0.0/8', '10.1.0.0/16', true],
    ['10.0.0.0/8', '10.0.0.0/8', true],
    ['10.0.0.0/8', '10.0.0.0/7', false],
    ['10.0.0.0/8', '0.0.0.0/0', false],
    ['0.0.0.0/0', '203.0.113.7', true],
    ['0.0.0.0/0', '::1', false],
    ['203.0.113.7', '203.0.113.7', true],
    ['203.0.113.7', '203.0.113.7/32', true],
    ['203.0.113.7', '203.0.113.8', false],
    ['10.1.2.3/8', '10.9.9.9', true],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/32', '2001:0db8:0:0::1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['2001:db8::/32', '2001:db8::/31', false],
    ['::/0', '2001:db8::1', true],
    ['::/0', '10.0.0.1', false],
    ['10.0.0.0/8', '::ffff:10.1.2.3', true],
    ['::ffff:0:0/96', '10.1.2.3', true],
    ['garbage', '10.0.0.1', false],
    ['10.0.0.0/8', 'garbage', false],
  ];
  for (const [outer, inner, expected] of table) {
    it(`${expected ? 'finds' : 'does not find'} ${inner} inside ${outer}`, () => {
      assert.equal(prefixContains(outer, inner), expected);
    });
  }
});

describe('sourceAllowed', () => {
  it('allows a source inside any one of the prefixes', () => {
    assert.equal(sourceAllowed('192.168.1.5', ['10.0.0.0/8', '192.168.1.0/24']), true);
    assert.equal(sourceAllowed('192.168.2.5', ['10.0.0.0/8', '192.168.1.0/24']), false);
  });

  it('allows nothing when the list is empty', () => {
    assert.equal(sourceAllowed('10.0.0.1', []), false);
  });
});

describe('isAnySource', () => {
  it('knows the three spellings of the whole internet', () => {
    assert.deepEqual(['*', '0.0.0.0/0', '::/0', '10.0.0.0/8', '::/1'].map(isAnySource), [true, true, true, false, false]);
  });
});

describe('several prefixes together', () => {
  it('counts the addresses of several prefixes once each, nested ones not twice', () => {
    assert.equal(describeAddressTotal(['10.0.0.0/8', '192.168.0.0/16']), '16,842,752 addresses');
    assert.equal(describeAddressTotal(['10.0.0.0/8', '10.1.0.0/16']), '16,777,216 addresses');
    assert.equal(describeAddressTotal(['10.1.2.3', '10.1.2.4']), '2 addresses');
    assert.equal(describeAddressTotal(['10.0.0.0/8', '*']), 'every address');
  });

  it('counts prefixes as wide when one is, or when together they pass the widest single prefix allowed', () => {
    assert.equal(isSetWiderThan(['10.1.0.0/17', '10.2.0.0/17']), false, 'two /17s are one /16 of addresses');
    assert.equal(isSetWiderThan(['10.1.0.0/17', '10.2.0.0/17', '10.3.0.0/24']), true, 'past 65,536 addresses counts as any');
    assert.equal(isSetWiderThan(['10.1.2.3', '10.0.0.0/8']), true);
    assert.equal(isSetWiderThan(['10.1.0.0/17', '10.2.0.0/17', '10.3.0.0/24'], { ipv4: 8, ipv6: 48 }), false, "a rule's own widestSource counts for the total too");
  });

  it('reads a request stored with one source as that one source', () => {
    assert.deepEqual(sourcesOf({ source: '10.1.2.3' }), ['10.1.2.3']);
    assert.deepEqual(sourcesOf({ source: '10.0.0.0/8', sources: ['10.0.0.0/8', '192.168.0.0/16'] }), ['10.0.0.0/8', '192.168.0.0/16']);
    assert.equal(sameSources(['192.168.0.0/16', '10.0.0.0/8'], ['10.0.0.0/8', '192.168.0.0/16']), true, 'in any order');
    assert.equal(sameSources(['10.0.0.0/8'], ['10.0.0.0/8', '192.168.0.0/16']), false);
  });
});

describe('readings of many different texts', () => {
  it('answer the same after thousands of others, typed or not, have come and gone', () => {
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 3_000; i++) {
        const address = `10.${(i >> 8) & 255}.${i & 255}.7`;
        assert.equal(normalizeSource(` ${address} `), address);
        assert.equal(normalizeSource(`${address}/8`), null, 'host bits set');
        assert.match(describeSourceProblem(`${address}x`) ?? '', /is not an IP address or CIDR/);
      }
      assert.equal(prefixContains('10.0.0.0/8', '10.11.12.7'), true);
      assert.equal(prefixContains('10.0.0.0/8', '11.0.0.1'), false);
    }
    // Long junk, as people may type it, is answered the same each time too.
    for (const junk of ['1'.repeat(100_000), `${'a'.repeat(70)}/8`]) {
      assert.match(describeSourceProblem(junk) ?? '', /is not an IP address or CIDR/);
      assert.equal(normalizeSource(junk), null);
    }
  });
});
