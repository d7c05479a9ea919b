#!/usr/bin/env node
'use strict';
// Runs the Azure simulator on its own. Prefers the build in dist/; a fresh checkout without
// `npm run build` still works by compiling the TypeScript on the fly with tsx.
const fs = require('node:fs');
const path = require('node:path');

const built = path.join(__dirname, '..', 'dist', 'src', 'azure-sim', 'cli.js');
let cli;
if (fs.existsSync(built)) {
  cli = require(built);
} else {
  require('tsx/cjs');
  cli = require(path.join(__dirname, '..', 'src', 'azure-sim', 'cli.ts'));
}
cli.main();
