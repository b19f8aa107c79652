'use strict';

// listen()'s all-primitive forms are decided in JavaScript
// (lib/listen-primitive-args.js) instead of by the native normalizer: both
// must reach the same plan, call their hooks at the same points and leave
// the options object the same, for every combination of the arguments that
// path accepts. (The listen-forms and listen-fuzz suites compare the
// outcome of these calls with Node's.)

const binding = require('../binding');
const { decidePrimitiveListen, isPrimitiveListen } = require('../lib/listen-primitive-args');
const { handles } = require('../lib/node-internals');

const ABSENT = Symbol('absent');
const callback = () => {};
// A function whose conversion (of a backlog candidate) is logged: the
// hooks' log shows where each decider converts it.
let log = [];
const convertible = () => {};
convertible.valueOf = () => {
  log.push(['valueOf']);
  return 3;
};
const ports = [ABSENT, undefined, null, callback, 0, -0, 1, 8080, 65535];
const rest = [
  ABSENT,
  undefined,
  null,
  convertible,
  callback,
  '127.0.0.1',
  '',
  'localhost',
  '12',
  ' ',
  0,
  5,
  -1,
  1.5,
  NaN,
  true,
  false,
];

function argumentLists() {
  const lists = [];
  for (const first of ports) {
    for (const second of rest) {
      for (const third of rest) {
        for (const fourth of [ABSENT, callback, 7]) {
          const list = [first, second, third, fourth];
          const end = list.indexOf(ABSENT);
          // Only trailing arguments can be absent.
          if (end !== -1 && list.slice(end).some((value) => value !== ABSENT)) continue;
          lists.push(end === -1 ? list : list.slice(0, end));
        }
      }
    }
  }
  return lists;
}

// Runs one decider, recording what its hooks saw.
// Options as seen: their keys in order, and their values.
const seen = (options) => Object.entries(options);

function observe(decide) {
  log = [];
  const onStart = (options) => log.push(['start', seen(options)]);
  const onCommit = () => log.push(['commit']);
  const plan = decide(onStart, onCommit);
  return { log, plan: { ...plan, options: seen(plan.options) } };
}

const nativeDecision = (args) =>
  observe((onStart, onCommit) =>
    binding.normalizeListenArgs(
      args,
      onStart,
      onCommit,
      () => {
        throw new Error('no signal was given');
      },
      undefined,
      handles().TCP,
      Number,
    ),
  );

const primitiveDecision = (args) =>
  observe((onStart, onCommit) => decidePrimitiveListen(args, onStart, onCommit));

// The native plan leaves an absent host out; the JavaScript one has it as
// undefined: the same to its reader.
const comparable = ({ log, plan }) => ({ log, plan: { ...plan, host: plan.host } });

test('every accepted argument list gets the native plan, hooks and options', () => {
  const lists = argumentLists();
  expect(lists.length).toBe(6281);
  for (const args of lists) {
    expect(isPrimitiveListen(args)).toBe(true);
    const expected = comparable(nativeDecision(args));
    expect(expected.plan.kind).toBe(binding.ListenKind.Tcp);
    expect({ args, ...comparable(primitiveDecision(args)) }).toStrictEqual({ args, ...expected });
  }
});

test('forms whose reading could be observed, or that fail, go to the native normalizer', () => {
  const refused = [
    [{ port: 0 }],
    ['8080'],
    ['/tmp/socket'],
    [-1],
    [65536],
    [1.5],
    [NaN],
    [Infinity],
    [true],
    [1n],
    [Symbol('port')],
    [0, { valueOf: () => 5 }],
    [0, '127.0.0.1', { valueOf: () => 5 }],
    [0, Symbol('host')],
    [0, 1n],
    [0, 0, Symbol('backlog')],
  ];
  for (const args of refused) expect([args, isPrimitiveListen(args)]).toEqual([args, false]);
});

test('an option Object.prototype has (inherited, so read with its getter) sends every form to the native normalizer', () => {
  Object.defineProperty(Object.prototype, 'exclusive', { get: () => false, configurable: true });
  try {
    expect(isPrimitiveListen([0])).toBe(false);
  } finally {
    delete Object.prototype.exclusive;
  }
  expect(isPrimitiveListen([0])).toBe(true);
});

test('a replaced Number.isInteger does not change the decision', () => {
  const { isInteger } = Number;
  Number.isInteger = () => true;
  try {
    expect(isPrimitiveListen([1.5])).toBe(false);
  } finally {
    Number.isInteger = isInteger;
  }
});

test("a net.server.listen subscriber's change to the options is read, as Node reads it", () => {
  const dc = require('diagnostics_channel');
  const net = require('net');
  const rsnet = require('..');
  const channel = dc.tracingChannel('net.server.listen');
  const handlers = {
    asyncStart({ options }) {
      options.port = 'not a port';
    },
  };
  channel.subscribe(handlers);
  try {
    const outcome = (module) => {
      const server = module.createServer();
      try {
        server.listen(0);
        server.close();
        return 'listened';
      } catch (error) {
        return error.code;
      }
    };
    expect(outcome(rsnet)).toBe(outcome(net));
    expect(outcome(rsnet)).toBe('ERR_SOCKET_BAD_PORT');
  } finally {
    channel.unsubscribe(handlers);
  }
});
