// What a newcomer reads must point at files that exist, and the production example must be a rule file
// the bot accepts as it is.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfigFile } from '../../src/config/file';
import { REPO_ROOT } from '../helpers/paths';

const DOCS = ['README.md', 'docs/deploy.md', 'SECURITY.md', 'CHANGELOG.md', 'test/vectors/README.md'];

describe('The documentation', () => {
  it('links the deployment guide, the security policy and the licence from the README', () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    for (const target of ['docs/deploy.md', 'SECURITY.md', 'examples/production.yaml']) assert.ok(readme.includes(`](${target})`), `README links ${target}`);
    assert.match(readFileSync(path.join(REPO_ROOT, 'LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) \d{4} jitbot contributors\n/);
    assert.equal(JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).license, 'MIT');
  });

  it('links only files that exist in the repository', () => {
    const broken: string[] = [];
    for (const doc of DOCS) {
      const text = readFileSync(path.join(REPO_ROOT, doc), 'utf8');
      for (const m of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/i.test(target)) continue;
        if (!existsSync(path.resolve(REPO_ROOT, path.dirname(doc), target))) broken.push(`${doc} → ${target}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  it('ships a production rule file the bot loads without a problem and without a simulated subscription', () => {
    const loaded = loadConfigFile(path.join(REPO_ROOT, 'examples', 'production.yaml'));
    assert.equal(loaded.world, null, 'VMs come from Azure in production');
    assert.ok(loaded.policy.rules.length >= 3);
  });
});
