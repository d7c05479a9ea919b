#!/usr/bin/env node
'use strict';
// Runs the Azure simulator on its own. Uses the build in dist/ when it is current (always, in the
// production image, which has no scripts/); in a checkout whose sources changed since the last build,
// or were never built, it compiles the TypeScript on the fly with tsx instead of running stale code.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const built = path.join(root, 'dist', 'src', 'azure-sim', 'cli.js');
const checker = path.join(root, 'scripts', 'build-if-changed.cjs');
let cli;
if (fs.existsSync(built) && (!fs.existsSync(checker) || require(checker).upToDate())) {
  cli = require(built);
} else {
  require('tsx/cjs');
  cli = require(path.join(root, 'src', 'azure-sim', 'cli.ts'));
}
cli.main();
