'use strict';

// Listener groups keep Node's meaning per server: a group of one behaves
// exactly as Node's server (which ignores the option) for maxConnections,
// 'drop', getConnections(), close() and their order; servers sharing a
// group count and close their own connections; bad group options get
// Node-style errors; http serves a member's sockets unchanged.

const http = require('http');
const net = require('net');

const rsnet = require('..');
const { closeServer, expectParity, once, turns } = require('./helpers/parity');

let groups = 0;
const groupName = () => `semantics-${process.pid}-${++groups}`;

function connect(port) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  return socket;
}

test("a group of one has Node's maxConnections, 'drop', getConnections() and close()", async () => {
  await expectParity(async (net, observe) => {
    const server = net.createServer((socket) => {
      observe('connection', typeof socket.remotePort);
      socket.resume();
    });
    server.maxConnections = 2;
    server.on('drop', (data) => observe('drop', Object.keys(data ?? {}).sort()));
    server.on('close', () => observe('close'));
    server.listen({ port: 0, host: '127.0.0.1', group: groupName() });
    await once(server, 'listening');
    const { port } = server.address();
    const clients = [];
    const closed = [];
    for (let i = 0; i < 3; i++) {
      const socket = connect(port);
      clients.push(socket);
      closed.push(once(socket, 'close'));
      await once(socket, 'connect');
      // Until the server has seen it ('connection' or 'drop').
      while (observe.log.length < i + 1) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await closed[2];
    observe('dropped client closed');
    observe('count', await new Promise((resolve) => server.getConnections((e, n) => resolve([e, n]))));
    server.close((error) => observe('close callback', error));
    await turns();
    observe('listening', server.listening);
    for (const socket of clients) socket.destroy();
    await once(server, 'close');
    await turns();
  });
});

test('servers of one group in one thread count and close their own connections', async () => {
  const name = groupName();
  const seen = { a: 0, b: 0 };
  const a = rsnet.createServer((socket) => {
    seen.a++;
    socket.resume();
  });
  const b = rsnet.createServer((socket) => {
    seen.b++;
    socket.resume();
  });
  a.listen({ port: 0, host: '127.0.0.1', group: name });
  await once(a, 'listening');
  const { port } = a.address();
  b.listen({ port, host: '127.0.0.1', group: name });
  await once(b, 'listening');
  expect(b.address()).toEqual(a.address());

  const clients = [];
  for (let i = 0; i < 6; i++) {
    const socket = connect(port);
    clients.push(socket);
    await once(socket, 'connect');
    await new Promise((resolve) => setImmediate(resolve));
    while (seen.a + seen.b < i + 1) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  expect(seen).toEqual({ a: 3, b: 3 });
  const count = (server) => new Promise((resolve) => server.getConnections((e, n) => resolve(n)));
  expect([await count(a), await count(b)]).toEqual([3, 3]);

  // Closing one stops it accepting; its 'close' waits for its own sockets.
  let aClosed = false;
  a.close(() => {
    aClosed = true;
  });
  const more = connect(port);
  clients.push(more);
  await once(more, 'connect');
  while (seen.b < 4) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(seen).toEqual({ a: 3, b: 4 });
  await turns();
  expect(aClosed).toBe(false);
  for (const socket of clients) socket.destroy();
  while (!aClosed) await new Promise((resolve) => setTimeout(resolve, 5));
  await closeServer(b);
});

// Where the runtime cannot share memory with an ArrayBuffer, the native
// handle offers no counter and the count is published by calling it.
function withoutSharedCounter(run) {
  const { prototype } = require('../lib/native-handle').ServerHandle;
  const shared = prototype.connectionCounter;
  return async () => {
    prototype.connectionCounter = () => null;
    try {
      await run();
    } finally {
      prototype.connectionCounter = shared;
    }
  };
}

test('a member whose sockets close gets the next connections: the group sees its count go down', () =>
  memberCountGoesDown());

test(
  'the group sees a count go down where no counter is shared (published by call)',
  withoutSharedCounter(() => memberCountGoesDown()),
);

// Two members of a new group in this thread: the sockets each was given,
// `open(total)` (connects one client and waits until the members have been
// given `total` in all), and `close()`, which ends every client and member.
async function twoMembers() {
  const name = groupName();
  const sockets = { a: [], b: [] };
  const serve = (key) => (socket) => {
    sockets[key].push(socket);
    socket.resume();
  };
  const a = rsnet.createServer(serve('a'));
  const b = rsnet.createServer(serve('b'));
  a.listen({ port: 0, host: '127.0.0.1', group: name });
  await once(a, 'listening');
  const { port } = a.address();
  b.listen({ port, host: '127.0.0.1', group: name });
  await once(b, 'listening');
  const clients = [];
  return {
    a,
    b,
    name,
    port,
    sockets,
    async open(total) {
      const socket = connect(port);
      clients.push(socket);
      await once(socket, 'connect');
      while (sockets.a.length + sockets.b.length < total)
        await new Promise((resolve) => setTimeout(resolve, 5));
    },
    async close() {
      for (const socket of clients) socket.destroy();
      await closeServer(a);
      await closeServer(b);
    },
  };
}

// The group's count of a member's open connections, as the member's server
// publishes it through the counter it shares.
function sharedCount(server) {
  const counter =
    server[Object.getOwnPropertySymbols(server).find((symbol) => symbol.description === 'kCounter')];
  return Atomics.load(counter, 0);
}

async function memberCountGoesDown() {
  const { a, sockets, open, close } = await twoMembers();
  try {
    // Ties in turn: A, B, A, B, A; B's turn next.
    for (let i = 1; i <= 5; i++) await open(i);
    expect([sockets.a.length, sockets.b.length]).toEqual([3, 2]);

    // A's three end: its count drops to 0 while B keeps 2, so A is next.
    for (const socket of sockets.a) socket.destroy();
    while (a._connections !== 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await open(6);
    expect([sockets.a.length, sockets.b.length]).toEqual([4, 2]);
    expect(Object.getOwnPropertyDescriptor(a, '_connections')).toEqual({
      value: 1,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } finally {
    await close();
  }
}

test('group options are checked as Node checks options', async () => {
  const server = rsnet.createServer();
  expect(() => server.listen({ port: 0, group: 5 })).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', name: 'TypeError' }),
  );
  expect(() => server.listen({ port: 0, group: '' })).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
  );
  expect(() => server.listen({ port: 0, group: 'x', reusePort: true })).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
  );
  expect(server.listening).toBe(false);

  // A member asking for another port than its group's: 'error', as listen.
  const name = groupName();
  const first = rsnet.createServer();
  first.listen({ port: 0, host: '127.0.0.1', group: name });
  await once(first, 'listening');
  const other = rsnet.createServer();
  other.listen({
    port: first.address().port === 65535 ? 65534 : first.address().port + 1,
    host: '127.0.0.1',
    group: name,
  });
  const [error] = await once(other, 'error');
  expect(error).toMatchObject({ code: 'EINVAL', syscall: 'listen' });
  expect(error).toBeInstanceOf(Error);
  expect(other.listening).toBe(false);
  await closeServer(first);

  // On an IPv6 address, ipv6Only decides which connections a member gets:
  // one asking otherwise than its group is refused the same way.
  const v6 = rsnet.createServer();
  v6.listen({ port: 0, host: '::1', ipv6Only: true, group: `${name}-v6` });
  await once(v6, 'listening');
  const dual = rsnet.createServer();
  dual.listen({ port: v6.address().port, host: '::1', group: `${name}-v6` });
  const [mismatch] = await once(dual, 'error');
  expect(mismatch).toMatchObject({ code: 'EINVAL', syscall: 'listen' });
  const same = rsnet.createServer();
  same.listen({ port: v6.address().port, host: '::1', ipv6Only: true, group: `${name}-v6` });
  await once(same, 'listening');
  await closeServer(same);
  await closeServer(v6);
});

test('a pipe group shares one Unix socket', async () => {
  const os = require('os');
  const path = require('path');
  const fs = require('fs');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-net-group-'));
  const file = path.join(dir, 'sock');
  const name = groupName();
  const answers = [];
  const servers = ['a', 'b'].map((id) =>
    rsnet.createServer((socket) => {
      socket.end(id);
    }),
  );
  for (const server of servers) {
    server.listen({ path: file, group: name });
    await once(server, 'listening');
  }
  for (let i = 0; i < 4; i++) {
    const socket = net.connect(file);
    socket.setEncoding('utf8');
    let text = '';
    socket.on('data', (chunk) => (text += chunk));
    await once(socket, 'close');
    answers.push(text);
  }
  expect(answers.sort()).toEqual(['a', 'a', 'b', 'b']);
  await closeServer(servers[0]);
  expect(fs.existsSync(file)).toBe(true);
  await closeServer(servers[1]);
  expect(fs.existsSync(file)).toBe(false);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("a member's sockets serve Node's http unchanged", async () => {
  const httpServer = http.createServer((req, res) => res.end(`hello ${req.url}`));
  const server = rsnet.createServer((socket) => httpServer.emit('connection', socket));
  server.listen({ port: 0, host: '127.0.0.1', group: groupName() });
  await once(server, 'listening');
  const body = await new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: server.address().port, path: '/x', agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
  expect(body).toBe('hello /x');
  await closeServer(server);
  httpServer.close();
});

test('an unref()ed group member lets the process exit by itself, as an unref()ed Node server does', () => {
  const { spawnSync } = require('child_process');
  const script = `
    const rsnet = require(${JSON.stringify(require.resolve('..'))});
    const a = rsnet.createServer();
    const b = rsnet.createServer();
    a.listen({ port: 0, host: '127.0.0.1', group: 'exit' }, () => {
      b.listen({ port: a.address().port, host: '127.0.0.1', group: 'exit' }, () => {
        a.unref();
        b.unref();
        console.log('listening');
      });
    });
  `;
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 });
  expect({ status: run.status, signal: run.signal, stdout: run.stdout.trim() }).toEqual({
    status: 0,
    signal: null,
    stdout: 'listening',
  });
});

// A member that closes and listens again with connections still open is
// counted with them from its first connection on.
async function relistenedMemberKeepsItsCount() {
  const { a, name, port, sockets, open, close } = await twoMembers();
  try {
    // Ties in turn: A, B, A; A holds two, B one.
    for (let i = 1; i <= 3; i++) await open(i);
    expect([sockets.a.length, sockets.b.length]).toEqual([2, 1]);
    // A leaves and comes back; its two connections stay open.
    a.close();
    a.listen({ port, host: '127.0.0.1', group: name });
    await once(a, 'listening');
    // B has fewer: the next one is B's.
    await open(4);
    expect([sockets.a.length, sockets.b.length]).toEqual([2, 2]);
  } finally {
    await close();
  }
}

test('a member that listens again with connections open is counted with them', () =>
  relistenedMemberKeepsItsCount());

test(
  'a member that listens again with connections open is counted with them where no counter is shared',
  withoutSharedCounter(() => relistenedMemberKeepsItsCount()),
);

// While a member delivers a batch, the group counts the batch's later
// connections as the member's: they were taken from the group's queue, and
// until the server counts them they would otherwise look free to send more
// to.
test("a member's count covers the connections of its batch not yet delivered", async () => {
  const dc = require('diagnostics_channel');
  const seen = [];
  const sizes = [];
  let undelivered = 0;
  const server = rsnet.createServer((socket) => {
    undelivered--;
    seen.push({ counted: sharedCount(server), expected: server._connections + undelivered });
    socket.resume();
  });
  const onBatch = (message) => {
    if (message.server !== server) return;
    sizes.push(message.size);
    undelivered = message.size;
  };
  dc.subscribe('rs-net.server.batch', onBatch);
  server.listen({ port: 0, host: '127.0.0.1', group: groupName() });
  await once(server, 'listening');
  const { port } = server.address();
  const clients = [];
  try {
    // Four clients at once while this thread is busy: the member is behind
    // from its first connection until it takes it, so the others wait and
    // come in a batch of more than one.
    for (let i = 0; i < 4; i++) clients.push(connect(port));
    const until = Date.now() + 300;
    while (Date.now() < until);
    while (seen.length < 4) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    for (const { counted, expected } of seen) expect(counted).toBe(expected);
  } finally {
    dc.unsubscribe('rs-net.server.batch', onBatch);
    for (const socket of clients) socket.destroy();
    await closeServer(server);
  }
});

// A connection dropped for maxConnections is no longer counted as the
// member's once dropped.
test("a member's count leaves out a connection it dropped", async () => {
  const server = rsnet.createServer((socket) => socket.resume());
  server.maxConnections = 1;
  server.listen({ port: 0, host: '127.0.0.1', group: groupName() });
  await once(server, 'listening');
  const { port } = server.address();
  const clients = [];
  try {
    clients.push(connect(port));
    while (server._connections < 1) await new Promise((resolve) => setTimeout(resolve, 5));
    const dropped = once(server, 'drop');
    clients.push(connect(port));
    await dropped;
    await turns();
    expect(sharedCount(server)).toBe(1);
  } finally {
    for (const socket of clients) socket.destroy();
    await closeServer(server);
  }
});
