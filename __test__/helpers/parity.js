'use strict';

// Parity testing: run one scenario against Node's own `net` and against
// rs-net, and compare what was observed. A scenario is an async function
// `(net, observe) => {...}` that drives the module and records what happens
// through `observe`; the recorded logs must be equal.

const nodeNet = require('net');
const rsNet = require('../..');
const util = require('util');

const nodeMajor = Number(process.versions.node.split('.')[0]);

/** The properties of an error that parity compares (not the stack frames). */
function describeError(error) {
  // Not instanceof: under Jest, Node's own errors come from another realm.
  if (error === null || (typeof error !== 'object' && typeof error !== 'function')) return { thrown: error };
  const described = {
    constructor: error.constructor && error.constructor.name,
    name: error.name,
    message: error.message,
    code: error.code,
    ownKeys: Object.keys(error),
    stackHeader: typeof error.stack === 'string' ? error.stack.split('\n')[0] : undefined,
    string: String(error),
  };
  for (const key of ['errno', 'syscall', 'address', 'port', 'hostname']) {
    if (key in error) described[key] = error[key];
  }
  return described;
}

function isError(value) {
  return util.types.isNativeError(value);
}

/** Normalizes ephemeral values (ports) so two runs can be compared. */
function stable(value, ports) {
  if (Array.isArray(value)) return value.map((item) => stable(item, ports));
  if (value && typeof value === 'object') {
    const out = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] =
        /port$/i.test(key) && typeof item === 'number' && item > 0
          ? portName(item, ports)
          : stable(item, ports);
    }
    return out;
  }
  if (typeof value === 'string') {
    return value.replace(/(?<=[:\s])\d{4,5}\b/g, (port) => portName(Number(port), ports));
  }
  return value;
}

function portName(port, ports) {
  if (!ports.has(port)) ports.set(port, `<port${ports.size}>`);
  return ports.get(port);
}

/** A recorder: `observe(label, detail)` appends to the log. */
function recorder() {
  const log = [];
  const observe = (label, detail) => {
    log.push(detail === undefined ? [label] : [label, isError(detail) ? describeError(detail) : detail]);
  };
  observe.error = (label, error) => log.push([label, describeError(error)]);
  observe.log = log;
  return observe;
}

/**
 * Runs `scenario` on Node's net and then on rs-net; returns both logs with
 * ports renamed by order of appearance.
 */
async function runBoth(scenario) {
  const results = {};
  for (const [name, net] of [
    ['node', nodeNet],
    ['rs', rsNet],
  ]) {
    const observe = recorder();
    await scenario(net, observe);
    results[name] = stable(observe.log, new Map());
  }
  return results;
}

/** Asserts that `scenario` observes the same on both modules; returns the log. */
async function expectParity(scenario) {
  const { node, rs } = await runBoth(scenario);
  expect(rs).toEqual(node);
  return node;
}

/** Resolves after `n` turns of the event loop (immediates). */
async function turns(n = 3) {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Resolves once `emitter` emits `event` (or rejects on 'error' when asked). */
function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

/** Closes a server (if listening) and waits for 'close'. */
function closeServer(server) {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

module.exports = {
  describeError,
  expectParity,
  nodeMajor,
  nodeNet,
  once,
  closeServer,
  recorder,
  rsNet,
  runBoth,
  turns,
  inspect: util.inspect,
};
