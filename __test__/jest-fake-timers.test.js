'use strict';

// Jest's fake timers replace the sandbox's setTimeout, setImmediate,
// process.nextTick, queueMicrotask, Date, performance and hrtime with clocks
// only the test advances. Node's net
// schedules on Node's own, so its servers keep running under them: listen()
// calls back, connections are answered, close() calls back. rs-net's must
// too. Everything this file waits with is Node's own: the `timers` module,
// which Jest never fakes, and perf_hooks' clock.

const { spawn } = require('child_process');
const net = require('net');
const path = require('path');
const { performance: clock } = require('perf_hooks');
const timers = require('timers');
const { BATCH_SIZE } = require('../binding');
// Reads /proc only: no timers.
const { openSockets } = require('./helpers/conn-util');

const HOST = '127.0.0.1';
const clientsScript = path.join(__dirname, 'fixtures', 'conn-clients.js');

const pause = (ms) => new Promise((resolve) => timers.setTimeout(resolve, ms));

async function until(predicate, what) {
  for (let tries = 0; tries < 2000; tries++) {
    if (predicate()) return;
    await pause(5);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function ask(port) {
  return new Promise((resolve, reject) => {
    const client = net.connect(port, HOST, () => client.write('x'));
    let reply = '';
    client.setEncoding('utf8');
    client.on('data', (chunk) => (reply += chunk));
    client.on('end', () => resolve(reply));
    client.on('error', reject);
  });
}

// listen() with a callback, a client answered, a second listen() on the
// same port failing, close() with a callback: what was seen, in order.
async function serve(netModule) {
  const seen = [];
  const server = netModule.createServer((socket) => socket.on('data', () => socket.end('ok')));
  await new Promise((resolve) =>
    server.listen(0, HOST, () => {
      seen.push('listening');
      resolve();
    }),
  );
  const { port } = server.address();
  seen.push(`reply ${await ask(port)}`);
  const other = netModule.createServer();
  const error = await new Promise((resolve) => {
    other.on('error', resolve);
    other.listen(port, HOST);
  });
  seen.push(`error ${error.code} ${error.syscall}`);
  await new Promise((resolve) =>
    server.close(() => {
      seen.push('closed');
      resolve();
    }),
  );
  return seen;
}

// listen() with a signal aborted already: what is seen, in order, within a
// few turns of the event loop.
async function listenAborted(netModule) {
  const seen = [];
  const server = netModule.createServer();
  for (const event of ['listening', 'close']) server.on(event, () => seen.push(event));
  server.on('error', (error) => seen.push(`error ${error.code}`));
  const controller = new AbortController();
  controller.abort();
  server.listen({ port: 0, host: HOST, signal: controller.signal });
  await pause(50);
  if (server.listening) await new Promise((resolve) => server.close(resolve));
  return seen;
}

describe.each([
  ['modern fake timers', {}],
  ['legacy fake timers', { legacyFakeTimers: true }],
])('under %s', (_name, config) => {
  // rs-net is loaded after the timers are faked, as Jest's
  // `fakeTimers: { enableGlobally: true }` would have it.
  let rsNet;
  beforeEach(() => {
    jest.useFakeTimers(config);
    jest.isolateModules(() => (rsNet = require('..')));
  });
  afterEach(() => {
    // Nothing rs-net did waits on the fake clock.
    expect(jest.getTimerCount()).toBe(0);
    jest.useRealTimers();
  });

  test("a server listens, answers and closes as Node's does", async () => {
    const expected = await serve(net);
    expect(expected).toEqual(['listening', 'reply ok', 'error EADDRINUSE listen', 'closed']);
    expect(await serve(rsNet)).toEqual(expected);
  }, 15000);

  test("a signal aborted before listen() closes the server as Node's", async () => {
    const expected = await listenAborted(net);
    expect(expected).toContain('close');
    expect(await listenAborted(rsNet)).toEqual(expected);
  }, 15000);

  // More connections wait than one batch carries, so the rest are pulled
  // on later turns of the event loop (with Node's setImmediate).
  test('a burst larger than a batch is delivered in full', async () => {
    const COUNT = BATCH_SIZE * 3;
    let delivered = 0;
    const server = rsNet.createServer((socket) => {
      delivered++;
      socket.pipe(socket);
    });
    await new Promise((resolve) => server.listen(0, HOST, resolve));
    const child = spawn(
      process.execPath,
      [clientsScript, String(server.address().port), String(COUNT), 'wait'],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (output += chunk));
    const exited = new Promise((resolve) => child.on('close', resolve));
    try {
      await until(() => output.startsWith('ready\n'), 'the client process');
      const before = openSockets();
      child.stdin.end('go\n');
      // This thread waits while the accept loop takes every connection.
      const deadline = clock.now() + 10000;
      while (openSockets() < before + COUNT && clock.now() < deadline);
      await until(() => delivered === COUNT, 'every connection to be delivered');
      expect(await exited).toBe(0);
      expect(JSON.parse(output.slice('ready\n'.length))).toEqual({
        connected: COUNT,
        echoed: COUNT,
        errors: [],
      });
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => server.close(resolve));
    }
  }, 30000);
});
