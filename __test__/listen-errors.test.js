'use strict';

// The errors of server.listen(), on Node's net and on rs-net: address in use
// or not available, listening twice, the errors of host lookups, what
// follows an error, and an 'error' nobody listens to.

const { spawn } = require('child_process');
const path = require('path');

const { expectParity, nodeNet } = require('./helpers/parity');
const { callListen, shutdown, waitSettled, watchedServer } = require('./helpers/listen-scenario');

/** A Node server holding a port on `host` (all addresses when undefined). */
async function portHolder(host) {
  const holder = nodeNet.createServer();
  await new Promise((resolve) => holder.listen(0, host, resolve));
  return holder;
}

/** listen(...args) on a fresh server; records the return or throw and what follows. */
function listenScenario(args) {
  return async (net, observe) => {
    const server = watchedServer(net, observe);
    if (callListen(server, args, observe)) await waitSettled(server, observe);
    await shutdown(server);
  };
}

describe('EADDRINUSE', () => {
  test("no host: reported for ':::PORT', address '::'", async () => {
    const holder = await portHolder();
    try {
      const log = await expectParity(listenScenario([holder.address().port]));
      const error = log.find(([label]) => label === 'error')[1];
      expect(error).toEqual(
        expect.objectContaining({ code: 'EADDRINUSE', syscall: 'listen', address: '::' }),
      );
      expect(error.message).toMatch(/^listen EADDRINUSE: address already in use :::<port\d>$/);
    } finally {
      await shutdown(holder);
    }
  });

  test('host 127.0.0.1', async () => {
    const holder = await portHolder('127.0.0.1');
    try {
      await expectParity(listenScenario([holder.address().port, '127.0.0.1']));
      await expectParity(listenScenario([{ port: holder.address().port, host: '127.0.0.1', backlog: 3 }]));
    } finally {
      await shutdown(holder);
    }
  });

  test('host ::1', async () => {
    const holder = await portHolder('::1');
    try {
      await expectParity(listenScenario([holder.address().port, '::1']));
    } finally {
      await shutdown(holder);
    }
  });

  test('a port given as a string', async () => {
    const holder = await portHolder('127.0.0.1');
    try {
      await expectParity(listenScenario([String(holder.address().port), '127.0.0.1']));
    } finally {
      await shutdown(holder);
    }
  });
});

// 10.255.255.1 is not an address of this machine: binding it fails at once,
// and nothing is sent anywhere.
test('EADDRNOTAVAIL for an address that is not local', async () => {
  const log = await expectParity(listenScenario([0, '10.255.255.1']));
  expect(log.find(([label]) => label === 'error')[1]).toEqual(
    expect.objectContaining({ code: 'EADDRNOTAVAIL', address: '10.255.255.1' }),
  );
});

describe('ERR_SERVER_ALREADY_LISTEN', () => {
  test('thrown by a second listen() while listening, whatever its arguments', async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      server.listen(0);
      for (const args of [[0], [0, '127.0.0.1'], [{}], [Symbol('x')], ['/nonexistent/x.sock'], [() => {}]]) {
        callListen(server, args, observe);
      }
      observe('listening listeners', server.listenerCount('listening'));
      await waitSettled(server, observe);
      await shutdown(server);
    });
  });

  test('not thrown while a host is being looked up: the later call wins', async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      callListen(server, [0, '127.0.0.1', () => observe('first callback')], observe);
      callListen(server, [0, '::1', () => observe('second callback')], observe);
      await waitSettled(server, observe);
      await shutdown(server);
    });
  });
});

describe('after an error', () => {
  test('listen() again works, and the earlier callback runs then', async () => {
    const holder = await portHolder('127.0.0.1');
    try {
      await expectParity(async (net, observe) => {
        const server = watchedServer(net, observe);
        server.listen(holder.address().port, '127.0.0.1', () => observe('callback'));
        await waitSettled(server, observe);
        observe('state', { listening: server.listening, address: server.address() });
        callListen(server, [0, '127.0.0.1'], observe);
        await waitSettled(server, observe);
        await shutdown(server);
      });
    } finally {
      await shutdown(holder);
    }
  });

  test('close() after an error: ERR_SERVER_NOT_RUNNING to its callback', async () => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      server.listen(0, '10.255.255.1');
      await waitSettled(server, observe);
      await new Promise((resolve) =>
        server.close((error) => {
          observe('close callback', error);
          resolve();
        }),
      );
    });
  });
});

