'use strict';

// Clients that misbehave (reset mid-connection, connect and close at once,
// give up before the handshake ends) cost the server nothing but their own
// socket: no server 'error', no leaked descriptor, the count back to zero.

const { closeServer, nodeNet, rsNet } = require('./helpers/parity');
const { listenOn, openSockets, waitFor } = require('./helpers/conn-util');

const ROUNDS = 4;
const PER_KIND = 40;

// Each kind of client; each resolves once the client is closed.
const kinds = {
  'connect then destroy': (target) =>
    new Promise((resolve) => {
      const client = nodeNet.connect(target, () => client.destroy());
      client
        .on('error', () => {})
        .on('close', resolve)
        .resume();
    }),
  'connect then reset': (target) =>
    new Promise((resolve) => {
      const client = nodeNet.connect(target, () => client.resetAndDestroy());
      client
        .on('error', () => {})
        .on('close', resolve)
        .resume();
    }),
  'write then reset': (target) =>
    new Promise((resolve) => {
      const client = nodeNet.connect(target, () => {
        client.write('some request');
        setImmediate(() => client.resetAndDestroy());
      });
      client
        .on('error', () => {})
        .on('close', resolve)
        .resume();
    }),
  'destroy before connected': (target) =>
    new Promise((resolve) => {
      const client = nodeNet.connect(target);
      client
        .on('error', () => {})
        .on('close', resolve)
        .resume();
      client.destroy();
    }),
  'end right away': (target) =>
    new Promise((resolve) => {
      const client = nodeNet.connect(target);
      client
        .on('error', () => {})
        .on('close', resolve)
        .resume();
      client.end('bye');
    }),
};

test.each([
  ['rs-net', rsNet],
  ["Node's net", nodeNet],
])('%s: misbehaving clients leave nothing behind', async (_name, net) => {
  const socketsBefore = openSockets();
  const server = net.createServer();
  const serverErrors = [];
  const socketErrors = new Set();
  let accepted = 0;
  let closed = 0;
  server.on('error', (error) => serverErrors.push(error));
  server.on('connection', (socket) => {
    accepted++;
    socket.on('error', (error) => socketErrors.add(error.code));
    socket.on('close', () => closed++);
    // Answer, as a server would; writing to a reset peer must not throw.
    socket.on('data', () => socket.write('response'));
  });
  const target = await listenOn(server, 'tcp');
  for (let round = 0; round < ROUNDS; round++) {
    const clients = [];
    for (const start of Object.values(kinds)) {
      for (let i = 0; i < PER_KIND; i++) clients.push(start(target));
    }
    await Promise.all(clients);
  }
  await waitFor(() => server._connections === 0 && closed === accepted, {
    what: 'every accepted socket to close',
  });
  await closeServer(server);
  expect(serverErrors).toEqual([]);
  // Resets are the sockets' own business, and all they may report.
  expect([...socketErrors].filter((code) => code !== 'ECONNRESET' && code !== 'EPIPE')).toEqual([]);
  expect(accepted).toBeGreaterThan(0);
  await waitFor(() => openSockets() === socketsBefore, { what: 'socket descriptors back to the start' });
});
