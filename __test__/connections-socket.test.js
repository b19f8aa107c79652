'use strict';

// The socket a server hands over with 'connection': the same object, state
// and events as Node's, in every way a connection can go.

const { expectParity, closeServer, once, turns } = require('./helpers/parity');
const path = require('path');
const { pair, listenOn, runNode, tempDir, waitFor, watchSocket } = require('./helpers/conn-util');

let temp;
beforeAll(() => {
  temp = tempDir();
});
afterAll(() => temp.cleanup());

// What can be compared of a socket's state (addresses are normalized so a
// Unix socket's path does not differ between the two runs).
function state(socket, target) {
  const local = socket.address();
  const samePath = (value) => (target.path !== undefined && value === target.path ? '<path>' : value);
  return {
    instanceofNetSocket: socket instanceof require('net').Socket,
    constructor: socket.constructor.name,
    readyState: socket.readyState,
    connecting: socket.connecting,
    pending: socket.pending,
    address: typeof local === 'object' ? local : samePath(local),
    localAddress: samePath(socket.localAddress),
    localPort: socket.localPort,
    localFamily: socket.localFamily,
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    remoteFamily: socket.remoteFamily,
    bytesRead: socket.bytesRead,
    bytesWritten: socket.bytesWritten,
    readable: socket.readable,
    writable: socket.writable,
    allowHalfOpen: socket.allowHalfOpen,
    readableFlowing: socket.readableFlowing,
    isPaused: socket.isPaused(),
    timeout: socket.timeout,
    destroyed: socket.destroyed,
    handleType: socket._handle && socket._handle.constructor.name,
    fdIsNumber: socket._handle ? typeof socket._handle.fd === 'number' && socket._handle.fd > 2 : null,
    ownKeys: Object.keys(socket),
    ownSymbols: Object.getOwnPropertySymbols(socket).map((symbol) => symbol.description),
    readableHighWaterMark: socket.readableHighWaterMark,
    writableHighWaterMark: socket.writableHighWaterMark,
  };
}

// More than the kernel can buffer between the two ends (the largest receive
// and send buffers TCP may grow to), so that a reader that stops reading
// makes the writer back up.
function backpressureTotal() {
  const largest = (file) => {
    try {
      return Number(require('fs').readFileSync(file, 'utf8').trim().split(/\s+/).pop()) || 0;
    } catch {
      return 0;
    }
  };
  const kernel = largest('/proc/sys/net/ipv4/tcp_rmem') + largest('/proc/sys/net/ipv4/tcp_wmem');
  return Math.max(48 * 1024 * 1024, kernel + 16 * 1024 * 1024);
}

// Runs `body(net, observe, ctx)` with a listening server and one connected
// pair, then closes everything.
function withPair(transport, body, serverOptions = {}, clientOptions = {}) {
  return expectParity(async (net, observe) => {
    const server = net.createServer(serverOptions);
    const target = await listenOn(server, transport, temp.dir);
    const { client, socket } = await pair(server, target, clientOptions);
    try {
      await body({ net, observe, server, target, client, socket });
    } finally {
      client.destroy();
      socket.destroy();
      await closeServer(server);
    }
  });
}

// The state of a fresh socket, after an exchange, configured, destroyed.
function stateScenario(transport) {
  return withPair(transport, async ({ observe, server, target, socket, client }) => {
    observe('server', { same: socket.server === server, _same: socket._server === server });
    observe('fresh', state(socket, target));
    client.write('ping');
    await once(socket, 'data');
    socket.write('pong!');
    await once(client, 'data');
    observe('after exchange', state(socket, target));
    socket.setEncoding('utf8');
    observe('returns this', {
      setNoDelay: socket.setNoDelay(true) === socket,
      setKeepAlive: socket.setKeepAlive(true, 1000) === socket,
      setTimeout: socket.setTimeout(0) === socket,
      ref: socket.ref() === socket,
      unref: socket.unref() === socket,
      pause: socket.pause() === socket,
      resume: socket.resume() === socket,
    });
    socket.ref();
    observe('configured', state(socket, target));
    socket.destroy();
    await once(socket, 'close');
    observe('destroyed', state(socket, target));
  });
}

describe.each(['tcp6', 'dual'])('accepted socket over %s', (transport) => {
  test('is a net.Socket in the state Node gives it', async () => {
    await stateScenario(transport);
  });
});

