'use strict';

// createServer() options have Node's effect on the sockets the server
// accepts: on the JavaScript object and on the kernel socket itself.

const { expectParity, closeServer, turns } = require('./helpers/parity');
const { pair, listenOn, tempDir, waitFor, watchSocket } = require('./helpers/conn-util');
const { tcpOptions } = require('./helpers/conn-sockopt');

let temp;
beforeAll(() => {
  temp = tempDir();
});
afterAll(() => temp.cleanup());

async function withPair(net, transport, options, body) {
  const server = net.createServer(options);
  const target = await listenOn(server, transport, temp.dir);
  const { client, socket } = await pair(server, target);
  try {
    await body({ server, client, socket });
  } finally {
    client.destroy();
    socket.destroy();
    await closeServer(server);
  }
}

function privateFlags(socket) {
  // Pairs, not an object: toEqual() would not tell a missing key from an
  // undefined one.
  return Object.getOwnPropertySymbols(socket)
    .filter((symbol) => /^kSet(NoDelay|KeepAlive)/.test(symbol.description))
    .map((symbol) => [symbol.description, String(socket[symbol])]);
}

describe('TCP socket options of accepted sockets', () => {
  test.each([
    ['no options', {}],
    ['noDelay', { noDelay: true }],
    ['keepAlive', { keepAlive: true }],
    ['keepAlive with keepAliveInitialDelay', { keepAlive: true, keepAliveInitialDelay: 7000 }],
    ['keepAliveInitialDelay rounding down', { keepAlive: true, keepAliveInitialDelay: 2999 }],
    ['keepAliveInitialDelay without keepAlive', { keepAliveInitialDelay: 5000 }],
    ['everything', { noDelay: true, keepAlive: true, keepAliveInitialDelay: 3000 }],
  ])('%s', async (_name, options) => {
    const log = await expectParity(async (net, observe) => {
      await withPair(net, 'tcp', options, async ({ server, socket }) => {
        observe('server', {
          noDelay: server.noDelay,
          keepAlive: server.keepAlive,
          keepAliveInitialDelay: server.keepAliveInitialDelay,
        });
        observe('flags', privateFlags(socket));
        observe('kernel', tcpOptions(socket._handle.fd));
        // A later call compares with the flags the server recorded.
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 11000);
        observe('kernel after set', tcpOptions(socket._handle.fd));
        observe('flags after set', privateFlags(socket));
      });
    });
    // The comparison is only meaningful if the options reached the kernel.
    const kernel = log.find(([label]) => label === 'kernel')[1];
    expect(kernel.TCP_NODELAY !== 0).toBe(Boolean(options.noDelay));
    expect(kernel.SO_KEEPALIVE !== 0).toBe(Boolean(options.keepAlive));
  });

  test('options changed on the server after creation apply to later connections', async () => {
    await expectParity(async (net, observe) => {
      const server = net.createServer();
      const target = await listenOn(server, 'tcp');
      server.noDelay = true;
      server.keepAlive = true;
      server.keepAliveInitialDelay = 9;
      const { client, socket } = await pair(server, target);
      observe('kernel', tcpOptions(socket._handle.fd));
      observe('flags', privateFlags(socket));
      client.destroy();
      socket.destroy();
      await closeServer(server);
    });
  });
});

describe.each(['tcp', 'unix'])('stream options over %s', (transport) => {
  test.each([
    ['default', {}],
    ['highWaterMark', { highWaterMark: 1024 }],
    ['highWaterMark 0', { highWaterMark: 0 }],
    ['negative highWaterMark', { highWaterMark: -5 }],
    ['allowHalfOpen', { allowHalfOpen: true }],
    ['allowHalfOpen truthy', { allowHalfOpen: 1 }],
  ])('%s', async (_name, options) => {
    await expectParity(async (net, observe) => {
      await withPair(net, transport, options, async ({ server, socket }) => {
        observe('server', { highWaterMark: server.highWaterMark, allowHalfOpen: server.allowHalfOpen });
        observe('socket', {
          readableHighWaterMark: socket.readableHighWaterMark,
          writableHighWaterMark: socket.writableHighWaterMark,
          allowHalfOpen: socket.allowHalfOpen,
        });
      });
    });
  });

  test('highWaterMark governs writes of the accepted socket', async () => {
    await expectParity(async (net, observe) => {
      await withPair(net, transport, { highWaterMark: 10 }, async ({ socket }) => {
        observe('small write', socket.write('123456789'));
        observe('over the mark', socket.write('0123456789'));
      });
    });
  });

  test('pauseOnConnect: nothing is read until resume()', async () => {
    await expectParity(async (net, observe) => {
      await withPair(net, transport, { pauseOnConnect: true }, async ({ server, client, socket }) => {
        observe('server', server.pauseOnConnect);
        observe('socket', { flowing: socket.readableFlowing, isPaused: socket.isPaused() });
        const closed = watchSocket(socket, 'server', observe);
        client.write('waiting');
        await new Promise((resolve) => setTimeout(resolve, 100));
        observe('while paused', { bytesRead: socket.bytesRead, readableLength: socket.readableLength });
        socket.resume();
        await waitFor(() => socket.bytesRead === 7, { what: 'data after resume' });
        client.end();
        await closed;
      });
    });
  });

  test('pauseOnConnect with a read() pull', async () => {
    await expectParity(async (net, observe) => {
      await withPair(net, transport, { pauseOnConnect: true }, async ({ client, socket }) => {
        client.write('abc');
        await new Promise((resolve) => setTimeout(resolve, 50));
        observe('read before', socket.read());
        socket.once('readable', () => observe('readable', String(socket.read())));
        await waitFor(() => socket.bytesRead === 3, { what: 'read to start' });
        await turns();
      });
    });
  });
});
