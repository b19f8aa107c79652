'use strict';

// server.listen({ fd }), listen(handle), listen(otherServer), listen({ handle })
// and (Node 24) listen(boundSocket): adopting sockets made elsewhere, on
// Node's net and on rs-net, and the errors of descriptors Node refuses.

const { spawn } = require('child_process');
const dgram = require('dgram');
const fs = require('fs');
const path = require('path');

const { expectParity, nodeNet, rsNet } = require('./helpers/parity');
const { callListen, shutdown, tempDir, waitSettled, watchedServer } = require('./helpers/listen-scenario');

let temp;
beforeAll(() => {
  temp = tempDir();
});
afterAll(() => {
  temp.remove();
});

/** Connects to a TCP port on 127.0.0.1; resolves with what the client saw. */
function connectTo(port) {
  return new Promise((resolve) => {
    const client = nodeNet.connect(port, '127.0.0.1');
    client.on('connect', () => client.end());
    client.on('error', (error) => resolve(error.code));
    client.on('close', () => resolve('closed'));
    client.resume();
  });
}

/**
 * Runs listen-fd-child.js with `which` module, handing it `listener` (a
 * listening Node server) as its descriptor 3; resolves with its report.
 */
function runChild(which, listener, socketPath, fd = 3) {
  const stdio =
    fd === 0 ? [listener._handle.fd, 'pipe', 'inherit'] : ['ignore', 'pipe', 'inherit', listener._handle.fd];
  const child = spawn(
    process.execPath,
    [
      path.join(__dirname, 'helpers', 'listen-fd-child.js'),
      which,
      String(fd),
      ...(socketPath ? [socketPath] : []),
    ],
    { stdio },
  );
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  return new Promise((resolve) => {
    child.on('close', (code) => resolve({ code, report: output && JSON.parse(output) }));
  });
}

describe('listen({ fd }) with an inherited listening socket', () => {
  // The parent makes a listening socket, passes it to a child as descriptor
  // 3, and closes its own: the child is the only one listening on it.
  async function inherit(listenArgs, socketPath, fd) {
    const reports = {};
    for (const which of ['node', 'rs']) {
      const listener = nodeNet.createServer();
      await new Promise((resolve) => listener.listen(...listenArgs, resolve));
      const finished = runChild(which, listener, socketPath, fd);
      // The child has its own copy of the descriptor once spawned. Closing
      // a Unix socket server removes its file, so the file is moved away
      // while the parent's server closes, and back.
      if (socketPath) fs.renameSync(socketPath, `${socketPath}.away`);
      await shutdown(listener);
      if (socketPath) fs.renameSync(`${socketPath}.away`, socketPath);
      reports[which] = await finished;
      if (socketPath) fs.rmSync(socketPath);
    }
    expect(reports.rs).toEqual(reports.node);
    return reports.node;
  }

  test('a TCP socket', async () => {
    const { code, report } = await inherit([0, '127.0.0.1']);
    expect(code).toBe(0);
    expect(report.map(([label]) => label)).toContain('connection');
    expect(report.find(([label]) => label === 'closed')[1]).toEqual({
      listening: false,
      descriptorOpen: false,
    });
  });

  // As inetd hands one over. libuv never closes descriptors 0 to 2, so the
  // socket stays open after the server closes.
  test('a TCP socket on stdin (descriptor 0) stays open after close', async () => {
    const { report } = await inherit([0, '127.0.0.1'], undefined, 0);
    expect(report.find(([label]) => label === 'closed')[1]).toEqual({
      listening: false,
      descriptorOpen: true,
    });
  });

  test('a Unix socket (address() is null; the file is not removed on close)', async () => {
    const socketPath = temp.file('inherited.sock');
    const { report } = await inherit([socketPath], socketPath);
    expect(report.map(([label]) => label)).toContain('connection');
  });
});

