#!/usr/bin/env node
'use strict';
// `npm start` runs this first. Compiling the whole project takes 10 to 20 s on a small machine, so we
// compile only when an input of the build changed since the last successful build: a fingerprint of
// every input's path, size and modification time is kept next to the output. Checking it costs a few
// milliseconds. Plain CommonJS with no dependencies, so it runs before anything is built.
const { spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'dist');
const STAMP = path.join(OUT, '.build-fingerprint');
/** What tsc reads for tsconfig.build.json: the sources, the card templates they import, the compiler settings and version. */
const INPUTS = ['src', 'cards', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];
/** The build's own outputs, removed before a build so a deleted source leaves no stale module behind. */
const OUTPUTS = ['src', 'cards'];

function walk(rel, into) {
  const abs = path.join(ROOT, rel);
  let stat;
  try {
    stat = fs.statSync(abs);
  } catch {
    into.push(`${rel}\0missing`);
    return;
  }
  if (stat.isDirectory()) {
    for (const name of fs.readdirSync(abs).sort()) walk(path.join(rel, name), into);
  } else {
    into.push(`${rel}\0${stat.size}\0${stat.mtimeMs}`);
  }
}

function fingerprint() {
  const entries = [];
  for (const input of INPUTS) walk(input, entries);
  return createHash('sha256').update(entries.join('\n')).digest('hex');
}

function readStamp() {
  try {
    return fs.readFileSync(STAMP, 'utf8').trim();
  } catch {
    return '';
  }
}

function build() {
  for (const out of OUTPUTS) fs.rmSync(path.join(OUT, out), { recursive: true, force: true });
  fs.rmSync(STAMP, { force: true });
  const typescript = path.dirname(require.resolve('typescript/package.json', { paths: [ROOT] }));
  const tsc = path.join(typescript, require(path.join(typescript, 'package.json')).bin.tsc);
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) return false;
  pgliteTemplate();
  return true;
}

/**
 * The initialized PGlite data directory a first start in local mode copies instead of running
 * initdb (src/store/pglite.ts, makePgliteTemplate): made once per PGlite version, kept across builds.
 * Without it the bot still starts, a few seconds slower the first time, so a failure only warns.
 */
function pgliteTemplate() {
  const script = `require(${JSON.stringify(path.join(OUT, 'src', 'store', 'pglite.js'))}).makePgliteTemplate().then(
    (r) => { if (r === 'made') process.stdout.write('jitbot: made the PGlite data directory template\\n'); },
    (err) => { process.stderr.write('jitbot: no PGlite template (' + err.message + '); a first start will run initdb itself\\n'); });`;
  spawnSync(process.execPath, ['-e', script], { cwd: ROOT, stdio: 'inherit' });
}

/** True when dist/ was built from the sources as they are now. */
function upToDate() {
  return readStamp() === fingerprint() && fs.existsSync(path.join(OUT, 'src', 'main.js'));
}

function main() {
  const force = process.argv.includes('--force');
  const before = fingerprint();
  if (!force && readStamp() === before && fs.existsSync(path.join(OUT, 'src', 'main.js'))) {
    // Built, but the template may have failed to make or been removed since: make it now.
    if (!fs.existsSync(path.join(OUT, 'pgdata-template.version'))) pgliteTemplate();
    return 0;
  }
  process.stdout.write('jitbot: sources changed since the last build, compiling…\n');
  if (!build()) {
    process.stderr.write('jitbot: the build failed (see above); nothing was started\n');
    return 1;
  }
  // Taken before compiling: an edit made while tsc ran makes the next start build again.
  fs.writeFileSync(STAMP, `${before}\n`);
  return 0;
}

module.exports = { upToDate };

if (require.main === module) process.exitCode = main();
