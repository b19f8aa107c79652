#!/usr/bin/env node
'use strict';

// `npm run package`: builds the addon from source (scripts/build.js, which
// also fills npm/<platform>/), then writes the two release tarballs into
// dist/: the main package and this platform's prebuilt package. Nothing is
// published; `npm publish dist/<tarball>` would publish one.

const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { PLATFORMS, currentPlatform, packageName } = require('./platform');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist');
const platform = currentPlatform();

function fail(message) {
  console.error(`rs-net: ${message}`);
  process.exit(1);
}

if (!PLATFORMS[platform]) fail(`no platform package is defined for ${platform} (scripts/platform.js)`);

const main = require(path.join(root, 'package.json'));
// The main package must ask for exactly the platform packages of its version.
for (const name of Object.keys(PLATFORMS).map(packageName)) {
  if (main.optionalDependencies?.[name] !== main.version) {
    fail(`package.json must list "${name}": "${main.version}" in optionalDependencies`);
  }
}

execFileSync(process.execPath, [path.join(__dirname, 'build.js')], { cwd: root, stdio: 'inherit' });

fs.mkdirSync(dist, { recursive: true });
const packed = [];
for (const directory of [root, path.join(root, 'npm', platform)]) {
  const [report] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', dist], {
      cwd: directory,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  if (report.version !== main.version)
    fail(`${report.name} is version ${report.version}, not ${main.version}`);
  packed.push(report);
}
for (const { filename, size, unpackedSize, files } of packed) {
  console.log(
    `rs-net: dist/${filename}: ${files.length} files, ${(size / 1024).toFixed(0)} kB packed, ${(unpackedSize / 1024).toFixed(0)} kB unpacked`,
  );
}
