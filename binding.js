'use strict';

// Loads the native addon, trying in order:
//   1. a local build, build/rs_net.node (`npm run build`, or the source build
//      `npm install` falls back to);
//   2. the prebuilt binary of this platform's package (rs-net-linux-x64-gnu,
//      an optional dependency);
// else throws an error that says which command builds it where rs-net is.
const { createHook } = require('async_hooks');
const Module = require('module');
const path = require('path');
const { PLATFORMS, currentPlatform, packageName } = require('./scripts/platform');

const local = path.join(__dirname, 'build', 'rs_net.node');
// Node's own loader, with Node's module cache (a test runner's module
// registry hands `.node` files to it anyway, and Jest's replaces
// createRequire), so that nothing else stands between `loadBeneathFrames`
// and the addon's registration.
const nodeRequire = (request) => Module._load(request, module, false);

function notFound(error, request) {
  return error.code === 'MODULE_NOT_FOUND' && error.message.includes(request);
}

function load() {
  const failures = [];
  try {
    return nodeRequire(local);
  } catch (error) {
    if (!notFound(error, local)) failures.push(`${local}: ${error.message}`);
    else failures.push(`${local}: not built`);
  }
  const platform = currentPlatform();
  if (PLATFORMS[platform]) {
    const name = packageName(platform);
    try {
      return nodeRequire(require.resolve(name));
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

// napi-rs gives every environment that loads the addon one threadsafe
// function of its own ('CustomGC'), unreferenced, so it never keeps a
// process alive. Its async resource is told to say so to the tools that ask
// (hasRef(), which why-is-node-running reads when it reports). Jest's
// --detectOpenHandles decides at creation instead, and reports it against
// the require() that loaded rs-net, which it recognises by Jest's own
// module-loading frames among the first 100 frames of the stack: the addon
// is loaded beneath that many frames of this function.
const JEST_STACK_FRAMES = 100;
function loadBeneathFrames(frames) {
  return frames === 0 ? load() : loadBeneathFrames(frames - 1);
}

const unreferenced = createHook({
  init(asyncId, type, triggerAsyncId, resource) {
    if (type === 'CustomGC') Object.defineProperty(resource, 'hasRef', { value: () => false });
  },
});
unreferenced.enable();
try {
  module.exports = loadBeneathFrames(JEST_STACK_FRAMES);
} finally {
  unreferenced.disable();
}
