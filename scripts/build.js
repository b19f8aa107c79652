#!/usr/bin/env node
'use strict';

// Builds the native addon from source: `cargo build --release`, then copies
// the library cargo reports to build/rs_net.node. Run by `npm install` (in
// this repository and when rs-net is installed as a dependency) and by
// `npm run build`. Needs only cargo.

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const cargo = process.env.CARGO || 'cargo';

const result = spawnSync(cargo, ['build', '--release', '--message-format=json-render-diagnostics'], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
  encoding: 'utf8',
  maxBuffer: 64 * 1024 * 1024,
});
if (result.error) {
  console.error(
    `rs-net: could not run ${cargo} (${result.error.message}). Install Rust from https://rustup.rs and run npm install again.`,
  );
  process.exit(1);
}
if (result.status !== 0) {
  console.error(`rs-net: cargo build failed with status ${result.status}.`);
  process.exit(result.status || 1);
}

// The compiler-artifact message of our cdylib names the built library.
let library;
for (const line of result.stdout.split('\n')) {
  if (!line.startsWith('{')) continue;
  const message = JSON.parse(line);
  if (message.reason === 'compiler-artifact' && message.target?.name === 'rs_net') {
    library = message.filenames.find((file) => /\.(so|dylib|dll)$/.test(file));
  }
}
if (!library) {
  console.error('rs-net: cargo did not report the built library.');
  process.exit(1);
}

const destination = path.join(root, 'build', 'rs_net.node');
fs.mkdirSync(path.dirname(destination), { recursive: true });
// Copy to a temporary name and rename, so a running process that has the
// old addon loaded keeps a valid file.
const temporary = `${destination}.${process.pid}.tmp`;
fs.copyFileSync(library, temporary);
fs.renameSync(temporary, destination);
console.log(`rs-net: built ${path.relative(root, destination)}`);
