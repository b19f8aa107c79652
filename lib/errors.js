'use strict';

// Where errors are built. Every error rs-net throws or emits is made here, in
// JavaScript, so it belongs to the caller's realm (`instanceof Error` holds
// inside Jest's sandbox) and looks like the one Node makes: the same class,
// message text, `code`, own properties in the same order, and a stack whose
// first line names the code (`RangeError [ERR_SOCKET_BAD_PORT]: ...`).

const { inspect, getSystemErrorMap, getSystemErrorName } = require('util');

let systemErrors;
function describeErrno(errno) {
  systemErrors ??= getSystemErrorMap();
  return systemErrors.get(errno) ?? ['UNKNOWN', 'unknown error'];
}

// Node's internal errors report their own base class as `constructor`.
const baseClasses = new Map();
function nodeErrorClass(Base) {
  let NodeError = baseClasses.get(Base);
  if (NodeError === undefined) {
    NodeError = class extends Base {
      get ['constructor']() {
        return Base;
      }
      toString() {
        return `${this.name} [${this.code}]: ${this.message}`;
      }
    };
    baseClasses.set(Base, NodeError);
  }
  return NodeError;
}

// Node installs its own formatter as Error.prepareStackTrace (a function
// named ErrorPrepareStackTrace) and uses it when none is set.
function usesNodeStackFormatter() {
  const formatter = Error.prepareStackTrace;
  return typeof formatter !== 'function' || formatter.name === 'ErrorPrepareStackTrace';
}

// Formats the stack now, with the code in the first line, as Node's default
// stack formatter does for its own errors. A user-installed
// Error.prepareStackTrace (Jest has one) formats Node's errors without the
// code, so then ours are left to it too.
function nameStackWithCode(error, code) {
  if (!usesNodeStackFormatter()) return error;
  Object.defineProperty(error, 'name', {
    value: `${error.name} [${code}]`,
    enumerable: false,
    writable: true,
    configurable: true,
  });
  // eslint-disable-next-line no-unused-expressions
  error.stack;
  delete error.name;
  return error;
}

// An error whose message is computed from arguments: Node defines `code`
// before `message` on these.
function computedMessageError(Base, code, message, stackStart) {
  const error = new (nodeErrorClass(Base))();
  error.code = code;
  Object.defineProperty(error, 'message', {
    value: message,
    enumerable: false,
    writable: true,
    configurable: true,
  });
  Error.captureStackTrace(error, stackStart);
  return nameStackWithCode(error, code);
}

// An error with a fixed message: `message` comes before `code`.
function fixedMessageError(Base, code, message, stackStart) {
  const error = new (nodeErrorClass(Base))(message);
  error.code = code;
  Error.captureStackTrace(error, stackStart);
  return nameStackWithCode(error, code);
}

// How Node's messages describe a received value.
function determineSpecificType(value) {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  switch (typeof value) {
    case 'bigint':
      return `type bigint (${value}n)`;
    case 'number':
      if (value === 0) return Object.is(value, -0) ? 'type number (-0)' : 'type number (0)';
      return `type number (${value})`;
    case 'boolean':
      return `type boolean (${value})`;
    case 'symbol':
      return `type symbol (${String(value)})`;
    case 'function':
      return `function ${value.name}`;
    case 'object':
      if (value.constructor && 'name' in value.constructor) {
        return `an instance of ${value.constructor.name}`;
      }
      return inspect(value, { depth: -1 });
    case 'string': {
      const shown = value.length > 28 ? `${value.slice(0, 25)}...` : value;
      return shown.includes("'") ? `type string (${JSON.stringify(shown)})` : `type string ('${shown}')`;
    }
  }
}

const primitiveTypes = [
  'string',
  'function',
  'number',
  'object',
  'Function',
  'Object',
  'boolean',
  'bigint',
  'symbol',
];

/**
 * ERR_INVALID_ARG_TYPE for one expected type or class name.
 * @param {Function} [stackStart] the stack trace starts at its caller
 */
