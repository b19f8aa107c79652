'use strict';

// The server's own accounting of its connections: getConnections(),
// maxConnections with 'drop', and close() waiting for live connections.

const { expectParity, closeServer, nodeMajor, once, turns, rsNet } = require('./helpers/parity');
const { connect, pair, listenOn, tempDir, waitFor, watchSocket } = require('./helpers/conn-util');

let temp;
beforeAll(() => {
  temp = tempDir();
});
afterAll(() => temp.cleanup());

function getConnections(server) {
  return new Promise((resolve, reject) =>
    server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}

// Connects a client that the server drops; resolves with what both saw.
async function droppedClient(server, target, observe, label) {
  const dropped = new Promise((resolve) => server.once('drop', (...args) => resolve(args)));
  const client = await connect(target);
  const closed = watchSocket(client, `${label} client`, observe);
  const args = await dropped;
  await closed;
  return { args, client };
}

function describeDrop(args, client, target) {
  if (args.length === 0 || args[0] === undefined) return { argumentCount: args.length };
  const [data] = args;
  return {
    argumentCount: args.length,
    prototype: Object.getPrototypeOf(data),
    keys: Object.keys(data),
    data,
    remotePortIsClients: data.remotePort === client.localPort,
    localPortIsServers: target.port === undefined || data.localPort === target.port,
  };
}

describe.each(['tcp', 'tcp6', 'dual', 'unix'])('over %s', (transport) => {
  test('getConnections() counts live connections', async () => {
    await expectParity(async (net, observe) => {
      const server = net.createServer();
      const target = await listenOn(server, transport, temp.dir);
      const pairs = [];
      for (let i = 0; i < 3; i++) pairs.push(await pair(server, target));
      let sync = true;
      server.getConnections((error, count) => observe('callback', { error, count, sync }));
      sync = false;
      observe('returned this', server.getConnections(() => {}) === server);
      observe('count', { count: await getConnections(server), _connections: server._connections });
      const closed = once(pairs[0].socket, 'close');
      pairs[0].client.destroy();
      await closed;
      observe('after one closed', await getConnections(server));
      pairs[1].socket.destroy();
      observe('after a server-side destroy', await getConnections(server));
      for (const { client, socket } of pairs) {
        client.destroy();
        socket.destroy();
      }
      await closeServer(server);
      observe('after close', await getConnections(server));
    });
  });

  test('maxConnections: connections over the limit are dropped with Node\u2019s data', async () => {
    await expectParity(async (net, observe) => {
      const server = net.createServer();
      server.maxConnections = 2;
      const target = await listenOn(server, transport, temp.dir);
      let connections = 0;
      server.on('connection', () => connections++);
      const pairs = [await pair(server, target), await pair(server, target)];
      const { args, client } = await droppedClient(server, target, observe, 'third');
      observe('drop', describeDrop(args, client, target));
      observe('counts', { connections, _connections: server._connections });
      // Freeing a slot lets the next connection in.
      const closed = once(pairs[0].socket, 'close');
      pairs[0].client.destroy();
      await closed;
      const again = await pair(server, target);
      observe('accepted again', { connections, _connections: server._connections });
      for (const { client, socket } of [...pairs, again]) {
        client.destroy();
        socket.destroy();
      }
      await closeServer(server);
    });
  });

  test("'drop' is emitted before the refused client sees its connection end", async () => {
    await expectParity(async (net, observe) => {
      const server = net.createServer();
      server.maxConnections = 1;
      const target = await listenOn(server, transport, temp.dir);
      const first = await pair(server, target);
      server.on('drop', () => observe('server drop'));
      const refused = await connect(target);
      await watchSocket(refused, 'refused client', observe);
      first.client.destroy();
      first.socket.destroy();
      await closeServer(server);
    });
  });

  test('maxConnections lowered below the live count drops new ones; raised lets them in', async () => {
    await expectParity(async (net, observe) => {
      const server = net.createServer();
      const target = await listenOn(server, transport, temp.dir);
      const pairs = [await pair(server, target), await pair(server, target), await pair(server, target)];
      server.maxConnections = 1;
      const { args } = await droppedClient(server, target, observe, 'lowered');
      observe('dropped', args.length);
      server.maxConnections = 10;
      pairs.push(await pair(server, target));
      observe('raised', server._connections);
      server.maxConnections = undefined;
      pairs.push(await pair(server, target));
      observe('removed', server._connections);
      for (const { client, socket } of pairs) {
        client.destroy();
        socket.destroy();
      }
      await closeServer(server);
    });
  });

  test('close() stops accepting, waits for live connections, then emits close', async () => {
    await expectParity(async (net, observe) => {
      const server = net.createServer();
      const target = await listenOn(server, transport, temp.dir);
      const first = await pair(server, target);
      const second = await pair(server, target);
      server.on('close', () => observe('server close', server._connections));
      server.close((error) => observe('close callback', error));
      observe('after close()', { listening: server.listening, connections: server._connections });
      try {
        await connect(target);
        observe('connected after close');
      } catch (error) {
        observe('connect after close', { code: error.code, syscall: error.syscall });
      }
      await turns(5);
      observe('still waiting');
      const firstClosed = watchSocket(first.socket, 'first', observe);
      first.client.end();
      await firstClosed;
      await turns(5);
      observe('one left', await getConnections(server));
      const serverClosed = once(server, 'close');
      second.socket.end();
      await serverClosed;
      second.client.destroy();
      first.client.destroy();
    });
  });
});

describe('maxConnections edge values', () => {
  test.each([
    ['0', 0],
    ['null', null],
    ['NaN', NaN],
    ['a numeric string', '1'],
    ['negative', -1],
    ['Infinity', Infinity],
  ])('%s', async (_name, value) => {
    const log = await expectParity(async (net, observe) => {
      const server = net.createServer();
      server.maxConnections = value;
      observe('value', String(server.maxConnections));
      const target = await listenOn(server, 'tcp');
      const outcome = new Promise((resolve) => {
        server.once('drop', () => resolve('dropped'));
        server.once('connection', (socket) => {
          socket.destroy();
          resolve('accepted');
        });
      });
      const client = await connect(target);
      observe('first connection', await outcome);
      client.destroy();
      await closeServer(server);
    });
    if (value === 0) {
      // Node 20: 0 means no limit. Node 22 and later: refuse everything.
      expect(log.find(([label]) => label === 'first connection')[1]).toBe(
        nodeMajor >= 22 ? 'dropped' : 'accepted',
      );
    }
  });

  test('a burst over the limit is refused: one connection, the rest dropped', async () => {
    const server = rsNet.createServer();
    server.maxConnections = 1;
    const target = await listenOn(server, 'tcp');
    const sockets = [];
    let drops = 0;
    server.on('connection', (socket) => sockets.push(socket));
    server.on('drop', () => drops++);
    const count = 40;
    const clients = [];
    for (let i = 0; i < count; i++) clients.push(connect(target));
    const connected = await Promise.allSettled(clients);
    await waitFor(() => sockets.length + drops === count, { what: 'every connection to be counted' });
    expect(sockets.length).toBe(1);
    expect(drops).toBe(count - 1);
    for (const result of connected) if (result.status === 'fulfilled') result.value.destroy();
    for (const socket of sockets) socket.destroy();
    await closeServer(server);
  });
});

// Node 22 and later: createServer({ blockList }) closes connections from
// blocked addresses without a 'connection' (or 'drop') event.
(nodeMajor >= 22 ? test : test.skip)('blockList: blocked clients are closed silently', async () => {
  await expectParity(async (net, observe) => {
    const blockList = new net.BlockList();
    blockList.addAddress('127.0.0.1');
    const server = net.createServer({ blockList });
    server.on('connection', () => observe('connection'));
    server.on('drop', () => observe('drop'));
    const target = await listenOn(server, 'tcp');
    const client = await connect(target);
    await watchSocket(client, 'client', observe);
    observe('counts', { _connections: server._connections });
    await closeServer(server);
  });
});
