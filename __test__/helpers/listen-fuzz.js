'use strict';

// Tables of odd values for fuzzing server.listen(), and objects that record
// how they are used (Proxies that log every trap, getters, valueOf).
//
// Values that would make listen() bind a real port other than 0, or look a
// name up in DNS, are left out: a valid non-zero port is never a fuzz value,
// and a host string is always an IP literal or 'localhost'.

const util = require('util');

/** A short, stable label for a value in a test name. */
function label(value) {
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return value.name ? `function ${value.name}` : 'arrow function';
  if (Object.is(value, -0)) return '-0';
  return util.inspect(value, { depth: 0, breakLength: Infinity });
}

/** Values for positions that may become a port (never a valid non-zero port). */
function portValues() {
  return [
    undefined,
    null,
    true,
    false,
    0,
    -0,
    -1,
    1.5,
    NaN,
    Infinity,
    -Infinity,
    2 ** 31,
    1e300,
    65536,
    0n,
    10n,
    -1n,
    Symbol('port'),
    '',
    ' ',
    '\t',
    '0',
    '-0',
    ' 0 ',
    '0b0',
    '0x0',
    '1e400',
    '65536',
    '9007199254740993',
    {},
    [],
    [0],
    new Number(0),
    new String('0'),
    Object.create(null),
    () => {},
    function named() {},
  ];
}

/** Values for the other positions (backlog, host, options). */
function otherValues() {
  return [
    undefined,
    null,
    true,
    false,
    0,
    -0,
    1,
    -1,
    1.5,
    NaN,
    Infinity,
    2 ** 31,
    2 ** 53,
    1e300,
    0n,
    5n,
    -5n,
    2n ** 70n,
    Symbol('value'),
    '',
    '127.0.0.1',
    '::1',
    {},
    [],
    [7],
    new Number(3),
    Object.create(null),
    () => {},
  ];
}

/** The options listen() reads, in no particular order. */
const optionNames = [
  '_handle',
  'handle',
  'ipv6Only',
  'reusePort',
  'signal',
  'fd',
  'port',
  'backlog',
  'host',
  'exclusive',
  'path',
  'readableAll',
  'writableAll',
];

/** How a value shows in a trap log. */
function shown(value) {
  if (typeof value === 'object' && value !== null) return 'object';
  if (typeof value === 'function') return 'function';
  return label(value);
}

/** A Proxy of `target` that appends every trap it sees to `log`, as `<name>: <trap> <key>`. */
function loggingProxy(target, log, name) {
  const key = (property) => (typeof property === 'symbol' ? property.toString() : property);
  return new Proxy(target, {
    get(object, property, receiver) {
      log.push(`${name}: get ${key(property)}`);
      return Reflect.get(object, property, receiver);
    },
    set(object, property, value, receiver) {
      log.push(`${name}: set ${key(property)} = ${shown(value)}`);
      return Reflect.set(object, property, value, receiver);
    },
    has(object, property) {
      log.push(`${name}: has ${key(property)}`);
      return Reflect.has(object, property);
    },
    deleteProperty(object, property) {
      log.push(`${name}: delete ${key(property)}`);
      return Reflect.deleteProperty(object, property);
    },
    ownKeys(object) {
      log.push(`${name}: ownKeys`);
      return Reflect.ownKeys(object);
    },
    getOwnPropertyDescriptor(object, property) {
      log.push(`${name}: getOwnPropertyDescriptor ${key(property)}`);
      return Reflect.getOwnPropertyDescriptor(object, property);
    },
    defineProperty(object, property, descriptor) {
      log.push(`${name}: defineProperty ${key(property)}`);
      return Reflect.defineProperty(object, property, descriptor);
    },
    getPrototypeOf(object) {
      log.push(`${name}: getPrototypeOf`);
      return Reflect.getPrototypeOf(object);
    },
    setPrototypeOf(object, prototype) {
      log.push(`${name}: setPrototypeOf`);
      return Reflect.setPrototypeOf(object, prototype);
    },
    isExtensible(object) {
      log.push(`${name}: isExtensible`);
      return Reflect.isExtensible(object);
    },
    preventExtensions(object) {
      log.push(`${name}: preventExtensions`);
      return Reflect.preventExtensions(object);
    },
    apply(fn, thisArg, args) {
      log.push(`${name}: apply`);
      return Reflect.apply(fn, thisArg, args);
    },
    construct(fn, args, newTarget) {
      log.push(`${name}: construct`);
      return Reflect.construct(fn, args, newTarget);
    },
  });
}

/** `base` with `name` turned into a getter that logs and throws. */
function withThrowingGetter(base, name, log) {
  const options = { ...base };
  Object.defineProperty(options, name, {
    get() {
      log.push(`get ${name}`);
      throw new Error(`getter of ${name} threw`);
    },
    enumerable: true,
    configurable: true,
  });
  return options;
}

/** `base` with `name` turned into a getter/setter pair that logs. */
function withCountingAccessor(base, name, log) {
  const options = { ...base };
  let value = base[name];
  Object.defineProperty(options, name, {
    get() {
      log.push(`get ${name}`);
      return value;
    },
    set(next) {
      log.push(`set ${name} = ${shown(next)}`);
      value = next;
    },
    enumerable: true,
    configurable: true,
  });
  return options;
}

/**
 * An object that converts to `result` and logs it (valueOf, toString,
 * Symbol.toPrimitive as asked), or throws from valueOf when `throws`.
 */
function convertible(name, result, log, { throws = false, toPrimitive = false } = {}) {
  if (toPrimitive) {
    return {
      [Symbol.toPrimitive](hint) {
        log.push(`${name}: toPrimitive ${hint}`);
        if (throws) throw new Error(`${name} would not convert`);
        return result;
      },
    };
  }
  return {
    valueOf() {
      log.push(`${name}: valueOf`);
      if (throws) throw new Error(`${name} would not convert`);
      return result;
    },
    toString() {
      log.push(`${name}: toString`);
      return String(result);
    },
  };
}

module.exports = {
  convertible,
  label,
  loggingProxy,
  optionNames,
  otherValues,
  portValues,
  withCountingAccessor,
  withThrowingGetter,
};