describe('listen({ fd }) errors', () => {
  /** listen({ fd: makeFd() }) on a fresh server; records the outcome. */
  function fdScenario(makeFd, cleanup = () => {}) {
    return async (net, observe) => {
      const fd = makeFd();
      const server = watchedServer(net, observe);
      if (callListen(server, [{ fd }], observe)) await waitSettled(server, observe);
      await shutdown(server);
      cleanup(fd);
    };
  }

  test.each([
    ['a descriptor that is not open', 99999],
    ['not an integer', 1.5],
    ['beyond int32', 2 ** 31],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['negative: not a descriptor, so neither port nor path', -1],
    ['a string: not a descriptor', '3'],
  ])('%s', async (name, fd) => {
    await expectParity(fdScenario(() => fd));
  });

  test('a regular file: EINVAL, and the file stays open', async () => {
    const file = temp.file('regular');
    fs.writeFileSync(file, 'x');
    await expectParity(async (net, observe) => {
      await fdScenario(
        () => fs.openSync(file, 'r'),
        (fd) => {
          observe('still open', fs.fstatSync(fd).isFile());
          fs.closeSync(fd);
        },
      )(net, observe);
    });
  });

  test('a UDP socket: EINVAL', async () => {
    await expectParity(async (net, observe) => {
      const udp = dgram.createSocket('udp4');
      await new Promise((resolve) => udp.bind(0, '127.0.0.1', resolve));
      try {
        await fdScenario(() => descriptorOfUdp(udp))(net, observe);
      } finally {
        await new Promise((resolve) => udp.close(resolve));
      }
    });
  });

  test('a FIFO: Node opens it as a pipe, listen fails with ENOTSOCK and closes it', async () => {
    const fifo = temp.file('fifo');
    require('child_process').execFileSync('mkfifo', [fifo]);
    await expectParity(async (net, observe) => {
      const fd = fs.openSync(fifo, 'r+');
      await fdScenario(() => fd)(net, observe);
      let open = true;
      try {
        fs.fstatSync(fd);
      } catch {
        open = false;
      }
      observe('descriptor still open', open);
      if (open) fs.closeSync(fd);
    });
  });

  // libuv will not open a descriptor its loop already watches. rs-net's
  // servers are watched by rs-net's own runtime instead, which refuses the
  // same way, so the same scenario gives EEXIST on both.
  test('the descriptor of a listening server of the same module: EEXIST, and that server goes on', async () => {
    await expectParity(async (net, observe) => {
      const first = watchedServer(net, observe);
      first.listen(0, '127.0.0.1');
      await waitSettled(first, observe);
      const second = watchedServer(net, observe);
      callListen(second, [{ fd: first._handle.fd }], observe);
      await waitSettled(second, observe);
      observe('first still accepts', await connectTo(first.address().port));
      await shutdown(second);
      await shutdown(first);
    });
  });

  // rs-net's accept thread stops watching its socket while JavaScript has
  // connections to take; the descriptor is still that server's.
  test('the descriptor of a server with connections waiting for JavaScript: EEXIST', async () => {
    await expectParity(async (net, observe) => {
      const first = watchedServer(net, observe);
      first.on('connection', (socket) => socket.destroy());
      first.listen(0, '127.0.0.1');
      await waitSettled(first, observe);
      const client = nodeNet.connect(first.address().port, '127.0.0.1');
      client.on('error', () => {});
      await new Promise((resolve) => client.once('connect', resolve));
      // Keep this thread busy: the connection is accepted (by rs-net's
      // thread) but not yet taken by JavaScript.
      const until = Date.now() + 100;
      while (Date.now() < until);
      const second = watchedServer(net, observe);
      callListen(second, [{ fd: first._handle.fd }], observe);
      await waitSettled(second, observe);
      observe('first still accepts', await connectTo(first.address().port));
      client.destroy();
      await shutdown(second);
      await shutdown(first);
    });
  });

  test("rs-net refuses the descriptor of a Node server with Node's EEXIST", async () => {
    await expectParity(async (net, observe) => {
      const nodeServer = nodeNet.createServer();
      await new Promise((resolve) => nodeServer.listen(0, '127.0.0.1', resolve));
      const server = watchedServer(net, observe);
      callListen(server, [{ fd: nodeServer._handle.fd }], observe);
      await waitSettled(server, observe);
      observe('node server still accepts', await connectTo(nodeServer.address().port));
      await shutdown(server);
      await shutdown(nodeServer);
    });
  });
});

