// The README's settings table is the only list of environment variables a user sees, so it must name
// exactly what the code reads. The code is scanned, not a hand-kept list: a variable added anywhere
// without a README row fails here.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/paths';

/** Our code that runs outside the tests: the bot, the simulator's CLI and the packaging scripts. */
const SCANNED = ['src', 'bin', 'scripts'];
/** Variables the README documents that @azure/identity reads for us (DefaultAzureCredential). */
const READ_BY_AZURE_IDENTITY = ['AZURE_CLIENT_ID', 'AZURE_TENANT_ID', 'AZURE_CLIENT_SECRET'];
const NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

function sourceFiles(rel: string): string[] {
  return readdirSync(path.join(REPO_ROOT, rel), { withFileTypes: true }).flatMap((e) => {
    const child = path.join(rel, e.name);
    if (e.isDirectory()) return sourceFiles(child);
    return /\.(ts|js|cjs|mjs)$/.test(e.name) ? [child] : [];
  });
}

/** `process.env.X`, `process.env['X']`, `env.X` on an env parameter, and the keys of env.ts's schema. */
function variablesReadByCode(): Map<string, string> {
  const found = new Map<string, string>();
  const add = (name: string, file: string) => {
    // Variables have a capital letter; `env.ts` in a comment does not.
    if (/[A-Z]/.test(name) && !found.has(name)) found.set(name, file);
  };
  for (const file of SCANNED.flatMap(sourceFiles)) {
    const text = readFileSync(path.join(REPO_ROOT, file), 'utf8');
    for (const m of text.matchAll(/\b(?:process\.env|env)(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\])/g)) {
      add(m[1] ?? m[2]!, file);
    }
    for (const schema of text.matchAll(/envSchema\s*=\s*z\s*\.object\(\{([\s\S]*?)\n\}\);/g)) {
      for (const key of schema[1]!.matchAll(/^ {2}([A-Za-z_][A-Za-z0-9_]*):/gm)) add(key[1]!, file);
    }
  }
  return found;
}

/** The first column's backticked names in the README table headed `| variable | what it does |`. */
function variablesInReadme(): Set<string> {
  const lines = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8').split('\n');
  const start = lines.findIndex((l) => /^\|\s*variable\s*\|/.test(l));
  assert.ok(start >= 0, 'README.md has a settings table headed "| variable | what it does |"');
  const names = new Set<string>();
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    // Defaults are written in parentheses after a name: `MicrosoftAppType` (`SingleTenant`).
    const firstCell = (line.split('|')[1] ?? '').replace(/\([^)]*\)/g, '');
    for (const m of firstCell.matchAll(/`([^`]+)`/g)) if (NAME.test(m[1]!)) names.add(m[1]!);
  }
  return names;
}

describe('The README settings table', () => {
  const inCode = variablesReadByCode();
  const inReadme = variablesInReadme();

  it('finds the variables the code reads, those in the settings schema and those read directly', () => {
    // Guards the scanner itself: if these stop being found, the comparison below proves nothing.
    for (const known of ['PORT', 'DATABASE_URL', 'JITBOT_SHUTDOWN_TIMEOUT_MS', 'TEST_DATABASE_URL', 'JITBOT_SIM_PORT', 'BOT_DOMAIN']) {
      assert.ok(inCode.has(known), `the scan finds ${known}`);
    }
  });

  it('lists every environment variable the code reads', () => {
    const missing = [...inCode].filter(([name]) => !inReadme.has(name)).map(([name, file]) => `${name} (read in ${file})`);
    assert.deepEqual(missing, [], 'variables read by the code but missing from the README settings table');
  });

  it('lists nothing the code does not read, except what @azure/identity reads for it', () => {
    const extra = [...inReadme].filter((name) => !inCode.has(name) && !READ_BY_AZURE_IDENTITY.includes(name));
    assert.deepEqual(extra, [], 'README settings rows for variables nothing reads');
    const identity = path.dirname(require.resolve('@azure/identity'));
    const environmentCredential = readFileSync(path.join(identity, 'credentials', 'environmentCredential.js'), 'utf8');
    for (const name of READ_BY_AZURE_IDENTITY) assert.ok(environmentCredential.includes(name), `@azure/identity still reads ${name}`);
  });
});
