import assert from 'node:assert/strict';
import { USAGE, type Command, type CommandKind } from '../../src/core/command';
import { cleanCommandText, parseCommand } from '../../src/core/grammar';

const any = (number: number) => ({ number, protocol: '*' as const });

describe('parseCommand', () => {
  describe('reads every command of the grammar', () => {
    const table: Array<[string, Command]> = [
      ['', { kind: 'form' }],
      ['   ', { kind: 'form' }],
      ['help', { kind: 'help' }],
      ['HELP me please', { kind: 'help' }],
      ['?', { kind: 'help' }],
      ['vms', { kind: 'vms' }],
      ['vms web-', { kind: 'vms', filter: 'web-' }],
      ['vms web-* page 3', { kind: 'vms', filter: 'web-*', page: 3 }],
      ['vms page 2', { kind: 'vms', page: 2 }],
      ['Status', { kind: 'status' }],
      ['cancel R4K7QX', { kind: 'cancel', id: 'R4K7QX' }],
      ['cancel r4k7qx', { kind: 'cancel', id: 'R4K7QX' }],
      ['release #ab12cd', { kind: 'release', id: 'AB12CD' }],
      ['extend R4K7QX 30m', { kind: 'extend', id: 'R4K7QX', durationMinutes: 30 }],
      ['EXTEND r4k7qx PT1H30M', { kind: 'extend', id: 'R4K7QX', durationMinutes: 90 }],
      ['policy web-01', { kind: 'policy', vm: 'web-01' }],
      ['policy rg-web/web-01', { kind: 'policy', vm: 'rg-web/web-01' }],
      ['enable build-01', { kind: 'enable', vm: 'build-01' }],
      [
        'enable build-01 ssh,8443/tcp max 2h from 10.0.0.0/8, 192.168.1.0/24',
        {
          kind: 'enable',
          vm: 'build-01',
          ports: [any(22), { number: 8443, protocol: 'TCP' }],
          maxDurationMinutes: 120,
          sources: ['10.0.0.0/8', '192.168.1.0/24'],
        },
      ],
      ['enable build-01 from * max PT3H', { kind: 'enable', vm: 'build-01', maxDurationMinutes: 180, sources: ['*'] }],
      ['audit', { kind: 'audit' }],
      ['audit web-01', { kind: 'audit', vm: 'web-01' }],
      ['audit 30d', { kind: 'audit', days: 30 }],
      ['audit web-* 7D', { kind: 'audit', vm: 'web-*', days: 7 }],
      ['audit 7d web-01', { kind: 'audit', vm: 'web-01', days: 7 }],
      ['whois Bob@Example.com', { kind: 'whois', email: 'bob@example.com' }],
      ['whois <mailto:bob@example.com|bob@example.com>', { kind: 'whois', email: 'bob@example.com' }],
      ['ssh web-01 1h', { kind: 'request', ports: [any(22)], vms: ['web-01'], durationMinutes: 60 }],
      [
        'ssh web-01 1h from 203.0.113.7 for INC-4711',
        { kind: 'request', ports: [any(22)], vms: ['web-01'], durationMinutes: 60, source: '203.0.113.7', reason: 'INC-4711' },
      ],
      [
        'rdp,winrm-https sql-01 30m from 203.0.113.7 for patching',
        { kind: 'request', ports: [any(3389), any(5986)], vms: ['sql-01'], durationMinutes: 30, source: '203.0.113.7', reason: 'patching' },
      ],
      [
        '8443/tcp web-* 1h30m from 10.0.0.0/24 for deploy',
        { kind: 'request', ports: [{ number: 8443, protocol: 'TCP' }], vms: ['web-*'], durationMinutes: 90, source: '10.0.0.0/24', reason: 'deploy' },
      ],
      [
        'rdp sql-01 1h FROM Me for patching',
        { kind: 'request', ports: [any(3389)], vms: ['sql-01'], durationMinutes: 60, source: 'me', reason: 'patching' },
      ],
      ['winrm,53/udp vm-1 90m', { kind: 'request', ports: [any(5985), { number: 53, protocol: 'UDP' }], vms: ['vm-1'], durationMinutes: 90 }],
      ['ssh, rdp web-01, web-02 1h', { kind: 'request', ports: [any(22), any(3389)], vms: ['web-01', 'web-02'], durationMinutes: 60 }],
      ['ssh ,rdp web-01 ,web-02 1h', { kind: 'request', ports: [any(22), any(3389)], vms: ['web-01', 'web-02'], durationMinutes: 60 }],
      ['SSH WEB-01 1H', { kind: 'request', ports: [any(22)], vms: ['WEB-01'], durationMinutes: 60 }],
      ['ssh,22 web-01,WEB-01 1h', { kind: 'request', ports: [any(22)], vms: ['web-01'], durationMinutes: 60 }],
      ['22/TCP rg-web/web-01 5m', { kind: 'request', ports: [{ number: 22, protocol: 'TCP' }], vms: ['rg-web/web-01'], durationMinutes: 5 }],
      ['ssh web-01 24h', { kind: 'request', ports: [any(22)], vms: ['web-01'], durationMinutes: 1440 }],
      [
        'ssh web-01 1h from 2001:DB8:0:0::1/128',
        { kind: 'request', ports: [any(22)], vms: ['web-01'], durationMinutes: 60, source: '2001:db8::1' },
      ],
      [
        'ssh web-01 1h FOR  deploy, then   restart  ',
        { kind: 'request', ports: [any(22)], vms: ['web-01'], durationMinutes: 60, reason: 'deploy, then restart' },
      ],
      [
        'ssh web-01 1h for a reason with from 10.0.0.1 inside',
        { kind: 'request', ports: [any(22)], vms: ['web-01'], durationMinutes: 60, reason: 'a reason with from 10.0.0.1 inside' },
      ],
    ];
    for (const [text, command] of table) {
      it(`reads ${JSON.stringify(text)} as ${command.kind}`, () => {
        assert.deepEqual(parseCommand(text), { ok: true, command });
      });
    }
  });

  describe('tolerates how Slack and Teams deliver the words', () => {
    const table: Array<[string, CommandKind]> = [
      ['/jit status', 'status'],
      ['jit status', 'status'],
      ['JIT   status', 'status'],
      ['/jit', 'form'],
      ['<at>JIT Bot</at> status', 'status'],
      ['<at>JIT Bot</at>&nbsp;status', 'status'],
      ['<at>JIT Bot</at> /jit status', 'status'],
      ['  <at>JIT</at>\u00a0jit\tstatus\n', 'status'],
      ['status <at>JIT Bot</at>', 'status'],
      ['<at>JIT Bot</at>', 'form'],
    ];
    for (const [text, kind] of table) {
      it(`reads ${JSON.stringify(text)} as ${kind}`, () => {
        const r = parseCommand(text);
        assert.ok(r.ok, JSON.stringify(r));
        assert.equal(r.command.kind, kind);
      });
    }

    it('keeps a mention inside the reason readable as @Name', () => {
      const r = parseCommand('<at>JIT Bot</at> ssh web-01 1h for pairing with <at>Bob Smith</at>');
      assert.ok(r.ok && r.command.kind === 'request');
      assert.equal(r.command.reason, 'pairing with @Bob Smith');
    });

    it('does not take a word that merely starts with jit for the prefix', () => {
      assert.equal(cleanCommandText('jitter web-01'), 'jitter web-01');
      assert.equal(cleanCommandText('/jit jit-01'), 'jit-01');
    });
  });

  describe('answers every mistake with one line and the right form', () => {
    const R = USAGE.request;
    const table: Array<[string, string, string]> = [
      ['foo', '"foo" is not a command or a port; try /jit help', R],
      ['stauts', '"stauts" is not a command or a port; did you mean status?', R],
      ['ssh web-01 4x', '"4x" is not a duration; use 30m, 1h, 1h30m or PT1H30M', R],
      ['ssh web-01 2m', '2m is shorter than the 5m minimum; a duration is 5m to 24h', R],
      ['ssh web-01 25h', '25h is longer than the 24h maximum; a duration is 5m to 24h', R],
      ['ssh web-01 PT30S', '"PT30S" is not a duration; use 30m, 1h, 1h30m or PT1H30M', R],
      ['ssh', 'missing the VM names and the duration, as in /jit ssh web-01 1h', R],
      ['ssh web-01', 'missing the duration after "web-01", as in 1h or 30m', R],
      ['ssh 1h', 'missing the VM names before "1h"', R],
      ['ssh 1h web-01', 'the VM names come before the duration, as in /jit ssh web-01 1h', R],
      ['ssh web-01 1h 203.0.113.7', '"203.0.113.7" needs from before it: from 203.0.113.7', R],
      ['ssh web-01 1h now', 'unexpected "now" after the duration; add from <source> and for <reason…>', R],
      ['ssh web-01 1h from', 'from needs an address or CIDR, as in from 203.0.113.7, or from me', R],
      ['ssh web-01 1h from 10.0.0.1 from 10.0.0.2', 'from is given twice; a request has one source', R],
      ['ssh web-01 1h from 10.0.0.1 please', 'unexpected "please" after the source; a reason goes after for', R],
      ['ssh web-01 1h from 10.1.2.3/8', '"10.1.2.3/8" has host bits set; use 10.0.0.0/8 for the network or 10.1.2.3 for the one address', R],
      ['ssh web-01 1h from 300.1.1.1', '"300.1.1.1" is not an IP address or CIDR; use 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32', R],
      ['ssh web-01 1h from 10.0.0.0/33', '"10.0.0.0/33" has a bad prefix length; an IPv4 prefix length is 0 to 32', R],
      ['ssh web-01 1h for', 'for needs a reason, as in for INC-4711', R],
      ['ssh web-01 1h for    ', 'for needs a reason, as in for INC-4711', R],
      ['70000 web-01 1h', '"70000" is not a port number; use 1 to 65535', R],
      ['0 web-01 1h', '"0" is not a port number; use 1 to 65535', R],
      ['22/sctp web-01 1h', '"22/sctp" has an unknown protocol; use /tcp or /udp, or leave it out', R],
      ['ssh,telnet web-01 1h', '"telnet" is not a port; use ssh, rdp, winrm, winrm-https or a number 1-65535 with an optional /tcp or /udp', R],
      ['ssh,,rdp web-01 1h', '"ssh,,rdp" has an empty item; separate ports with commas, as in ssh,rdp', R],
      ['ssh web-01,,web-02 1h', '"web-01,,web-02" has an empty item; separate VM names with commas, as in web-01,web-02', R],
      ['ssh we*b 1h', '"we*b" has a * that is not at the end; a pattern looks like web-*', R],
      ['ssh web!01 1h', '"web!01" is not a VM name; use a name like web-01, rg-web/web-01 or web-*', R],
      ['vms web-01 extra', 'unexpected "extra" after the filter and page', USAGE.vms],
      ['vms web-01 page', 'page needs a number, as in /jit vms page 2', USAGE.vms],
      ['vms page 0', 'page needs a number, as in /jit vms page 2', USAGE.vms],
      ['vms web/01', '"web/01" is not part of a VM name', USAGE.vms],
      ['status all', 'unexpected "all" after status; it takes nothing more', USAGE.status],
      ['cancel', 'cancel needs a request id, as in /jit cancel R4K7QX', USAGE.cancel],
      ['cancel R1 R2', 'unexpected "R2" after the request id', USAGE.cancel],
      ['release', 'release needs a request id, as in /jit release R4K7QX', USAGE.release],
      ['release R4K7QX!', '"R4K7QX!" is not a request id; ids look like R4K7QX', USAGE.release],
      ['extend', 'extend needs a request id and a duration, as in /jit extend R4K7QX 30m', USAGE.extend],
      ['extend 30m', 'missing the request id before "30m"', USAGE.extend],
      ['extend R4K7QX', 'missing the duration after "R4K7QX", as in /jit extend R4K7QX 30m', USAGE.extend],
      ['extend R4K7QX 1x', '"1x" is not a duration; use 30m, 1h, 1h30m or PT1H30M', USAGE.extend],
      ['extend R4K7QX 30m more', 'unexpected "more" after the duration', USAGE.extend],
      ['policy', 'policy needs a VM name, as in /jit policy web-01', USAGE.policy],
      ['policy web-*', '"web-*" is a pattern; name one VM, as in web-01', USAGE.policy],
      ['policy web-01,web-02', '"web-01,web-02" names several VMs; policy shows one at a time', USAGE.policy],
      ['policy web-01 web-02', 'unexpected "web-02" after the VM name; policy shows one VM', USAGE.policy],
      ['enable', 'enable needs a VM name, as in /jit enable web-01', USAGE.enable],
      ['enable web-*', '"web-*" is a pattern; name one VM, as in web-01', USAGE.enable],
      ['enable a,b', '"a,b" names several VMs; enable one at a time', USAGE.enable],
      ['enable web-01 max', 'max needs a duration, as in max 3h', USAGE.enable],
      ['enable web-01 max 48h', '48h is longer than the 24h maximum; a duration is 5m to 24h', USAGE.enable],
      ['enable web-01 max 1h max 2h', 'max is given twice', USAGE.enable],
      ['enable web-01 from', 'from needs prefixes, as in from 10.0.0.0/8', USAGE.enable],
      ['enable web-01 from *,10.0.0.0/8', '* already allows every source; give it on its own', USAGE.enable],
      ['enable web-01 ssh rdp', 'ports are given twice; list them once, as in ssh,rdp', USAGE.enable],
      ['enable web-01 bogus', 'unexpected "bogus" after the VM name; enable takes ports, max <duration> and from <prefixes>', USAGE.enable],
      ['audit 30', '"30" is not a number of days; write it as 30d', USAGE.audit],
      ['audit 0d', '"0d" is not a number of days; use 1d to 3650d', USAGE.audit],
      ['audit 7d 30d', 'the number of days is given twice', USAGE.audit],
      ['whois', 'whois needs an email address, as in /jit whois alice@example.com', USAGE.whois],
      ['whois bob', '"bob" is not an email address', USAGE.whois],
      ['whois bob@example.com carol@example.com', 'unexpected "carol@example.com" after the email address; whois shows one person', USAGE.whois],
      ['audit web-01 web-02', 'unexpected "web-02" after the VM name; audit takes one VM name or pattern', USAGE.audit],
    ];
    for (const [text, message, usage] of table) {
      it(`refuses ${JSON.stringify(text)}`, () => {
        assert.deepEqual(parseCommand(text), { ok: false, error: { message, usage } });
      });
    }

    it('answers huge runs of spaces and mentions without slowing down', () => {
      const started = Date.now();
      for (const text of [`ssh ${' '.repeat(30_000)}x`, `status ${'<at>Bob</at> '.repeat(3_000)}`, `ssh ${'<at>'.repeat(10_000)}`]) {
        assert.equal(typeof parseCommand(text).ok, 'boolean');
      }
      assert.ok(Date.now() - started < 1_000, `took ${Date.now() - started} ms`);
    });

    it('cuts a pasted paragraph short inside the message', () => {
      const r = parseCommand(`${'x'.repeat(500)} web-01 1h`);
      assert.ok(!r.ok);
      assert.ok(r.error.message.length < 120, r.error.message);
    });
  });
});
