#!/usr/bin/env node
'use strict';

// Builds the native addon from source with `cargo build --release --locked`
// and copies the library cargo reports to build/rs_net.node (the local build
// binding.js loads first).
//
//   node scripts/build.js            `npm run build`: always builds. In a
//                                    clone it also fills this platform's
//                                    package, npm/<platform>/ (binary and
//                                    package.json), which `npm run package`
//                                    packs.
//   node scripts/build.js --install  the install script: does nothing when
//                                    this platform's prebuilt package loads,
//                                    and builds from source only when none
//                                    does, saying so in one line.
//
// Installed as a dependency (inside node_modules), rs-net builds in a
// temporary target directory outside node_modules and removes it afterwards,
// so the package keeps only build/rs_net.node. cargo's cache of downloaded
// crates stays where cargo keeps it (CARGO_HOME). In a clone, cargo's usual
// target directory (target/, or CARGO_TARGET_DIR) is kept for incremental
// builds.

const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');
const { writeBindingTypes } = require('./binding-types');
const { PLATFORMS, currentPlatform, packageName, binaryName } = require('./platform');

const root = path.join(__dirname, '..');
const cargo = process.env.CARGO || 'cargo';
const installing = process.argv.includes('--install');
const dependency = root.split(path.sep).includes('node_modules');
const platform = currentPlatform();

// The prebuilt binary of this platform's package, if it is installed and loads.
function loadPrebuilt() {
  if (!PLATFORMS[platform]) return { reason: `no prebuilt package exists for ${platform}` };
  const name = packageName(platform);
  let file;
  try {
    file = require.resolve(name, { paths: [root] });
  } catch {
    return { reason: `${name} is not installed` };
  }
  try {
    require(file);
  } catch (error) {
    return { reason: `${name} does not load: ${error.message}` };
  }
  const { version } = require(path.join(path.dirname(file), 'package.json'));
  return { name, version, file };
}

// Runs cargo and resolves with the cdylib it reports having built.
function cargoBuild(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      cargo,
      ['build', '--release', '--locked', '--message-format=json-render-diagnostics'],
      {
        cwd: root,
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let library;
    // The compiler-artifact message of our cdylib names the built library.
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const message = JSON.parse(line);
      if (message.reason === 'compiler-artifact' && message.target?.name === 'rs_net') {
        library = message.filenames.find((file) => /\.(so|dylib|dll)$/.test(file));
      }
    });
    child.on('error', (error) =>
      reject(new Error(`could not run ${cargo} (${error.message}); install Rust from https://rustup.rs`)),
    );
    child.on('close', (status, signal) => {
      if (status !== 0) reject(new Error(`cargo build failed (${signal || `status ${status}`})`));
      else if (!library) reject(new Error('cargo did not report the built library'));
      else resolve(library);
    });
  });
}

// Copies to a temporary name and renames, so a running process that has the
// old file loaded keeps a valid one.
function install(from, to) {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  const temporary = `${to}.${process.pid}.tmp`;
  fs.copyFileSync(from, temporary);
  fs.renameSync(temporary, to);
}

// npm/<platform>/ as napi-rs lays out a platform package: the binary, and a
// package.json whose os/cpu/libc tell npm where it installs.
function writePlatformPackage(library) {
  const main = require(path.join(root, 'package.json'));
  const directory = path.join(root, 'npm', platform);
  const binary = binaryName(platform);
  const manifest = {
    name: packageName(platform),
    version: main.version,
    description: `The ${platform} binary of rs-net, prebuilt (installed by rs-net as an optional dependency)`,
    license: main.license,
    main: binary,
    files: [binary],
    os: [PLATFORMS[platform].os],
    cpu: [PLATFORMS[platform].cpu],
    libc: [PLATFORMS[platform].libc],
    engines: main.engines,
  };
  fs.mkdirSync(directory, { recursive: true });
  fs.writeFileSync(path.join(directory, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  install(library, path.join(directory, binary));
  return path.relative(root, path.join(directory, binary));
}

async function main() {
  let reason;
  if (installing) {
    const prebuilt = loadPrebuilt();
    if (prebuilt.file) {
      console.log(
        `rs-net: using the prebuilt binary of ${prebuilt.name}@${prebuilt.version} (${prebuilt.file}); nothing to compile`,
      );
      return;
    }
    reason = prebuilt.reason;
  }

  const env = { ...process.env };
  let temporaryTarget;
  if (dependency) {
    temporaryTarget = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-net-target-'));
    env.CARGO_TARGET_DIR = temporaryTarget;
    const remove = () => fs.rmSync(temporaryTarget, { recursive: true, force: true });
    process.on('exit', remove);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
      process.on(signal, () => {
        remove();
        process.exit(128 + os.constants.signals[signal]);
      });
    }
  }
  const where = temporaryTarget
    ? `in the temporary target directory ${temporaryTarget} (removed afterwards)`
    : `in ${env.CARGO_TARGET_DIR || 'target/'}`;
  console.log(
    `rs-net: ${reason ? `no prebuilt binary loads (${reason}); ` : ''}building from source: cargo build --release --locked ${where}`,
  );

  // In a clone, napi-derive also writes the addon's type definitions, from
  // which binding.d.ts is made. It writes them only while it compiles the
  // crate, so a build that finds none (a target directory built without
  // them) has the crate compiled again.
  let typeDefinitions;
  if (!dependency) {
    const folder = path.join(env.CARGO_TARGET_DIR || path.join(root, 'target'), 'napi-type-def');
    fs.mkdirSync(folder, { recursive: true });
    env.NAPI_TYPE_DEF_TMP_FOLDER = folder;
    // The file is named for the crate (CARGO_PKG_NAME).
    const crate = /^name = "(.+)"$/m.exec(fs.readFileSync(path.join(root, 'Cargo.toml'), 'utf8'))[1];
    typeDefinitions = path.join(folder, crate);
    if (!fs.existsSync(typeDefinitions)) {
      const now = new Date();
      fs.utimesSync(path.join(root, 'src', 'lib.rs'), now, now);
    }
  }

  const library = await cargoBuild(env);
  if (typeDefinitions && writeBindingTypes(typeDefinitions, path.join(root, 'binding.d.ts'))) {
    console.log('rs-net: wrote binding.d.ts (the native types changed)');
  }
  const destination = path.join(root, 'build', 'rs_net.node');
  install(library, destination);
  const made = [path.relative(root, destination)];
  if (!dependency && PLATFORMS[platform]) made.push(writePlatformPackage(library));
  let removed = '';
  if (temporaryTarget) {
    fs.rmSync(temporaryTarget, { recursive: true, force: true });
    removed = `; removed ${temporaryTarget}`;
  }
  console.log(`rs-net: built ${made.join(' and ')}${removed}`);
}

main().catch((error) => {
  console.error(`rs-net: ${error.message}.`);
  process.exitCode = 1;
});
