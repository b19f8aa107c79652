'use strict';

// server.listen() on Unix-domain sockets (Node's "pipes"), on Node's net and
// on rs-net: filesystem, relative and abstract names, the socket file's life
// and mode, and the errors of names that cannot be bound.

const fs = require('fs');
const path = require('path');

const { expectParity, nodeNet } = require('./helpers/parity');
const {
  callListen,
  modeOf,
  shutdown,
  tempDir,
  waitSettled,
  watchedServer,
} = require('./helpers/listen-scenario');

let temp;
beforeAll(() => {
  temp = tempDir();
});
afterAll(() => {
  temp.remove();
});

// What is in the temporary directory (to see files left behind).
const listing = () => fs.readdirSync(temp.dir).sort();

/** Connects to a Unix socket and resolves once the server saw it. */
function connectOnce(server, name) {
  return new Promise((resolve) => {
    server.once('connection', (socket) => {
      socket.destroy();
      resolve('connection');
    });
    const client = nodeNet.connect(name);
    client.on('error', (error) => resolve(error.code));
    client.on('close', () => {});
  });
}

/**
 * listen(...args) on a pipe; records state, a connection, the file, close.
 * With `removeLeftovers`, files left in the directory are removed at the end
 * (so that the second run starts as the first did).
 */
function pipeScenario(makeArgs, { connect = true, removeLeftovers = false } = {}) {
  return async (net, observe) => {
    const server = watchedServer(net, observe);
    const args = makeArgs();
    if (callListen(server, args, observe)) {
      const outcome = await waitSettled(server, observe);
      if (outcome === 'listening') {
        const name = server.address();
        if (connect) observe('connect', await connectOnce(server, name));
        if (!name.startsWith('\0')) observe('file exists while listening', fs.existsSync(name));
      }
    }
    observe('files', listing());
    await shutdown(server);
    observe('after close', { listening: server.listening, address: server.address(), files: listing() });
    if (removeLeftovers) for (const name of listing()) fs.rmSync(temp.file(name));
  };
}

test('an absolute path: address() is the path, the file is removed on close', async () => {
  await expectParity(pipeScenario(() => [temp.file('abs.sock')]));
});

test('listen({ path }) and listen(path, backlog, cb)', async () => {
  await expectParity(pipeScenario(() => [{ path: temp.file('opts.sock'), backlog: 5 }]));
  await expectParity(pipeScenario(() => [temp.file('args.sock'), 5, () => {}]));
});

test('a relative path is bound in the working directory and reported as given', async () => {
  const cwd = process.cwd();
  process.chdir(temp.dir);
  try {
    await expectParity(pipeScenario(() => ['./rel.sock']));
    await expectParity(pipeScenario(() => ['rel-plain.sock']));
  } finally {
    process.chdir(cwd);
  }
});

test('a Linux abstract name creates no file', async () => {
  const name = `\0rs-net-listen-test-${process.pid}`;
  await expectParity(pipeScenario(() => [name]));
  await expectParity(pipeScenario(() => [{ path: name, readableAll: false }]));
});

describe('readableAll / writableAll', () => {
  // The mode the file gets differs between Node versions (libuv 1.51 sets
  // exactly the bits asked for; before, it adds them to the mode): the
  // parity run checks whichever Node runs this.
  const modes = [
    ['readableAll', { readableAll: true }],
    ['writableAll', { writableAll: true }],
    ['both', { readableAll: true, writableAll: true }],
    ['truthy but not true: no change', { readableAll: 1, writableAll: 'yes' }],
  ];
  test.each(modes)('%s', async (name, flags) => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      const file = temp.file('mode.sock');
      callListen(server, [{ path: file, ...flags }], observe);
      await waitSettled(server, observe);
      observe('mode', modeOf(file));
      await shutdown(server);
    });
  });

  test.each(modes)('%s, with a restrictive umask', async (name, flags) => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      const file = temp.file('umask.sock');
      const umask = process.umask(0o077);
      try {
        callListen(server, [{ path: file, ...flags }], observe);
      } finally {
        process.umask(umask);
      }
      await waitSettled(server, observe);
      observe('mode', modeOf(file));
      await shutdown(server);
    });
  });

  test.each([
    ['readableAll', { readableAll: true }],
    ['writableAll', { writableAll: 1 }],
  ])('an abstract name with %s throws ERR_INVALID_ARG_VALUE', async (name, flags) => {
    const log = await expectParity(pipeScenario(() => [{ path: '\0rs-net-abstract-mode', ...flags }]));
    expect(log[0][1]).toEqual(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});

describe('errors', () => {
  test('EADDRINUSE when a file exists at the path (message names the path, port -1)', async () => {
    const file = temp.file('taken');
    fs.writeFileSync(file, '');
    try {
      const log = await expectParity(pipeScenario(() => [file]));
      const error = log.find(([label]) => label === 'error')[1];
      expect(error).toEqual(expect.objectContaining({ code: 'EADDRINUSE', address: file, port: -1 }));
    } finally {
      fs.rmSync(file);
    }
  });

  test('EADDRINUSE when another server listens at the path, whose file stays', async () => {
    const file = temp.file('busy.sock');
    const other = nodeNet.createServer();
    await new Promise((resolve) => other.listen(file, resolve));
    try {
      await expectParity(pipeScenario(() => [file]));
    } finally {
      await shutdown(other);
    }
  });

  test('EACCES when the directory does not exist', async () => {
    const log = await expectParity(pipeScenario(() => [temp.file(path.join('missing', 'x.sock'))]));
    expect(log.find(([label]) => label === 'error')[1].code).toBe('EACCES');
  });

  // Node 20 and 22 bind the first 108 bytes of a path that is too long;
  // Node 24 refuses it. A NUL inside a path: Node 20 binds what precedes it,
  // Node 22 and 24 refuse. Parity checks what the running version does.
  test('a path too long for sockaddr_un', async () => {
    const long = path.join(temp.dir, 'x'.repeat(120));
    // Node 20 leaves the file of the cut path behind after close.
    await expectParity(pipeScenario(() => [long], { connect: false, removeLeftovers: true }));
  });

  test.each([107, 108])('a path of %d bytes (sun_path holds 108)', async (length) => {
    const exact = temp.dir + '/' + 'y'.repeat(length - temp.dir.length - 1);
    expect(Buffer.byteLength(exact)).toBe(length);
    await expectParity(pipeScenario(() => [exact], { removeLeftovers: true }));
  });

  test('a NUL inside a path', async () => {
    await expectParity(
      pipeScenario(() => [temp.file('before\0after')], { connect: false, removeLeftovers: true }),
    );
  });

  test('an abstract name longer than sun_path', async () => {
    await expectParity(pipeScenario(() => ['\0' + 'z'.repeat(150)], { connect: false }));
  });
});

test('listening again on the same path after close works', async () => {
  await expectParity(async (net, observe) => {
    const file = temp.file('again.sock');
    const server = watchedServer(net, observe);
    server.listen(file);
    await waitSettled(server, observe);
    await shutdown(server);
    server.listen(file);
    await waitSettled(server, observe);
    observe('address', server.address());
    await shutdown(server);
    observe('files', listing());
  });
});