describe.each(['tcp', 'unix'])('accepted socket over %s', (transport) => {
  test('is a net.Socket in the state Node gives it', async () => {
    await stateScenario(transport);
  });

  test('the client ends first', async () => {
    await withPair(transport, async ({ observe, socket, client }) => {
      const closed = [watchSocket(socket, 'server', observe), watchSocket(client, 'client', observe)];
      client.end('bye');
      await Promise.all(closed);
      observe('counts', { read: socket.bytesRead, written: socket.bytesWritten, state: socket.readyState });
    });
  });

  test('the server ends first', async () => {
    await withPair(transport, async ({ observe, socket, client }) => {
      const closed = [watchSocket(socket, 'server', observe), watchSocket(client, 'client', observe)];
      socket.end('goodbye');
      await Promise.all(closed);
      observe('counts', { read: socket.bytesRead, written: socket.bytesWritten, state: socket.readyState });
    });
  });

  test('half-open: allowHalfOpen server keeps writing after the client ended', async () => {
    await withPair(
      transport,
      async ({ observe, socket, client }) => {
        const serverLog = [];
        const closed = [watchSocket(socket, 'server', observe), watchSocket(client, 'client', observe)];
        socket.on('end', () => {
          serverLog.push(socket.readyState);
          socket.write('still here;');
          setImmediate(() => socket.end('done'));
        });
        client.end('half');
        await Promise.all(closed);
        observe('readyState at end', serverLog);
      },
      { allowHalfOpen: true },
    );
  });

  test('half-open: without allowHalfOpen the server ends when the client does', async () => {
    await withPair(transport, async ({ observe, socket, client }) => {
      const closed = [watchSocket(socket, 'server', observe), watchSocket(client, 'client', observe)];
      socket.on('end', () => {
        observe('server at end', { readyState: socket.readyState, writableEnded: socket.writableEnded });
      });
      client.end('half');
      await Promise.all(closed);
    });
  });

  test('half-open: the server ends, an allowHalfOpen client keeps writing', async () => {
    await withPair(
      transport,
      async ({ observe, socket, client }) => {
        const closed = [watchSocket(socket, 'server', observe), watchSocket(client, 'client', observe)];
        client.on('end', () => {
          client.write('after your end;');
          setImmediate(() => client.end('last'));
        });
        socket.end('server done');
        await Promise.all(closed);
      },
      {},
      { allowHalfOpen: true },
    );
  });

  // resetAndDestroy() is for TCP only: on a Unix socket Node throws.
  if (transport === 'tcp') {
    test('the client resets the connection', async () => {
      await withPair(transport, async ({ observe, socket, client }) => {
        const closed = watchSocket(socket, 'server', observe);
        client.write('x');
        await once(socket, 'data');
        client.resetAndDestroy();
        await closed;
        observe('server state', { destroyed: socket.destroyed, readyState: socket.readyState });
      });
    });

    test('the server resets the connection', async () => {
      await withPair(transport, async ({ observe, socket, client }) => {
        const closed = [watchSocket(socket, 'server', observe), watchSocket(client, 'client', observe)];
        socket.resetAndDestroy();
        await Promise.all(closed);
      });
    });
  } else {
    test('resetAndDestroy() throws as Node does on a Unix socket', async () => {
      await withPair(transport, async ({ observe, socket }) => {
        try {
          socket.resetAndDestroy();
          observe('did not throw');
        } catch (error) {
          observe.error('threw', error);
        }
        observe('state', { destroyed: socket.destroyed, readyState: socket.readyState });
      });
    });
  }

  test('destroy() with and without an error', async () => {
    await withPair(transport, async ({ observe, socket, client }) => {
      const closed = [watchSocket(socket, 'server', observe), watchSocket(client, 'client', observe)];
      socket.destroy(new Error('boom'));
      await Promise.all(closed);
    });
    await withPair(transport, async ({ observe, socket, client }) => {
      const closed = [watchSocket(socket, 'server', observe), watchSocket(client, 'client', observe)];
      socket.destroy();
      observe('sync', { destroyed: socket.destroyed, readyState: socket.readyState });
      await Promise.all(closed);
    });
  });

  test('destroySoon() after a write ends and closes', async () => {
    await withPair(transport, async ({ observe, socket, client }) => {
      const closed = [watchSocket(socket, 'server', observe), watchSocket(client, 'client', observe)];
      socket.write('last words');
      socket.destroySoon();
      await Promise.all(closed);
    });
  });

  test('setTimeout() emits timeout, then the socket is destroyed by the user', async () => {
    await withPair(transport, async ({ observe, socket, client }) => {
      const closed = [watchSocket(socket, 'server', observe), watchSocket(client, 'client', observe)];
      socket.setTimeout(30, () => observe('timeout callback', socket.timeout));
      observe('timeout set', socket.timeout);
      await once(socket, 'timeout');
      socket.destroy();
      await Promise.all(closed);
    });
  });

  test('setEncoding() delivers strings', async () => {
    await withPair(transport, async ({ observe, socket, client }) => {
      socket.setEncoding('utf8');
      const closed = watchSocket(socket, 'server', observe);
      client.end(Buffer.from('h\u00e9llo', 'utf8'));
      await closed;
      observe('encoding', socket.readableEncoding);
    });
  });

  test('pipe(): a socket piped to itself echoes several megabytes', async () => {
    await withPair(transport, async ({ observe, socket, client }) => {
      socket.pipe(socket);
      const payload = Buffer.alloc(4 * 1024 * 1024);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
      const chunks = [];
      client.on('data', (chunk) => chunks.push(chunk));
      const closed = [once(client, 'close'), once(socket, 'close')];
      client.end(payload);
      await Promise.all(closed);
      const echoed = Buffer.concat(chunks);
      observe('echo', { length: echoed.length, equal: echoed.equals(payload) });
      observe('counts', { read: socket.bytesRead, written: socket.bytesWritten });
    });
  });

  test('large writes both ways, with drain', async () => {
    await withPair(transport, async ({ observe, socket, client }) => {
      const size = 8 * 1024 * 1024;
      let received = 0;
      let clientReceived = 0;
      socket.on('data', (chunk) => (received += chunk.length));
      client.on('data', (chunk) => (clientReceived += chunk.length));
      const drained = once(socket, 'drain');
      const accepted = socket.write(Buffer.alloc(size, 1));
      observe('write returned', { accepted, pending: socket.writableLength > 0 });
      await drained;
      observe('server drained');
      const closed = [once(socket, 'close'), once(client, 'close')];
      client.end(Buffer.alloc(size, 2));
      socket.end();
      await Promise.all(closed);
      observe('received', { received, clientReceived, read: socket.bytesRead, written: socket.bytesWritten });
    });
  });

  test('pause() stops reading from the kernel: the client backs up until resume()', async () => {
    await withPair(transport, async ({ observe, socket, client }) => {
      const total = backpressureTotal();
      let received = 0;
      socket.on('data', (chunk) => (received += chunk.length));
      socket.pause();
      observe('paused', { isPaused: socket.isPaused(), flowing: socket.readableFlowing });
      client.write(Buffer.alloc(total, 3));
      // Wait until the client's queue stops shrinking: the kernel buffers
      // are full because the server does not read.
      let last = -1;
      let still = 0;
      await waitFor(
        () => {
          const pending = client.writableLength;
          still = pending === last ? still + 1 : 0;
          last = pending;
          return still >= 10;
        },
        { limit: 20000, interval: 20, what: 'the client to stall' },
      );
      observe('stalled', {
        clientPending: client.writableLength > 0,
        serverBuffered: socket.readableLength <= socket.readableHighWaterMark * 2,
        receivedNothing: received === 0,
        notAllRead: socket.bytesRead < total,
      });
      const bytesReadWhilePaused = socket.bytesRead;
      await new Promise((resolve) => setTimeout(resolve, 100));
      observe('no reads while paused', socket.bytesRead === bytesReadWhilePaused);
      socket.resume();
      await waitFor(() => received === total, { limit: 20000, what: 'all data after resume' });
      observe('after resume', { received, clientPending: client.writableLength });
    });
  });

  test('write callbacks, end callback and finish order', async () => {
    await withPair(transport, async ({ observe, socket, client }) => {
      const closed = [watchSocket(socket, 'server', observe), watchSocket(client, 'client', observe)];
      socket.write('a', () => observe('write a cb'));
      socket.write(Buffer.from('b'), () => observe('write b cb'));
      socket.end('c', () => observe('end cb'));
      observe('sync', { writableEnded: socket.writableEnded, readyState: socket.readyState });
      client.end();
      await Promise.all(closed);
    });
  });

  test('writes after end error like Node', async () => {
    await withPair(transport, async ({ observe, socket, client }) => {
      const closed = [watchSocket(socket, 'server', observe), watchSocket(client, 'client', observe)];
      socket.end();
      socket.write('late', (error) => observe.error('write cb', error));
      client.end();
      await Promise.all(closed);
      await turns();
    });
  });
});

test.each(['unref-socket', 'keep-socket'])(
  'ref/unref of an accepted socket decide whether the process stays alive (%s)',
  async (mode) => {
    const script = path.join(__dirname, 'fixtures', 'conn-unref.js');
    const node = await runNode([script, 'net', mode]);
    const rs = await runNode([script, 'rs', mode]);
    expect(rs).toEqual(node);
    expect(node.code).toBe(0);
    expect(node.stdout).toBe(
      mode === 'unref-socket' ? 'connection\nexit\n' : 'connection\nstill alive\nexit\n',
    );
  },
);
