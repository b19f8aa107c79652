'use strict';

// A server's state around listen(), on Node's net and on rs-net: address(),
// listening, close() and 'close', getConnections, maxConnections, AbortSignal,
// Symbol.asyncDispose, ref/unref, own properties, constructor options.

const { spawn } = require('child_process');
const path = require('path');

const { expectParity, nodeMajor, nodeNet, turns } = require('./helpers/parity');
const { callListen, shutdown, tempDir, waitSettled, watchedServer } = require('./helpers/listen-scenario');

let temp;
beforeAll(() => {
  temp = tempDir();
});
afterAll(() => {
  temp.remove();
});

/** Connects a client to `server`; resolves with the client once connected. */
function connectClient(server) {
  const address = server.address();
  const target = typeof address === 'string' ? address : { port: address.port, host: '127.0.0.1' };
  return new Promise((resolve, reject) => {
    const client = nodeNet.connect(target, () => resolve(client));
    client.on('error', reject);
  });
}

/** Resolves once `socket` has closed. */
const closed = (socket) => new Promise((resolve) => socket.once('close', resolve));

describe('address()', () => {
  test.each([
    ['IPv4', [0, '127.0.0.1']],
    ['IPv6', [0, '::1']],
    ["no host: '::'", [0]],
    ['0.0.0.0', [0, '0.0.0.0']],
    ['a Unix socket', () => [temp.file('address.sock')]],
    ['an abstract Unix socket', ['\0rs-net-address']],
  ])('%s: before, during, after listen, after close', async (name, args) => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      observe('before listen', { address: server.address(), listening: server.listening });
      callListen(server, typeof args === 'function' ? args() : args, observe);
      await waitSettled(server, observe);
      observe('listening', { address: server.address(), listening: server.listening });
      server.close();
      // A pipe server keeps reporting its name after close; TCP gives null.
      observe('right after close()', { address: server.address(), listening: server.listening });
      await turns(2);
    });
  });

  test('during a host lookup it is null and listening is false', async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      server.listen(0, 'localhost');
      observe('pending', { address: server.address(), listening: server.listening });
      await waitSettled(server, observe);
      await shutdown(server);
    });
  });
});

test("'listening' is an enumerable accessor on the prototype", async () => {
  await expectParity(async (net, observe) => {
    let prototype = net.Server.prototype;
    while (!Object.hasOwn(prototype, 'listening')) prototype = Object.getPrototypeOf(prototype);
    const descriptor = Object.getOwnPropertyDescriptor(prototype, 'listening');
    observe('descriptor', {
      get: typeof descriptor.get,
      set: typeof descriptor.set,
      enumerable: descriptor.enumerable,
      configurable: descriptor.configurable,
    });
    observe('own', Object.prototype.hasOwnProperty.call(net.createServer(), 'listening'));
  });
});

test('own enumerable properties at each stage', async () => {
  await expectParity(async (net, observe) => {
    const server = watchedServer(net, observe);
    observe('new', Object.keys(server));
    server.listen(0);
    observe('listening', Object.keys(server));
    await waitSettled(server, observe);
    await shutdown(server);
    observe('closed', Object.keys(server));
    const pipe = watchedServer(net, observe);
    pipe.listen(temp.file('keys.sock'));
    observe('pipe', Object.keys(pipe));
    await waitSettled(pipe, observe);
    await shutdown(pipe);
  });
});

describe('close()', () => {
  test("close(cb): 'close' on the next tick, then cb with no error", async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      server.listen(0);
      await waitSettled(server, observe);
      observe('returned', server.close((...args) => observe('cb', args)) === server);
      process.nextTick(() => observe('nextTick'));
      observe('listening', server.listening);
      await turns(2);
    });
  });

  test('close(cb) when not listening: cb gets ERR_SERVER_NOT_RUNNING, and close is emitted', async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      server.close((error) => observe('cb', error));
      process.nextTick(() => observe('nextTick'));
      await turns(2);
      server.close();
      await turns(2);
    });
  });

  test('close() twice: the second callback gets ERR_SERVER_NOT_RUNNING', async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      server.listen(0);
      await waitSettled(server, observe);
      server.close((error) => observe('first cb', error));
      server.close((error) => observe('second cb', error));
      await turns(3);
    });
  });

  test('close() before listening was emitted: no listening event', async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      server.listen(0, () => observe('listen cb'));
      server.close(() => observe('close cb'));
      await turns(3);
    });
  });

  test('close() during a host lookup: nothing binds later', async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      server.listen(0, '127.0.0.1');
      server.close((error) => observe('close cb', error));
      await turns(3);
      observe('state', { listening: server.listening, address: server.address() });
    });
  });

  test("'close' waits for open connections", async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      const accepted = new Promise((resolve) => server.once('connection', resolve));
      server.listen(0, '127.0.0.1');
      await waitSettled(server, observe);
      const client = await connectClient(server);
      const socket = await accepted;
      server.close(() => observe('close cb'));
      observe('listening after close()', server.listening);
      await turns(3);
      observe('connections', server._connections);
      client.destroy();
      await closed(socket);
      observe('socket closed');
      await turns(3);
    });
  });

  test('listen() works again after close()', async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      server.listen(0, '127.0.0.1');
      await waitSettled(server, observe);
      await shutdown(server);
      callListen(server, [0, '127.0.0.1'], observe);
      await waitSettled(server, observe);
      await shutdown(server);
    });
  });
});

