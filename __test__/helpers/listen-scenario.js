'use strict';

// Building blocks for server.listen() parity scenarios: a server whose
// events are recorded, the state listen() leaves at return, temporary
// directories for Unix sockets, and waiting for a server to settle.

const fs = require('fs');
const os = require('os');
const path = require('path');

const { turns } = require('./parity');

/** The longest a scenario waits for an event that must come (a liveness bound). */
const LIVENESS_MS = 10000;

/** A temporary directory; `file(name)` is a path in it, `remove()` deletes it. */
function tempDir(prefix = 'rs-net-listen-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return {
    dir,
    file: (name) => path.join(dir, name),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Makes a temporary directory the working directory for the test file's
 * duration (relative Unix socket paths are bound there), with Jest's
 * beforeAll/afterAll; returns the directory's helper.
 */
function inTemporaryWorkingDirectory() {
  const temp = tempDir();
  let originalCwd;
  beforeAll(() => {
    originalCwd = process.cwd();
    process.chdir(temp.dir);
  });
  afterAll(() => {
    process.chdir(originalCwd);
    temp.remove();
  });
  return temp;
}

// Outcomes ('listening' or 'error') a watched server had and no one waited for.
const kOutcomes = Symbol('kOutcomes');
const kWaiter = Symbol('kWaiter');

function noteOutcome(server, outcome) {
  server[kOutcomes].push(outcome);
  const waiter = server[kWaiter];
  server[kWaiter] = undefined;
  if (waiter) waiter();
}

/**
 * Makes a server of `net` that records 'listening' (with its address()),
 * 'error' and 'close'. waitSettled() waits for its next 'listening' or
 * 'error'.
 */
function watchedServer(net, observe, options) {
  const server = options === undefined ? net.createServer() : net.createServer(options);
  server[kOutcomes] = [];
  server.on('listening', () => {
    observe('listening', { address: server.address() });
    noteOutcome(server, 'listening');
  });
  server.on('error', (error) => {
    observe('error', error);
    noteOutcome(server, 'error');
  });
  server.on('close', () => observe('close'));
  return server;
}

/**
 * Calls `server.listen(...args)` and records what it returned (or threw) and
 * the server's state right then. Returns whether it returned.
 */
function callListen(server, args, observe) {
  try {
    const returned = server.listen(...args);
    observe('returned', {
      self: returned === server,
      listening: server.listening,
      address: server.address(),
    });
    return true;
  } catch (error) {
    observe('threw', error);
    return false;
  }
}

/** Records where callbacks queued now with nextTick and setImmediate run. */
function probeTurns(observe) {
  process.nextTick(() => observe('nextTick'));
  setImmediate(() => observe('setImmediate'));
}

/**
 * Waits for the watched server's next 'listening' or 'error' (one that
 * already happened counts), bounded by LIVENESS_MS, after which it records
 * that nothing came. Resolves to the outcome.
 */
async function waitSettled(server, observe) {
  if (server[kOutcomes].length === 0) {
    let timer;
    await new Promise((resolve) => {
      server[kWaiter] = resolve;
      timer = setTimeout(resolve, LIVENESS_MS);
    });
    clearTimeout(timer);
    server[kWaiter] = undefined;
  }
  if (server[kOutcomes].length === 0) {
    observe('no listening or error within the liveness bound');
    return 'timeout';
  }
  return server[kOutcomes].shift();
}

/** Closes `server` if it listens, waits for 'close', then lets ticks run out. */
async function shutdown(server) {
  if (server.listening) await new Promise((resolve) => server.close(resolve));
  await turns(2);
}

/**
 * Records the arguments of every `server._listen2(...)` call, the hook both
 * Node and rs-net go through to bind and listen (backlog, flags, ...).
 */
function recordListen2(server, observe) {
  const original = server._listen2;
  server._listen2 = function (...args) {
    observe('_listen2', args);
    return original.apply(this, args);
  };
}

/** The mode bits of a file (`0o777` part), as an octal string. */
function modeOf(file) {
  return (fs.statSync(file).mode & 0o777).toString(8);
}

module.exports = {
  LIVENESS_MS,
  callListen,
  inTemporaryWorkingDirectory,
  modeOf,
  probeTurns,
  recordListen2,
  shutdown,
  tempDir,
  waitSettled,
  watchedServer,
};
