'use strict';

// Every call form of server.listen(), run on Node's net and on rs-net: how
// the arguments are told apart (what reaches _listen2: address, port,
// backlog, flags), the state at return, and when 'listening' comes.

const { expectParity, nodeMajor } = require('./helpers/parity');
const {
  callListen,
  probeTurns,
  recordListen2,
  shutdown,
  inTemporaryWorkingDirectory,
  waitSettled,
  watchedServer,
} = require('./helpers/listen-scenario');

// Relative Unix socket paths ('./rel.sock', and '-1', which is a path) are
// bound in this directory, made the working directory for the file.
inTemporaryWorkingDirectory();

/**
 * One listen() call: `makeArgs(cb)` builds the arguments, `cb` being a
 * callback that records its calls. Observes what _listen2 receives, the state
 * at return, the callback, and (unless `probe` is false, for hosts looked up
 * on the thread pool, whose timing varies) where 'listening' falls between
 * nextTick and setImmediate callbacks queued right after the call.
 */
function listenForm(makeArgs, { probe = true } = {}) {
  return async (net, observe) => {
    const server = watchedServer(net, observe);
    recordListen2(server, observe);
    const cb = function (...args) {
      observe('callback', { self: this === server, args });
    };
    const args = makeArgs(cb);
    if (callListen(server, args, observe)) {
      if (probe) probeTurns(observe);
      const [wrapper] = server.rawListeners('listening').filter((listener) => listener.listener === cb);
      observe('callback registered once', wrapper !== undefined);
      await waitSettled(server, observe);
    }
    await shutdown(server);
  };
}

const forms = [
  ['listen()', () => []],
  ['listen(cb)', (cb) => [cb]],
  ['listen(null)', () => [null]],
  ['listen(null, cb)', (cb) => [null, cb]],
  ['listen(undefined, cb)', (cb) => [undefined, cb]],
  ['listen(port)', () => [0]],
  ['listen(port, cb)', (cb) => [0, cb]],
  ['listen(port, host)', () => [0, '127.0.0.1']],
  ['listen(port, IPv6 host)', () => [0, '::1']],
  ['listen(port, "::")', () => [0, '::']],
  ['listen(port, "0.0.0.0")', () => [0, '0.0.0.0']],
  ['listen(port, host, backlog, cb)', (cb) => [0, '127.0.0.1', 5, cb]],
  ['listen(port, backlog, cb)', (cb) => [0, 5, cb]],
  ['listen(port, backlog)', () => [0, 6]],
  ['listen(port, "", backlog): empty host, backlog from 3rd', () => [0, '', 8]],
  ['listen(port, undefined, backlog): backlog from 3rd', () => [0, undefined, 9]],
  ['listen(port, 0, backlog): 2nd is 0, so the 3rd', () => [0, 0, 10]],
  ['listen(port, -1, backlog): 2nd negative, so the 3rd', () => [0, -1, 11]],
  ['listen(port, backlog, backlog): 2nd wins', () => [0, 12, 13]],
  ['listen(port, host, undefined): no backlog', () => [0, '127.0.0.1', undefined]],
  ['listen(port, null, cb)', (cb) => [0, null, cb]],
  ["listen('0'): a string of digits is a port", () => ['0']],
  ["listen(' 0 ')", () => [' 0 ']],
  ["listen('0', host, cb)", (cb) => ['0', '127.0.0.1', cb]],
  ["listen('./rel.sock'): a relative path", () => ['./rel.sock']],
  ["listen('-1'): not a number >= 0, so a path", () => ['-1']],
  ["listen('1e400'): Infinity is a number >= 0, so a port (invalid)", () => ['1e400']],
  ['listen(path, backlog, cb)', (cb) => ['./backlog.sock', 4, cb]],
  ['listen(path, cb)', (cb) => ['./cb.sock', cb]],
  ['listen(options, cb)', (cb) => [{ port: 0, host: '127.0.0.1', backlog: 3 }, cb]],
  ['listen(options, backlog): options.backlog wins', () => [{ port: 0, backlog: 3 }, 21]],
  ['listen(options without backlog, backlog)', () => [{ port: 0 }, 22]],
  ['listen({ port: undefined })', () => [{ port: undefined }]],
  ['listen({ port: null })', () => [{ port: null }]],
  ["listen({ port: '0' })", () => [{ port: '0' }]],
  ['listen({ port: 0, exclusive: true })', () => [{ port: 0, exclusive: true }]],
  ['listen({ port: 0, host: "::1", ipv6Only: true })', () => [{ port: 0, host: '::1', ipv6Only: true }]],
  ['listen({ port: 0, ipv6Only: true }) (no host)', () => [{ port: 0, ipv6Only: true }]],
  ['listen({ path, backlog })', () => [{ path: './opts.sock', backlog: 2 }]],
  ['listen({ path, port }): a port wins', () => [{ path: './never.sock', port: 0 }]],
  ['listen({ path: 5 }): not a pipe name', () => [{ path: 5 }]],
  ['listen({}): neither port nor path', () => [{}]],
  ['listen({ host }) without a port', () => [{ host: '127.0.0.1' }]],
  ['listen({ port: true })', () => [{ port: true }]],
  ['listen({ backlog: 5 }, cb)', (cb) => [{ backlog: 5 }, cb]],
  ['listen(cb, 5): a function first is listen(cb)', (cb) => [cb, 5]],
];