describe('getConnections()', () => {
  test('calls back on the next tick with the count, and returns the server', async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      observe(
        'returns server',
        server.getConnections((...args) => observe('not listening', args)) === server,
      );
      process.nextTick(() => observe('nextTick'));
      await turns(1);
      const accepted = new Promise((resolve) => server.once('connection', resolve));
      server.listen(0, '127.0.0.1');
      await waitSettled(server, observe);
      const client = await connectClient(server);
      const socket = await accepted;
      await new Promise((resolve) =>
        server.getConnections((...args) => {
          observe('one open', args);
          resolve();
        }),
      );
      client.destroy();
      await closed(socket);
      await new Promise((resolve) =>
        server.getConnections((...args) => {
          observe('after it closed', args);
          resolve();
        }),
      );
      await shutdown(server);
    });
  });

  test('without a callback it throws from process.nextTick', async () => {
    await expectParity(async (net, observe) => {
      try {
        net.createServer().getConnections();
      } catch (error) {
        observe('threw', error);
      }
    });
  });
});

describe('maxConnections', () => {
  // Node 20 treats 0 as "no limit"; Node 22 and later refuse everything.
  test.each([
    ['0', 0],
    ['1', 1],
    ['null', null],
    ['undefined', undefined],
    ['a string', '1'],
    ['NaN', NaN],
  ])('%s, with one connection already open', async (name, limit) => {
    const log = await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      const sockets = [];
      server.on('connection', (socket) => {
        observe('connection');
        sockets.push(socket);
      });
      server.on('drop', (data) => observe('drop', data && { ...data }));
      server.listen(0, '127.0.0.1');
      await waitSettled(server, observe);
      const firstAccepted = new Promise((resolve) => server.once('connection', resolve));
      const first = await connectClient(server);
      await firstAccepted;
      server.maxConnections = limit;
      observe('maxConnections', server.maxConnections);
      // The server either accepts the second connection or drops it. (rs-net
      // refuses it natively and then tells JavaScript, so its client may see
      // the connection closed before the server emits 'drop': wait for the
      // server's side.)
      const secondSeen = new Promise((resolve) => {
        server.once('connection', resolve);
        server.once('drop', resolve);
      });
      const second = await connectClient(server);
      const secondClosed = closed(second);
      second.resume();
      await secondSeen;
      second.destroy();
      await secondClosed;
      first.destroy();
      for (const socket of sockets) socket.destroy();
      await shutdown(server);
    });
    if (limit === 0) {
      const dropped = log.some(([label]) => label === 'drop');
      expect(dropped).toBe(nodeMajor >= 22);
    }
  });
});

describe('AbortSignal', () => {
  test('an already aborted signal closes the server on the next tick', async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      callListen(server, [{ port: 0, signal: AbortSignal.abort() }], observe);
      await turns(3);
      observe('listening', server.listening);
    });
  });

  test('aborting later closes the server', async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      const controller = new AbortController();
      callListen(server, [{ port: 0, host: '127.0.0.1', signal: controller.signal }], observe);
      await waitSettled(server, observe);
      controller.abort();
      observe('listening after abort()', server.listening);
      await turns(3);
    });
  });

  test('after close, aborting does nothing', async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      const controller = new AbortController();
      server.listen({ port: 0, signal: controller.signal });
      await waitSettled(server, observe);
      await shutdown(server);
      controller.abort();
      await turns(2);
    });
  });

  test.each([
    ['null', null],
    ['a number', 1],
    ['a string', 'signal'],
    ['a plain object', {}],
    ['a function', () => {}],
    ['an object with aborted', { aborted: false }],
  ])('a signal that is %s', async (name, signal) => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      if (callListen(server, [{ port: 0, signal }], observe)) await waitSettled(server, observe);
      await shutdown(server);
    });
  });
});