function invalidArgType(name, expected, actual, stackStart = invalidArgType) {
  const kind = name.includes('.') ? 'property' : 'argument';
  let wanted;
  if (primitiveTypes.includes(expected)) wanted = `of type ${expected.toLowerCase()}`;
  else if (/^([A-Z][a-z0-9]*)+$/.test(expected)) wanted = `an instance of ${expected}`;
  else wanted = expected.toLowerCase() === expected ? expected : `an ${expected}`;
  const message = `The "${name}" ${kind} must be ${wanted}. Received ${determineSpecificType(actual)}`;
  return computedMessageError(TypeError, 'ERR_INVALID_ARG_TYPE', message, stackStart);
}

/**
 * ERR_INVALID_ARG_VALUE: `The argument 'options' is invalid. Received ...`.
 * @param {Function} [stackStart] the stack trace starts at its caller
 */
function invalidArgValue(name, value, reason = 'is invalid', stackStart = invalidArgValue) {
  let shown = inspect(value);
  if (shown.length > 128) shown = `${shown.slice(0, 128)}...`;
  const kind = name.includes('.') ? 'property' : 'argument';
  const message = `The ${kind} '${name}' ${reason}. Received ${shown}`;
  return computedMessageError(TypeError, 'ERR_INVALID_ARG_VALUE', message, stackStart);
}

/**
 * ERR_SOCKET_BAD_PORT, a RangeError.
 * @param {Function} [stackStart] the stack trace starts at its caller
 */
function socketBadPort(name, port, stackStart = socketBadPort) {
  const message = `${name} should be >= 0 and < 65536. Received ${determineSpecificType(port)}.`;
  return computedMessageError(RangeError, 'ERR_SOCKET_BAD_PORT', message, stackStart);
}

/**
 * ERR_SERVER_ALREADY_LISTEN.
 * @param {Function} [stackStart] the stack trace starts at its caller
 */
function serverAlreadyListen(stackStart = serverAlreadyListen) {
  return fixedMessageError(
    Error,
    'ERR_SERVER_ALREADY_LISTEN',
    'Listen method has been called more than once without closing.',
    stackStart,
  );
}

/**
 * ERR_SERVER_NOT_RUNNING.
 * @param {Function} [stackStart] the stack trace starts at its caller
 */
function serverNotRunning(stackStart = serverNotRunning) {
  return fixedMessageError(Error, 'ERR_SERVER_NOT_RUNNING', 'Server is not running.', stackStart);
}

// System errors report `Error` as their constructor, like Node's.
class SystemError extends Error {
  get ['constructor']() {
    return Error;
  }
}

/**
 * A failed bind/listen, as Node's UVExceptionWithHostPort:
 * `listen EADDRINUSE: address already in use 127.0.0.1:3000`, with own
 * `code`, `errno`, `syscall`, `address` and (when truthy) `port`.
 * @param {Function} [stackStart] the stack trace starts at its caller
 */
function exceptionWithHostPort(errno, syscall, address, port, stackStart = exceptionWithHostPort) {
  const [code, description] = describeErrno(errno);
  let details = '';
  if (port && port > 0) details = ` ${address}:${port}`;
  else if (address) details = ` ${address}`;
  const error = new SystemError(`${syscall} ${code}: ${description}${details}`);
  error.code = code;
  error.errno = errno;
  error.syscall = syscall;
  error.address = address;
  if (port) error.port = port;
  Error.captureStackTrace(error, stackStart);
  return error;
}

/**
 * A failed system call without an address, as Node's ErrnoException: `accept EMFILE`.
 * @param {Function} [stackStart] the stack trace starts at its caller
 */
function errnoException(errno, syscall, stackStart = errnoException) {
  const code = getSystemErrorName(errno);
  const error = new SystemError(`${syscall} ${code}`);
  error.errno = errno;
  error.code = code;
  error.syscall = syscall;
  Error.captureStackTrace(error, stackStart);
  return error;
}

module.exports = {
  errnoException,
  exceptionWithHostPort,
  invalidArgType,
  invalidArgValue,
  serverAlreadyListen,
  serverNotRunning,
  socketBadPort,
};
