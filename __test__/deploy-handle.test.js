'use strict';

// The server's handle as Node's callers use it, and sharing the listening
// socket: child.send(message, server), listen(otherServer) and
// listen(otherServer._handle) in every combination of Node's net and
// rs-net, each scenario run on Node's net and on rs-net and compared.

const { fork } = require('child_process');
const path = require('path');

const { expectParity, nodeNet, rsNet, turns } = require('./helpers/parity');

jest.setTimeout(60000);

const sendChild = path.join(__dirname, 'fixtures', 'deploy-send-child.js');

function request(port) {
  return new Promise((resolve) => {
    const socket = nodeNet.connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (data += chunk));
    socket.on('end', () => resolve(data));
    socket.on('error', (error) => resolve(`error:${error.code}`));
    socket.setTimeout(10000, () => {
      socket.destroy();
      resolve('timeout');
    });
  });
}

// Replies to `n` sequential connections, counted by who answered.
async function replies(port, n) {
  const counts = {};
  for (let i = 0; i < n; i++) {
    const reply = await request(port);
    counts[reply] = (counts[reply] || 0) + 1;
  }
  return counts;
}

const listening = (server, ...args) =>
  new Promise((resolve) => {
    server.once('error', (error) => resolve(error));
    server.listen(...args, () => resolve(null));
  });
const closing = (server) => new Promise((resolve) => server.close((error) => resolve(error ?? null)));

test('child.send(message, server) gives the child a working server, which keeps accepting after the parent closes', async () => {
  const log = await expectParity(async (net, observe) => {
    const server = net.createServer((socket) => socket.end('parent'));
    await listening(server, 0, '127.0.0.1');
    const { port } = server.address();
    const child = fork(sendChild, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const ready = new Promise((resolve) => child.once('message', resolve));
    child.send('server', server);
    observe('child', await ready);
    const both = await replies(port, 8);
    observe(
      'answered while both listen',
      Object.values(both).reduce((a, b) => a + b, 0),
    );
    observe('close', await closing(server));
    observe('after the parent closed', await replies(port, 4));
    const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.send('close');
    observe('child exit', await exited);
    observe('after the child closed', await request(port));
  });
  expect(log).toContainEqual(['after the parent closed', { child: 4 }]);
  expect(log).toContainEqual(['after the child closed', 'error:ECONNREFUSED']);
});

describe.each([
  ['Node', 'Node'],
  ['Node', 'rs-net'],
  ['rs-net', 'Node'],
  ['rs-net', 'rs-net'],
])('listen(other) where other is %s’s and the listener %s’s', (otherName, listenerName) => {
  const modules = { Node: nodeNet, 'rs-net': rsNet };
  test.each(['server', 'server._handle'])('listen(%s) behaves as on Node', async (form) => {
    // Compared with the same scenario on Node's net for both servers.
    const log = {};
    for (const run of ['node', 'rs']) {
      const Listener = run === 'node' ? nodeNet : modules[listenerName];
      const Other = run === 'node' ? nodeNet : modules[otherName];
      const observed = [];
      const other = Other.createServer((socket) => socket.end('other'));
      await listening(other, 0, '127.0.0.1');
      const { port } = other.address();
      const listener = Listener.createServer((socket) => socket.end('listener'));
      const target = form === 'server' ? other : other._handle;
      const error = await listening(listener, target);
      observed.push(['listen', error && { code: error.code, message: error.message }]);
      observed.push(['same port', listener.address()?.port === port]);
      observed.push(['replies', await replies(port, 4)]);
      observed.push(['close listener', (await closing(listener))?.code ?? null]);
      await turns();
      observed.push(['other listening', other.listening]);
      observed.push(['after the listener closed', await replies(port, 2)]);
      observed.push(['close other', (await closing(other))?.code ?? null]);
      // No sequence leaves a later listen() failing.
      const again = Listener.createServer();
      observed.push(['listen again', (await listening(again, port, '127.0.0.1'))?.code ?? null]);
      await closing(again);
      log[run] = observed;
    }
    expect(log.rs).toEqual(log.node);
    // What Node does: the listener takes the socket over.
    expect(log.node).toContainEqual(['replies', { listener: 4 }]);
  });
});

describe('the handle', () => {
  test('has what Node’s callers use, shaped as Node’s', async () => {
    await expectParity(async (net, observe) => {
      const server = net.createServer();
      await listening(server, 0, '127.0.0.1');
      const handle = server._handle;
      const out = {};
      observe('getsockname', [
        handle.getsockname(out),
        Object.keys(out).sort(),
        out.port === server.address().port,
      ]);
      observe('fd', typeof handle.fd === 'number' && handle.fd >= 0);
      observe('constructor', handle.constructor.name);
      observe(
        'methods',
        ['close', 'ref', 'unref', 'hasRef', 'getAsyncId', 'listen', 'getsockname'].map(
          (name) => typeof handle[name],
        ),
      );
      observe('hasRef', handle.hasRef());
      server.unref();
      observe('hasRef after unref', handle.hasRef());
      server.ref();
      observe('onconnection is a function', typeof handle.onconnection);
      observe('close', await closing(server));
    });
  });

  test('classes inheriting from rs-net’s Server are net.Server instances', () => {
    class Sub extends rsNet.Server {}
    function Old() {
      rsNet.Server.call(this);
    }
    Object.setPrototypeOf(Old.prototype, rsNet.Server.prototype);
    expect(rsNet.createServer()).toBeInstanceOf(nodeNet.Server);
    expect(new Sub()).toBeInstanceOf(nodeNet.Server);
    expect(new Old()).toBeInstanceOf(nodeNet.Server);
  });
});