describe('host lookups', () => {
  // Hosts that are not strings reach dns.lookup, which validates them and
  // throws synchronously from listen().
  test.each([
    ['a number', 123],
    ['true', true],
    ['an object', {}],
    ['an array', ['127.0.0.1']],
    ['a function', () => {}],
    ['a Symbol', Symbol('host')],
    ['a BigInt', 1n],
  ])('host that is %s: ERR_INVALID_ARG_TYPE from dns', async (name, host) => {
    const log = await expectParity(listenScenario([{ port: 0, host }]));
    expect(log[0]).toEqual(['threw', expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' })]);
  });

  test.each([
    ['an empty string', ''],
    ['0', 0],
    ['false', false],
    ['null', null],
  ])('a falsy host (%s) means no host', async (name, host) => {
    await expectParity(listenScenario([{ port: 0, host }]));
  });

  // getaddrinfo fails on a name with an empty label without asking any
  // server (EAI_NONAME / ENOTFOUND), or on a numeric form it rejects.
  test('a name getaddrinfo rejects locally', async () => {
    await expectParity(listenScenario([0, 'localhost..']));
  });
});

// With no 'error' listener, the error is thrown from the next tick and the
// process dies, the same way for both.
test("an 'error' nobody listens to ends the process as Node's does", async () => {
  const holder = await portHolder('127.0.0.1');
  const port = holder.address().port;
  const run = (module) => {
    const script = `require(${JSON.stringify(module)}).createServer().listen(${port}, '127.0.0.1');`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    return new Promise((resolve) =>
      child.on('close', (code) => {
        // The first line of the error, and its properties as printed.
        const header = stderr.split('\n').find((line) => line.startsWith('Error:'));
        const props = stderr
          .split('\n')
          .filter((line) => /^\s+(code|errno|syscall|address|port):/.test(line));
        resolve({ code, header, props });
      }),
    );
  };
  try {
    const node = await run('net');
    const rs = await run(path.join(__dirname, '..'));
    expect(rs).toEqual(node);
    expect(node.code).toBe(1);
    expect(node.header).toBe(`Error: listen EADDRINUSE: address already in use 127.0.0.1:${port}`);
  } finally {
    await shutdown(holder);
  }
});

// Node's argument errors are thrown from `Server.listen`: the first frame of
// their stack is listen itself, then its caller. (Read in a plain Node
// process: Jest rewrites stack frames through source maps.)
test.each([
  ['a bad port', '[{ port: -1 }]'],
  ['no port or path', '[{}]'],
  ['a primitive handle', '[{ handle: 1 }]'],
  ['listening twice', "'twice'"],
  ['a signal that is not an AbortSignal', '[{ port: 0, host: "127.0.0.1", signal: 5 }]'],
])('%s: the stack starts at Server.listen, then the caller, as Node', async (_, args) => {
  const { runNode } = require('./helpers/conn-util');
  const frames = {};
  for (const [name, module] of [
    ['node', 'net'],
    ['rs', path.join(__dirname, '..')],
  ]) {
    const source = `
      const server = require(${JSON.stringify(module)}).createServer();
      const args = ${args};
      function caller() {
        // A pipe: bound at once, so the second call finds the handle.
        const pipe = require('path').join(require('os').tmpdir(), 'rs-net-twice-' + process.pid + '.sock');
        if (args === 'twice') server.listen(pipe).listen(pipe);
        else server.listen(...args);
      }
      try { caller(); } catch (error) {
        const lines = error.stack.split('\\n').filter((line) => line.startsWith('    at '));
        // From Server.listen on (Node's own validator frames come first).
        const frames = lines.map((line) => line.trim().split(' (')[0]);
        const from = frames.findIndex((frame) => frame === 'at Server.listen');
        console.log(JSON.stringify(frames.slice(Math.max(0, from - 1), from + 2)));
      }
      server.close();`;
    const { stdout, stderr } = await runNode(['-e', source]);
    expect(stderr).toBe('');
    frames[name] = JSON.parse(stdout);
  }
  expect(frames.rs).toEqual(frames.node);
  expect(frames.rs.slice(-2)).toEqual(['at Server.listen', 'at caller']);
});

// A bind that fails (EADDRINUSE) is reported from Node's setupListenHandle,
// as `server._listen2` is known: its stack starts there, then
// listenInCluster and Server.listen, as Node's.
test("a taken port's EADDRINUSE stack starts at setupListenHandle, as Node's", async () => {
  const { runNode } = require('./helpers/conn-util');
  const frames = {};
  for (const [name, module] of [
    ['node', 'net'],
    ['rs', path.join(__dirname, '..')],
  ]) {
    const source = `
      const holder = require('net').createServer().listen(0, '127.0.0.1', () => {
        const server = require(${JSON.stringify(module)}).createServer();
        server.on('error', (error) => {
          const lines = error.stack.split('\\n').filter((line) => line.startsWith('    at '));
          // A function's name, or (anonymous, shown by its location) none.
          const frame = (line) => (line.includes(' (') ? line.trim().split(' (')[0] : 'at <anonymous>');
          console.log(JSON.stringify(lines.slice(0, 3).map(frame)));
          holder.close();
        });
        server.listen(holder.address().port, '127.0.0.1');
      });`;
    const { stdout, stderr } = await runNode(['-e', source]);
    expect(stderr).toBe('');
    frames[name] = JSON.parse(stdout);
  }
  expect(frames.rs).toEqual(frames.node);
  expect(frames.rs[0]).toBe('at Server.setupListenHandle [as _listen2]');
});
