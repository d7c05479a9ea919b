// The world file's `azure:` section, and the standalone simulator started from it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { worldFromYaml } from '../../src/azure-sim/world-yaml';
import { JitError } from '../../src/core/errors';
import { LOCAL_CONFIG, REPO_ROOT } from '../helpers/paths';
import { SUB, arm } from './helpers';

function problem(azure: unknown): string {
  try {
    worldFromYaml({ azure });
  } catch (err) {
    assert.ok(err instanceof JitError);
    assert.equal(err.code, 'config');
    return err.message;
  }
  assert.fail('expected a config error');
}

describe('World file azure section', () => {
  it('maps examples/local.yaml: ports, protocols, allowed sources, maxima, and no jit as null', () => {
    const world = worldFromYaml(parse(fs.readFileSync(LOCAL_CONFIG, 'utf8')));
    assert.equal(world.subscriptionId, SUB);
    assert.equal(world.guard, false);
    assert.deepEqual(
      world.vms.map((vm) => vm.name),
      ['web-01', 'web-02', 'sql-01', 'build-01', 'web-fw-01'],
    );
    assert.deepEqual(world.vms[4].firewall, { publicIpAddress: '203.0.113.50', mappedPorts: { 22: 50022 } });
    assert.deepEqual(world.defender, { pricingTier: 'Standard', subPlan: 'P2' });
    assert.deepEqual(world.vms[0], {
      name: 'web-01',
      resourceGroup: 'rg-web',
      location: 'westeurope',
      os: 'linux',
      tags: {},
      jit: [{ number: 22, protocol: 'TCP', allowedSourcePrefixes: ['10.0.0.0/8'], maxDurationMinutes: 180 }],
    });
    assert.deepEqual(world.vms[2].jit, [
      { number: 3389, protocol: '*', allowedSourcePrefixes: ['*'], maxDurationMinutes: 180 },
      { number: 5986, protocol: 'TCP', allowedSourcePrefixes: ['*'], maxDurationMinutes: 60 },
    ]);
    assert.equal(world.vms[3].jit, null);
  });

  it('refuses a firewall without an IP address and a Defender tier Azure does not have, naming the place', () => {
    const vm = { name: 'a', resourceGroup: 'rg', location: 'westeurope', os: 'linux' };
    assert.throws(() => worldFromYaml({ azure: { vms: [{ ...vm, firewall: { publicIp: 'fw.example' } }] } }), /azure\.vms\[0\]\.firewall\.publicIp: "fw\.example" is not an IP address/);
    assert.throws(() => worldFromYaml({ azure: { vms: [vm], defender: { tier: 'Premium' } } }), /azure\.defender\.tier: "Premium" is not Free or Standard/);
  });

  it("fills Azure's portal defaults for a port rule that names only the port", () => {
    const world = worldFromYaml({ azure: { vms: [{ name: 'a', resourceGroup: 'rg', location: 'West Europe', os: 'Windows', tags: { env: 'prod', tier: 2 }, jit: [{ port: 'rdp' }] }] } });
    assert.deepEqual(world.vms[0], {
      name: 'a',
      resourceGroup: 'rg',
      location: 'westeurope',
      os: 'windows',
      tags: { env: 'prod', tier: '2' },
      jit: [{ number: 3389, protocol: '*', allowedSourcePrefixes: ['*'], maxDurationMinutes: 180 }],
    });
  });

  it('names the place of each mistake in one line', () => {
    const vm = { name: 'a', resourceGroup: 'rg', location: 'westeurope', os: 'linux' };
    assert.match(problem({ vms: [{ ...vm, jit: [{ port: 22, max: 'PT30H' }] }] }), /^azure\.vms\[0\]\.jit\[0\]\.max: "PT30H" is not a duration from 5 minutes to 24 hours/);
    assert.match(problem({ vms: [{ ...vm, jit: [{ port: 22, from: ['10.1.2.3/8'] }] }] }), /^azure\.vms\[0\]\.jit\[0\]\.from\[0\]: .*host bits set/);
    assert.match(problem({ vms: [{ ...vm, os: 'bsd' }] }), /^azure\.vms\[0\]\.os: "bsd" is not linux or windows$/);
    assert.match(problem({ subscriptionId: 'nope', vms: [] }), /^azure\.subscriptionId: "nope" is not a subscription id/);
    assert.match(problem({ vms: [vm, vm] }), /^azure\.vms\[1\]\.name: "a" is already used by azure\.vms\[0\]/);
    assert.match(problem({ vms: [{ ...vm, jit: [{ port: 22 }, { port: 'ssh' }] }] }), /port 22 is listed twice/);
  });
});

describe('Standalone simulator (bin/jitbot-azure-sim.js)', () => {
  it('serves the world file on the port JITBOT_SIM_PORT names, and stops on SIGTERM', async function () {
    this.timeout(20_000);
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'jitbot-azure-sim.js')], {
      env: { ...process.env, JITBOT_SIM_PORT: '0', JITBOT_CONFIG: LOCAL_CONFIG },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (m) resolve(m[1]);
        });
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${err}`)));
      });
      const answer = await arm(url, 'GET', `/subscriptions/${SUB}/providers/Microsoft.Security/jitNetworkAccessPolicies?api-version=2020-01-01`);
      assert.equal(answer.status, 200);
      assert.equal(answer.body.value.length, 2, 'rg-data and rg-web have policies');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
  });

  it('fails with one line naming the file when the world file is wrong', async function () {
    this.timeout(20_000);
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'jitbot-azure-sim.js')], {
      env: { ...process.env, JITBOT_SIM_PORT: '0', JITBOT_CONFIG: path.join(REPO_ROOT, 'does-not-exist.yaml') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 1);
    assert.match(err.trim(), /^jitbot-azure-sim: cannot read the world file .*does-not-exist\.yaml: ENOENT$/);
  });

  it('prints its usage for --help and exits without starting, and refuses an unknown argument', async function () {
    this.timeout(20_000);
    const run = async (arg: string) => {
      const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'jitbot-azure-sim.js'), arg], {
        env: { ...process.env, JITBOT_SIM_PORT: '0', JITBOT_CONFIG: LOCAL_CONFIG },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      // A simulator that started anyway would run until killed: stop it so the test fails, not hangs.
      const started = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => clearTimeout(started));
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      return { code, out, err };
    };
    const help = await run('--help');
    assert.equal(help.code, 0, help.err);
    assert.match(help.out, /^Usage: jitbot-azure-sim/);
    assert.match(help.out, /JITBOT_SIM_PORT/);
    assert.doesNotMatch(help.out, /listening/);
    const wrong = await run('--port=80');
    assert.equal(wrong.code, 2);
    assert.equal(wrong.err.trim(), 'jitbot-azure-sim: unknown argument "--port=80" (--help shows the usage)');
  });
});
