'use strict';

// Loads the native addon, trying in order:
//   1. a local build, build/rs_net.node (`npm run build`, or the source build
//      `npm install` falls back to);
//   2. the prebuilt binary of this platform's package (rs-net-linux-x64-gnu,
//      an optional dependency);
// else throws an error that says which command builds it where rs-net is.
const path = require('path');
const { PLATFORMS, currentPlatform, packageName } = require('./scripts/platform');

const local = path.join(__dirname, 'build', 'rs_net.node');

function notFound(error, request) {
  return error.code === 'MODULE_NOT_FOUND' && error.message.includes(request);
}

function load() {
  const failures = [];
  try {
    return require(local);
  } catch (error) {
    if (!notFound(error, local)) failures.push(`${local}: ${error.message}`);
    else failures.push(`${local}: not built`);
  }
  const platform = currentPlatform();
  if (PLATFORMS[platform]) {
    const name = packageName(platform);
    try {
      return require(name);
    } catch (error) {
      if (!notFound(error, name)) failures.push(`${name}: ${error.message}`);
      else failures.push(`${name}: not installed`);
    }
  } else {
    failures.push(`no prebuilt package exists for ${platform}`);
  }
  // A dependency (inside node_modules) is rebuilt with `npm rebuild`; a clone
  // of the repository builds with `npm install`. Either needs cargo.
  const dependency = __dirname.split(path.sep).includes('node_modules');
  const command = dependency ? '`npm rebuild rs-net` in your project' : `\`npm install\` in ${__dirname}`;
  const error = new Error(
    `rs-net: no native addon loads on ${platform} (${failures.join('; ')}). ` +
      `Run ${command} to build it from source; that needs Rust's cargo (https://rustup.rs).`,
  );
  error.code = 'ERR_RS_NET_NOT_BUILT';
  throw error;
}

module.exports = load();
