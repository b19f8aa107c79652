'use strict';

// Fuzzing server.listen() against Node's net: odd values in every position,
// getters that throw, Proxies that log every trap, objects whose conversion
// has side effects or throws. Each call must end exactly as Node's does (the
// same error thrown, or the same events), read the arguments the same way,
// and never bring the process down.

const { expectParity, nodeMajor, runBoth } = require('./helpers/parity');
const {
  callListen,
  inTemporaryWorkingDirectory,
  shutdown,
  waitSettled,
  watchedServer,
} = require('./helpers/listen-scenario');
const {
  convertible,
  label,
  loggingProxy,
  optionNames,
  otherValues,
  portValues,
  withCountingAccessor,
  withThrowingGetter,
} = require('./helpers/listen-fuzz');

// Strings that are not numbers are Unix socket paths, bound relative to the
// working directory: a temporary one for this file.
inTemporaryWorkingDirectory();

/**
 * listen(...makeArgs(log)) on a fresh server: records the return or the
 * throw, the log the arguments wrote while being read, and the events.
 */
function fuzzCall(makeArgs) {
  return async (net, observe) => {
    const log = [];
    const server = watchedServer(net, observe);
    const args = makeArgs(log);
    const returned = callListen(server, args, observe);
    observe('reads', log.slice());
    if (returned) await waitSettled(server, observe);
    await shutdown(server);
  };
}

// Node 20 does not read options.reusePort; rs-net does (it supports the
// option on Node 20 too), right after ipv6Only. Those reads are the only
// difference allowed, on Node 20 only. When `everyReadLogged` (a Proxy),
// each comes right after a read of ipv6Only.
async function expectParityAllowingReusePortRead(scenario, { everyReadLogged = false } = {}) {
  if (nodeMajor >= 22) return expectParity(scenario);
  const { node, rs } = await runBoth(scenario);
  const isReusePortRead = (entry) => /\bget reusePort$/.test(entry);
  const withoutReusePortReads = (log) =>
    log.map(([entryLabel, detail]) =>
      entryLabel === 'reads'
        ? [entryLabel, detail.filter((entry) => !isReusePortRead(entry))]
        : [entryLabel, detail],
    );
  expect(withoutReusePortReads(rs)).toEqual(withoutReusePortReads(node));
  for (const [index, [entryLabel, detail]] of rs.entries()) {
    if (entryLabel !== 'reads') continue;
    expect(node[index][1].filter(isReusePortRead)).toEqual([]);
    if (!everyReadLogged) continue;
    const expected = [];
    for (const entry of node[index][1]) {
      expected.push(entry);
      if (entry.endsWith('get ipv6Only')) expected.push(entry.replace(/ipv6Only$/, 'reusePort'));
    }
    expect(detail).toEqual(expected);
  }
  return node;
}

describe('odd values in every position', () => {
  const cases = [];
  for (const value of portValues()) {
    cases.push([`listen(${label(value)})`, () => [value]]);
    cases.push([`listen({ port: ${label(value)} })`, () => [{ port: value }]]);
  }
  for (const value of otherValues()) {
    cases.push([`listen(0, ${label(value)})`, () => [0, value]]);
    cases.push([`listen(0, '127.0.0.1', ${label(value)})`, () => [0, '127.0.0.1', value]]);
    cases.push([`listen(0, ${label(value)}, 3)`, () => [0, value, 3]]);
    cases.push([`listen('x.sock', ${label(value)})`, () => ['x.sock', value]]);
    for (const name of ['backlog', 'host', 'exclusive', 'ipv6Only', 'signal']) {
      cases.push([`listen({ port: 0, ${name}: ${label(value)} })`, () => [{ port: 0, [name]: value }]]);
    }
    cases.push([`listen({ path: ${label(value)} })`, () => [{ path: value }]]);
    cases.push([`listen({ _handle: ${label(value)} })`, () => [{ _handle: value }]]);
    cases.push([`listen({ handle: ${label(value)}, port: 0 })`, () => [{ handle: value, port: 0 }]]);
    cases.push([
      `listen({ path: '\\0abstract', readableAll: ${label(value)} })`,
      () => [{ path: '\0rs-net-fuzz', readableAll: value }],
    ]);
    // Descriptors 0 to 2 are this worker's stdio; Node would make a pipe
    // among them non-blocking. They are left out.
    if (!(typeof value === 'number' && value >= 0 && value <= 2)) {
      cases.push([`listen({ fd: ${label(value)} })`, () => [{ fd: value }]]);
    }
  }
  // Symbols everywhere at once, and in the callback's place.
  cases.push([
    'listen(Symbol, Symbol, Symbol, Symbol)',
    () => [Symbol('a'), Symbol('b'), Symbol('c'), Symbol('d')],
  ]);

  test.each(cases)('%s', async (name, makeArgs) => {
    await expectParity(fuzzCall(makeArgs));
  });
});