describe('listen(handle) with another server of the same module', () => {
  /** `second` takes over `first`'s handle by `adopt(first)`. */
  function shareScenario(adopt) {
    return async (net, observe) => {
      const first = watchedServer(net, observe);
      first.on('connection', (socket) => {
        observe('first got a connection');
        socket.destroy();
      });
      first.listen(0, '127.0.0.1');
      await waitSettled(first, observe);
      const second = watchedServer(net, observe);
      second.on('connection', (socket) => {
        observe('second got a connection');
        socket.destroy();
      });
      callListen(second, adopt(first), observe);
      observe('same handle', second._handle === first._handle);
      await waitSettled(second, observe);
      observe('connect', await connectTo(first.address().port));
      await shutdown(second);
      // The handle is shared: closing one closes it for both.
      observe('first after second closed', { listening: first.listening });
      try {
        observe('first address', first.address());
      } catch (error) {
        observe('first address threw', error);
      }
      await new Promise((resolve) => first.close(resolve));
      await shutdown(first);
    };
  }

  test('listen(otherServer)', async () => {
    await expectParity(shareScenario((first) => [first]));
  });
  test('listen(otherServer._handle, backlog, cb)', async () => {
    await expectParity(shareScenario((first) => [first._handle, 7, () => {}]));
  });
  test('listen({ handle: otherServer._handle })', async () => {
    await expectParity(shareScenario((first) => [{ handle: first._handle }]));
  });
  test('listen({ _handle: otherServer._handle, port: 1 }): the handle wins', async () => {
    await expectParity(shareScenario((first) => [{ _handle: first._handle, port: 1 }]));
  });
});

// Documented difference: Node shares a Node TCP handle between the two
// servers. rs-net cannot accept on a libuv handle, so it duplicates the
// handle's descriptor and closes the Node handle: rs-net's server listens on
// the same socket, and the Node server stops accepting.
test("rs-net given a Node server's handle takes its socket over", async () => {
  const nodeServer = nodeNet.createServer((socket) => socket.destroy());
  await new Promise((resolve) => nodeServer.listen(0, '127.0.0.1', resolve));
  const { port } = nodeServer.address();
  const server = rsNet.createServer((socket) => socket.end('rs'));
  const listening = new Promise((resolve) => server.once('listening', resolve));
  server.listen(nodeServer._handle);
  await listening;
  expect(server.address()).toEqual({ address: '127.0.0.1', family: 'IPv4', port });
  const received = await new Promise((resolve) => {
    let data = '';
    nodeNet
      .connect(port, '127.0.0.1')
      .on('data', (chunk) => (data += chunk))
      .on('close', () => resolve(data));
  });
  expect(received).toBe('rs');
  await shutdown(server);
  // The Node server's handle was closed by the takeover.
  nodeServer._handle = null;
  await new Promise((resolve) => nodeServer.close(() => resolve()));
  expect(await connectTo(port)).toBe('ECONNREFUSED');
});

const boundSocketTest = typeof nodeNet.BoundSocket === 'function' ? describe : describe.skip;
boundSocketTest('listen(net.BoundSocket) (Node 24)', () => {
  test('a TCP BoundSocket is adopted, once', async () => {
    await expectParity(async (net, observe) => {
      const bound = new net.BoundSocket({ port: 0, host: '127.0.0.1' });
      const { port } = bound.address();
      const server = watchedServer(net, observe);
      server.on('connection', (socket) => {
        observe('connection');
        socket.destroy();
      });
      callListen(server, [bound, 3, () => observe('cb')], observe);
      observe('same port', server.address().port === port);
      for (const method of ['address', 'fd', 'close']) {
        try {
          bound[method]();
        } catch (error) {
          observe(`bound.${method}() threw`, error);
        }
      }
      const again = watchedServer(net, observe);
      callListen(again, [bound], observe);
      await waitSettled(server, observe);
      observe('connect', await connectTo(port));
      await shutdown(server);
    });
  });

  test('listen({ handle: boundSocket }) ignores the other options', async () => {
    await expectParity(async (net, observe) => {
      const bound = new net.BoundSocket({ port: 0, host: '127.0.0.1' });
      const server = watchedServer(net, observe);
      callListen(server, [{ handle: bound, port: 99999, path: 5 }], observe);
      await waitSettled(server, observe);
      await shutdown(server);
    });
  });

  test('a Unix-socket BoundSocket: address() is its path, the file goes on close', async () => {
    const socketPath = temp.file('bound.sock');
    await expectParity(async (net, observe) => {
      const bound = new net.BoundSocket({ path: socketPath });
      const server = watchedServer(net, observe);
      server.on('connection', (socket) => {
        observe('connection');
        socket.destroy();
      });
      callListen(server, [bound], observe);
      await waitSettled(server, observe);
      await new Promise((resolve) => nodeNet.connect(socketPath).on('close', resolve).on('error', resolve));
      await shutdown(server);
      observe('file after close', fs.existsSync(socketPath));
    });
  });
});

/** The descriptor of a bound dgram socket (without the deprecated _handle getter). */
function descriptorOfUdp(socket) {
  const state = Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'state symbol');
  return socket[state].handle.fd;
}
