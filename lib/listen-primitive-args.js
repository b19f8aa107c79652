// @ts-check
'use strict';

// The commonest listen() calls, decided without crossing into native code:
// listen(), listen(cb) and listen(port[, host][, backlog][, cb]) with a
// valid integer port. Their arguments are primitives (or the callback), so
// Node's sequence reads nothing of the caller's but the conversions of the
// backlog candidates, and the options object it reads everything else from
// is its own. The native normalizer (src/listen_args.rs) decides every form,
// these included; calling it costs about a third of a listen(), so these
// forms are decided here, in the same order, with the same result
// (__test__/listen-primitive-args.test.js compares the two on every kind
// of argument this accepts, and the listen tests compare both with Node).

const { ListenKind } = require('../binding');

// Node converts with its own copy of Number; this one is taken before user
// code could replace the global.
const toNumber = Number;

/**
 * Whether listen(...args) is one of the forms decided here: the first
 * argument absent, `undefined`, `null`, a function or an integer port
 * (0-65535), and the next two (the host or backlog candidates) neither
 * objects, Symbols nor BigInts (whose conversion could run the caller's
 * code or throw: the native normalizer decides those).
 * @param {unknown[]} args
 */
function isPrimitiveListen(args) {
  const first = args[0];
  if (!(first == null || typeof first === 'function' || isIntegerPort(first))) return false;
  return args.length < 2 || (isPlainValue(args[1]) && (args.length < 3 || isPlainValue(args[2])));
}

/** @param {unknown} value */
function isIntegerPort(value) {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535;
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