describe.each(forms)('%s', (name, makeArgs) => {
  test('matches Node', async () => {
    await expectParity(listenForm(makeArgs));
  });
});

// '7' is not an IP address for dns.lookup, so getaddrinfo resolves it (to
// 0.0.0.7, locally, with no traffic); it is also the backlog.
test('listen(port, "7"): a numeric string is a host, and a backlog', async () => {
  await expectParity(listenForm(() => [0, '7'], { probe: false }));
});

// On Node 20, listen() leaves the flags out when no host is given, so
// ipv6Only and reusePort have no effect there; rs-net keeps reusePort (a
// deliberate difference), and only it.
test('listen({ port: 0, reusePort: true }) with no host', async () => {
  const scenario = listenForm(() => [{ port: 0, reusePort: true }]);
  if (nodeMajor >= 22) {
    await expectParity(scenario);
    return;
  }
  const { runBoth } = require('./helpers/parity');
  const { node, rs } = await runBoth(scenario);
  const flagsOf = (log) => log.find(([label]) => label === '_listen2')[1][5];
  expect(flagsOf(node)).toBeUndefined();
  expect(flagsOf(rs)).toBe(2); // libuv's UV_TCP_REUSEPORT
  const withoutListen2 = (log) => log.filter(([label]) => label !== '_listen2');
  expect(withoutListen2(rs)).toEqual(withoutListen2(node));
});