describe('Symbol.asyncDispose', () => {
  // Node's own symbol: a registry symbol on Node 20 and 22, which Jest's
  // sandbox does not install as Symbol.asyncDispose.
  const asyncDispose = Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose');

  test('closes a listening server; resolves on one that is not', async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      observe('is a function', typeof server[asyncDispose]);
      observe('not listening', await server[asyncDispose]());
      server.listen(0);
      await waitSettled(server, observe);
      const disposed = server[asyncDispose]();
      observe('listening', server.listening);
      observe('resolved', await disposed);
      await turns(1);
    });
  });

  test('settles at the same microtask as Node', async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      server.listen(0);
      await waitSettled(server, observe);
      server.once('close', () => {
        // A chain of microtasks, started when 'close' is emitted.
        let step = 0;
        const next = () => {
          observe('microtask', ++step);
          if (step < 6) return Promise.resolve().then(next);
        };
        Promise.resolve().then(next);
      });
      await server[asyncDispose]().then(() => observe('disposed'));
      await turns(1);
    });
  });
});

describe('ref() / unref()', () => {
  test('return the server, before and while listening', async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      observe('before', [server.unref() === server, server.ref() === server, server._unref]);
      server.unref();
      server.listen(0);
      await waitSettled(server, observe);
      observe('while', [server._unref, server.ref() === server, server._unref, server.unref() === server]);
      await shutdown(server);
    });
  });

  /** Runs a script in a child with `module` as `net`; resolves with its exit and output. */
  function runScript(module, script) {
    const child = spawn(
      process.execPath,
      ['-e', `const net = require(${JSON.stringify(module)});\n${script}`],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
  }
  const modules = { node: 'net', rs: path.join(__dirname, '..') };

  // An unref'ed listening server does not keep the process alive...
  test('an unref()ed server lets the process exit', async () => {
    const script = `net.createServer().listen(0, function () { this.unref(); console.log('listening'); });`;
    const results = {};
    for (const [name, module] of Object.entries(modules)) results[name] = await runScript(module, script);
    expect(results.rs).toEqual(results.node);
    expect(results.node).toEqual({ code: 0, output: 'listening\n' });
  });

  // ...and a ref()ed one does: an unref'ed timer only fires if something
  // else keeps the loop alive.
  test('unref() before listen(), then ref(), keeps the process alive', async () => {
    const script = [
      'const server = net.createServer().unref();',
      'server.listen(0, () => {',
      '  server.ref();',
      "  setTimeout(() => { console.log('still alive'); server.close(); }, 50).unref();",
      '});',
    ].join('\n');
    const results = {};
    for (const [name, module] of Object.entries(modules)) results[name] = await runScript(module, script);
    expect(results.rs).toEqual(results.node);
    expect(results.node).toEqual({ code: 0, output: 'still alive\n' });
  });
});

describe('constructor options', () => {
  test.each([
    ['new Server(5)', (net) => new net.Server(5)],
    ["Server('x') without new", (net) => net.Server('x')],
    ['createServer(true)', (net) => net.createServer(true)],
    ['createServer(null, listener)', (net) => net.createServer(null, () => {})],
    ['createServer(listener)', (net) => net.createServer(() => {})],
    ['createServer(options, not a function)', (net) => net.createServer({}, 5)],
    ["keepAliveInitialDelay: '1'", (net) => net.createServer({ keepAliveInitialDelay: '1' })],
    ['keepAliveInitialDelay: -5', (net) => net.createServer({ keepAliveInitialDelay: -5 })],
    ['keepAliveInitialDelay: 2500', (net) => net.createServer({ keepAliveInitialDelay: 2500 })],
    ['keepAliveInitialDelay: NaN', (net) => net.createServer({ keepAliveInitialDelay: NaN })],
    ['keepAliveInitialDelay: null', (net) => net.createServer({ keepAliveInitialDelay: null })],
    ["highWaterMark: '1'", (net) => net.createServer({ highWaterMark: '1' })],
    ['highWaterMark: -1', (net) => net.createServer({ highWaterMark: -1 })],
    ['highWaterMark: null', (net) => net.createServer({ highWaterMark: null })],
    ['highWaterMark: 1024', (net) => net.createServer({ highWaterMark: 1024 })],
    ['highWaterMark: 1n', (net) => net.createServer({ highWaterMark: 1n })],
    ['blockList: {}', (net) => net.createServer({ blockList: {} })],
    [
      'flags',
      (net) => net.createServer({ allowHalfOpen: 1, pauseOnConnect: 'yes', noDelay: 0, keepAlive: [] }),
    ],
  ])('%s', async (name, make) => {
    await expectParity(async (net, observe) => {
      try {
        const server = make(net);
        observe('made', {
          keys: Object.keys(server),
          allowHalfOpen: server.allowHalfOpen,
          pauseOnConnect: server.pauseOnConnect,
          noDelay: server.noDelay,
          keepAlive: server.keepAlive,
          keepAliveInitialDelay: server.keepAliveInitialDelay,
          highWaterMark: server.highWaterMark,
          connectionListeners: server.listenerCount('connection'),
        });
      } catch (error) {
        observe('threw', error);
      }
    });
  });
});