describe('getters that throw, for each option', () => {
  const bases = [
    ['a port', { port: 0 }],
    ['a host', { port: 0, host: '127.0.0.1' }],
    ['a path', { path: 'getter.sock' }],
    ['a descriptor', { fd: 99999 }],
    ['nothing', {}],
  ];
  const cases = [];
  for (const name of optionNames) {
    for (const [baseName, base] of bases) cases.push([name, baseName, base]);
  }

  test.each(cases)('%s, with %s', async (name, baseName, base) => {
    const scenario = fuzzCall((log) => [withThrowingGetter(base, name, log)]);
    if (name === 'reusePort' && nodeMajor < 22) {
      // The documented difference: on Node 20 only rs-net reads reusePort,
      // so only rs-net throws.
      const { node, rs } = await runBoth(scenario);
      expect(node[0][1].message).not.toBe('getter of reusePort threw');
      expect(rs[0]).toEqual(['threw', expect.objectContaining({ message: 'getter of reusePort threw' })]);
      return;
    }
    await expectParity(scenario);
  });

  test.each(cases)('%s read (and written) as often as Node, with %s', async (name, baseName, base) => {
    await expectParityAllowingReusePortRead(async (net, observe) => {
      const log = [];
      const server = watchedServer(net, observe);
      if (callListen(server, [withCountingAccessor(base, name, log)], observe))
        await waitSettled(server, observe);
      observe('reads', log.slice());
      await shutdown(server);
    });
  });
});