describe('timing', () => {
  // With no host, listen() binds before it returns; with a host (even an IP
  // literal), it first looks the host up and is not listening at return.
  // Either way 'listening' is emitted on process.nextTick, never from
  // inside listen().
  test('no host: listening and addressed at return, event after the call', async () => {
    const log = await expectParity(listenForm(() => [0]));
    const returned = log.find(([label]) => label === 'returned')[1];
    expect(returned.listening).toBe(true);
    expect(returned.address).toEqual(expect.objectContaining({ family: 'IPv6', address: '::' }));
    const labels = log.map(([label]) => label);
    expect(labels.indexOf('returned')).toBeLessThan(labels.indexOf('listening'));
    expect(labels.indexOf('listening')).toBeLessThan(labels.indexOf('setImmediate'));
  });

  test('IP literal host: not listening at return, listening before setImmediate', async () => {
    const log = await expectParity(listenForm(() => [0, '127.0.0.1']));
    const returned = log.find(([label]) => label === 'returned')[1];
    expect(returned).toEqual({ self: true, listening: false, address: null });
    const labels = log.map(([label]) => label);
    expect(labels.indexOf('nextTick')).toBeLessThan(labels.indexOf('listening'));
    expect(labels.indexOf('listening')).toBeLessThan(labels.indexOf('setImmediate'));
  });

  // 'localhost' is looked up (in /etc/hosts) on the thread pool, so when it
  // completes relative to setImmediate varies from run to run: observe only
  // what is deterministic.
  test("'localhost': not listening at return, bound after dns.lookup", async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      recordListen2(server, observe);
      callListen(server, [0, 'localhost'], observe);
      let sync = true;
      server.once('listening', () => observe('listening was synchronous', sync));
      sync = false;
      await waitSettled(server, observe);
      await shutdown(server);
    });
  });

  test('an error (port in use) is emitted on next tick, not thrown', async () => {
    const blocker = require('net').createServer();
    await new Promise((resolve) => blocker.listen(0, resolve));
    const { port } = blocker.address();
    try {
      await expectParity(listenForm(() => [port]));
    } finally {
      await shutdown(blocker);
    }
  });
});

describe('the callback', () => {
  test("is a once-listener of 'listening', removed after it runs", async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      const cb = () => observe('cb', server.listenerCount('listening'));
      server.listen(0, cb);
      observe('listeners', server.listenerCount('listening'));
      observe('listeners include cb', server.listeners('listening').includes(cb));
      await waitSettled(server, observe);
      observe('listeners after', server.listenerCount('listening'));
      await shutdown(server);
    });
  });

  test('is not called when listening fails, and stays registered', async () => {
    const blocker = require('net').createServer();
    await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      await expectParity(async (net, observe) => {
        const server = watchedServer(net, observe);
        server.listen(blocker.address().port, '127.0.0.1', () => observe('cb'));
        await waitSettled(server, observe);
        observe('listeners', server.listenerCount('listening'));
        server.listen(0, '127.0.0.1');
        await waitSettled(server, observe);
        await shutdown(server);
      });
    } finally {
      await shutdown(blocker);
    }
  });

  test('is registered even when listen() then throws', async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      callListen(server, [{ port: -1 }, () => observe('cb')], observe);
      observe('listeners', server.listenerCount('listening'));
      callListen(server, [0, Symbol('backlog'), () => observe('cb2')], observe);
      observe('listeners', server.listenerCount('listening'));
      await shutdown(server);
    });
  });
});

// Node traces listen() on the 'net.server.listen' tracing channel: asyncStart
// with the normalized options, then asyncEnd once listening, or error.
test("the 'net.server.listen' tracing channel", async () => {
  const dc = require('diagnostics_channel');
  const channel = dc.tracingChannel('net.server.listen');
  const events = [];
  const handlers = {
    start: () => events.push(['start']),
    end: () => events.push(['end']),
    asyncStart: ({ server, options }) => events.push(['asyncStart', server, { ...options }]),
    asyncEnd: ({ server }) => events.push(['asyncEnd', server]),
    error: ({ server, error }) => events.push(['error', server, error]),
  };
  channel.subscribe(handlers);
  const blocker = require('net').createServer();
  await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  try {
    await expectParity(async (net, observe) => {
      for (const args of [
        [0],
        [{ port: 0, host: '127.0.0.1' }],
        ['./traced.sock'],
        [blocker.address().port, '127.0.0.1'],
      ]) {
        const server = watchedServer(net, observe);
        events.length = 0;
        callListen(server, args, observe);
        observe(
          'traced at return',
          events.map(([name, subject, detail]) => [name, subject === server, detail]),
        );
        await waitSettled(server, observe);
        observe(
          'traced',
          events.map(([name, subject, detail]) => [name, subject === server, detail]),
        );
        await shutdown(server);
      }
    });
  } finally {
    channel.unsubscribe(handlers);
    await shutdown(blocker);
  }
});
