// The vectors are copied test data; each one's origin must stay written down next to it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const HERE = __dirname;

function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

describe('Contract vectors in the repository', () => {
  it('notes the origin of every vector file in test/vectors/README.md', () => {
    const index = readFileSync(path.join(HERE, 'README.md'), 'utf8');
    const vectors = filesUnder(HERE).filter((f) => /\.(json|txt)$/.test(f));
    assert.ok(vectors.length >= 40, `only ${vectors.length} vectors found`);
    const missing = vectors.filter((f) => !index.includes(`| \`${f}\` |`));
    assert.deepEqual(missing, [], 'vectors without a provenance row');
  });
});