describe('Proxies: the same traps, in the same order', () => {
  const abstract = '\0rs-net-fuzz-proxy';
  const cases = [
    ['{ port: 0 }', (log) => [loggingProxy({ port: 0 }, log, 'options')]],
    ['{ port: 0, host }', (log) => [loggingProxy({ port: 0, host: '127.0.0.1' }, log, 'options')]],
    [
      "{ port: '0', backlog, every flag }",
      (log) => [
        loggingProxy(
          {
            port: '0',
            host: '',
            backlog: 4,
            exclusive: 1,
            ipv6Only: true,
            reusePort: true,
            readableAll: true,
            writableAll: true,
          },
          log,
          'options',
        ),
      ],
    ],
    ['{}', (log) => [loggingProxy({}, log, 'options')]],
    ['{ port: -5 }', (log) => [loggingProxy({ port: -5 }, log, 'options')]],
    ['{ port: {} }', (log) => [loggingProxy({ port: {} }, log, 'options')]],
    ['{ port: undefined }', (log) => [loggingProxy({ port: undefined }, log, 'options')]],
    ['{ path } (abstract)', (log) => [loggingProxy({ path: abstract }, log, 'options')]],
    [
      '{ path, readableAll } (abstract)',
      (log) => [loggingProxy({ path: abstract, readableAll: true }, log, 'options')],
    ],
    ['{ path } (a file)', (log) => [loggingProxy({ path: 'proxy.sock', writableAll: true }, log, 'options')]],
    ['{ fd: 99999 }', (log) => [loggingProxy({ fd: 99999 }, log, 'options')]],
    [
      '{ port, signal: AbortSignal }',
      (log) => [
        loggingProxy(
          { port: 0, signal: loggingProxy(new AbortController().signal, log, 'signal') },
          log,
          'options',
        ),
      ],
    ],
    [
      '{ port, signal: aborted AbortSignal }',
      (log) => [
        loggingProxy({ port: 0, signal: loggingProxy(AbortSignal.abort(), log, 'signal') }, log, 'options'),
      ],
    ],
    [
      '{ port, signal: {} }',
      (log) => [loggingProxy({ port: 0, signal: loggingProxy({}, log, 'signal') }, log, 'options')],
    ],
    [
      '{ handle: Proxy }',
      (log) => [loggingProxy({ handle: loggingProxy({ port: 0 }, log, 'handle') }, log, 'options')],
    ],
    [
      '{ _handle: Proxy }',
      (log) => [loggingProxy({ _handle: loggingProxy({ port: 0, fd: -1 }, log, 'handle') }, log, 'options')],
    ],
    ['(0, Proxy backlog)', (log) => [0, loggingProxy(convertible('backlog', 5, log), log, 'backlog')]],
    [
      '(0, host, Proxy backlog)',
      (log) => [0, '127.0.0.1', loggingProxy(convertible('backlog', 6, log), log, 'backlog')],
    ],
    ['(0, Proxy callback)', (log) => [0, loggingProxy(function callback() {}, log, 'callback')]],
    ['(Proxy array as options)', (log) => [loggingProxy([0], log, 'array')]],
  ];

  test.each(cases)('%s', async (name, makeArgs) => {
    await expectParityAllowingReusePortRead(fuzzCall(makeArgs), { everyReadLogged: true });
  });

  test('a Proxy of another server', async () => {
    await expectParityAllowingReusePortRead(
      async (net, observe) => {
        const first = watchedServer(net, observe);
        first.listen(0, '127.0.0.1');
        await waitSettled(first, observe);
        await fuzzCall((log) => [loggingProxy(first, log, 'server')])(net, observe);
        await shutdown(first);
      },
      { everyReadLogged: true },
    );
  });
});

describe('conversions with side effects', () => {
  const cases = [
    ['a backlog object in 2nd place', (log) => [0, convertible('b', 5, log)]],
    [
      'a backlog object converting to 0, then the 3rd',
      (log) => [0, convertible('b', 0, log), convertible('c', 4, log)],
    ],
    ['a backlog object converting to a BigInt', (log) => [0, convertible('b', 5n, log)]],
    ['a backlog object converting to a Symbol', (log) => [0, convertible('b', Symbol('s'), log)]],
    ['a backlog object whose valueOf throws', (log) => [0, convertible('b', 5, log, { throws: true })]],
    [
      'a 3rd-place backlog whose valueOf throws',
      (log) => [0, '127.0.0.1', convertible('b', 5, log, { throws: true })],
    ],
    ['Symbol.toPrimitive', (log) => [0, convertible('b', 3, log, { toPrimitive: true })]],
    [
      'Symbol.toPrimitive that throws',
      (log) => [0, convertible('b', 3, log, { toPrimitive: true, throws: true })],
    ],
    ['a port object (never converted)', (log) => [convertible('p', 0, log)]],
    ['options.port object', (log) => [{ port: convertible('p', 0, log) }]],
    ['options.fd object', (log) => [{ fd: convertible('f', 99999, log) }]],
    // listen(2) converts the backlog (Int32Value) once the socket is bound.
    ['options.backlog object', (log) => [{ port: 0, backlog: convertible('b', 5, log) }]],
    [
      'options.backlog object whose valueOf throws',
      (log) => [{ port: 0, backlog: convertible('b', 5, log, { throws: true }) }],
    ],
    ['options.backlog Symbol', () => [{ port: 0, backlog: Symbol('backlog') }]],
    ['options.backlog BigInt', () => [{ port: 0, backlog: 5n }]],
    ['options.backlog string', () => [{ port: 0, backlog: '9' }]],
  ];

  test.each(cases)('%s', async (name, makeArgs) => {
    await expectParity(fuzzCall(makeArgs));
  });
});

test('after all of this, the process is alive and listen() still works', async () => {
  await expectParity(fuzzCall(() => [0, '127.0.0.1', 5]));
});
