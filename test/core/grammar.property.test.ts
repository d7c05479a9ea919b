import assert from 'node:assert/strict';
import fc from 'fast-check';
import { USAGE, type ParseResult } from '../../src/core/command';
import { parseCommand } from '../../src/core/grammar';

const KINDS = new Set(Object.keys(USAGE));
const USAGES = new Set(Object.values(USAGE));

function assertWellFormed(text: string, r: ParseResult): void {
  if (r.ok) {
    assert.ok(KINDS.has(r.command.kind), `unknown kind for ${JSON.stringify(text)}`);
    return;
  }
  const { message, usage } = r.error;
  assert.ok(message.trim().length > 0, `empty message for ${JSON.stringify(text)}`);
  assert.ok(!/[\r\n]/.test(message), `multi-line message for ${JSON.stringify(text)}: ${message}`);
  assert.ok(USAGES.has(usage), `unknown usage for ${JSON.stringify(text)}: ${usage}`);
}

/** Words of the grammar, near-misses of them, and junk, so random sequences reach deep into every branch. */
const WORDS = [
  '/jit', 'jit', '<at>JIT Bot</at>', '<at>', '</at>', 'help', 'vms', 'status', 'cancel', 'release', 'extend', 'policy',
  'enable', 'audit', 'HELP', 'Cancel', 'from', 'for', 'FROM', 'max', 'ssh', 'rdp', 'winrm', 'winrm-https', 'SSH', '22',
  '3389', '0', '65535', '65536', '99999999', '22/tcp', '53/udp', '22/sctp', '22/', '/tcp', 'ssh,rdp', 'ssh,', ',ssh',
  'web-01', 'web-*', '*', 'rg-web/web-01', 'rg/*', 'we*b', 'a/b/c', 'sql-01,web-01', '30m', '1h', '1h30m', '90m',
  'PT1H30M', 'PT30S', '4x', '0m', '25h', 'PT', 'h', '10.0.0.1', '10.0.0.0/8', '10.1.2.3/8', '::', '::1', '2001:db8::/32',
  '::ffff:10.1.2.3', '1:2:3:4:5:6:7:8:9', '300.1.1.1', '10.0.0.0/33', 'R4K7QX', '#R4K7QX', 'r-1', '7d', '0d', '30',
  'INC-4711', ',', ',,', '&nbsp;', '\u00a0', '"', "'", '\\', '%', '\u0000', '💥', 'İ', 'ß', '',
];

const sentence = fc
  .array(fc.tuple(fc.constantFrom(...WORDS), fc.constantFrom(' ', '  ', ',', ', ', '\t', '\n', '')), { maxLength: 12 })
  .map((parts) => parts.map(([w, sep]) => w + sep).join(''));

describe('parseCommand under random input', () => {
  it('never throws and always answers with a command or a one-line error, for 10,000 random strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 })), (text) => {
        assertWellFormed(text, parseCommand(text));
      }),
      { numRuns: 10_000 },
    );
  });

  it('never throws and always answers with a command or a one-line error, for 10,000 sequences of grammar words', () => {
    fc.assert(
      fc.property(sentence, (text) => {
        assertWellFormed(text, parseCommand(text));
      }),
      { numRuns: 10_000 },
    );
  });

  it('reads every well-formed request it is given, whatever the case and spacing', () => {
    const request = fc.record({
      prefix: fc.constantFrom('', '/jit ', 'jit ', '<at>JIT Bot</at> '),
      ports: fc.constantFrom('ssh', 'RDP', 'ssh, rdp', '22/tcp,53/udp', '8443'),
      vms: fc.constantFrom('web-01', 'WEB-*', 'rg-web/web-01', 'web-01 , web-02'),
      duration: fc.constantFrom('5m', '1h', '1H30M', 'pt2h', '24h'),
      source: fc.constantFrom('', ' from 10.0.0.1', ' FROM 2001:db8::/48', ' from *'),
      reason: fc.constantFrom('', ' for INC-1', ' for a b  c'),
    });
    fc.assert(
      fc.property(request, (p) => {
        const text = `${p.prefix}${p.ports} ${p.vms} ${p.duration}${p.source}${p.reason}`;
        const r = parseCommand(text);
        assert.ok(r.ok && r.command.kind === 'request', `${JSON.stringify(text)} → ${JSON.stringify(r)}`);
      }),
      { numRuns: 1_000 },
    );
  });
});
