// @ts-check
'use strict';

// The commonest listen() calls, decided without crossing into native code:
// listen(), listen(cb) and listen(port[, host][, backlog][, cb]) with a
// valid integer port. Node's sequence reads their options from an object
// it made itself, so (unless Object.prototype has one of the names it
// reads, or a `net.server.listen` subscriber could change the object)
// nothing of the caller's runs but the conversions of the backlog
// candidates, done here at the same point. The native normalizer
// (src/listen_args.rs) decides every form, these included; calling it
// costs about a third of a listen(), so these are decided here, in the same
// order, with the same result (__test__/listen-primitive-args.test.js
// compares the two on every kind of argument this accepts, and the listen
// tests compare both with Node).

const { ListenKind } = require('../binding');

// Node converts with its own copy of Number; this one is taken before user
// code could replace the global.
const toNumber = Number;

// The options Node's sequence reads from its own options object (after
// the port and host it sets): one that Object.prototype has is inherited,
// and reading it could run the caller's code.
const readOptions = [
  '_handle',
  'handle',
  'ipv6Only',
  'reusePort',
  'signal',
  'fd',
  'port',
  'host',
  'backlog',
  'exclusive',
];
const ObjectPrototype = Object.prototype;

/**
 * Whether listen(...args) is one of the forms decided here: the first
 * argument absent, `undefined`, `null`, a function or an integer port
 * (0-65535), and the next two (the host or backlog candidates) neither
 * objects, Symbols nor BigInts, whose conversion the native normalizer
 * decides. A function's conversion can run its own `valueOf`, which is
 * called here where the native normalizer calls it. The caller checks
 * that no `net.server.listen` subscriber sees the options.
 * @param {unknown[]} args
 */
function isPrimitiveListen(args) {
  // Read only when present, as Node reads it (no inherited element).
  const first = args.length > 0 ? args[0] : undefined;
  if (!(first == null || typeof first === 'function' || isIntegerPort(first))) return false;
  if (!(args.length < 2 || (isPlainValue(args[1]) && (args.length < 3 || isPlainValue(args[2])))))
    return false;
  for (let index = 0; index < readOptions.length; index++) {
    if (readOptions[index] in ObjectPrototype) return false;
  }
  return true;
}

// No global is looked up (Number.isInteger could have been replaced).
/** @param {unknown} value */
function isIntegerPort(value) {
  return typeof value === 'number' && value >= 0 && value <= 65535 && (value | 0) === value;
}

/** @param {unknown} value */
function isPlainValue(value) {
  const type = typeof value;
  return value == null || type === 'number' || type === 'string' || type === 'boolean' || type === 'function';
}

/**
 * The plan the native normalizer would return for `args` (which
 * `isPrimitiveListen` accepted), calling `onStart(options)` and `onCommit()`
 * where it would.
 * @param {unknown[]} args
 * @param {(options: Record<string, unknown>) => void} onStart
 * @param {() => void} onCommit
 * @returns {import('../binding').TcpPlan}
 */
function decidePrimitiveListen(args, onStart, onCommit) {
  const count = args.length;
  /** @type {Record<string, unknown>} */
  const options = {};
  if (count > 0) {
    // normalizeArgs: a non-object first argument is the port, and a string
    // after it the host.
    options.port = args[0];
    if (count > 1 && typeof args[1] === 'string') options.host = args[1];
  }
  onStart(options);
  // The backlog in the 2nd argument, or else the 3rd: Number(x) when >= 0.
  const backlog = nonNegative(count > 1 && args[1]) || nonNegative(count > 2 && args[2]);
  onCommit();
  // listen(), listen(cb), listen(undefined), listen(null): port 0.
  if (count === 0 || typeof args[0] === 'function' || args[0] == null) options.port = 0;
  const host = options.host ? options.host : undefined;
  return {
    kind: ListenKind.Tcp,
    port: /** @type {number} */ (options.port) | 0,
    host,
    exclusive: false,
    ipv6Only: false,
    reusePort: false,
    backlog,
    options,
  };
}

/** @param {unknown} value */
function nonNegative(value) {
  const number = toNumber(value);
  return number >= 0 ? number : false;
}

module.exports = { decidePrimitiveListen, isPrimitiveListen };
