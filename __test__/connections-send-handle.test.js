'use strict';

// Handing an accepted socket to another process (pauseOnConnect, then
// child.send('socket', socket)): the child serves it, and the server keeps
// counting it, as Node's does.

const { fork } = require('child_process');
const path = require('path');
const { expectParity } = require('./helpers/parity');
const { listenOn } = require('./helpers/conn-util');

const childScript = path.join(__dirname, 'fixtures', 'conn-socket-child.js');

function scenario(observeCounts) {
  return async (net, observe) => {
    const child = fork(childScript, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const childExited = new Promise((resolve) => child.on('exit', resolve));
    const server = net.createServer({ pauseOnConnect: true });
    const target = await listenOn(server, 'tcp');
    const sent = new Promise((resolve) =>
      server.once('connection', (socket) => {
        child.send('socket', socket, (error) => {
          observe('sent', { error, socketDestroyed: socket.destroyed, usingWorkers: server._usingWorkers });
          resolve();
        });
      }),
    );
    const client = require('net').connect(target);
    let text = '';
    client.setEncoding('utf8').on('data', (chunk) => (text += chunk));
    const clientClosed = new Promise((resolve) => client.on('close', resolve));
    await sent;
    if (observeCounts) {
      // Node counts the socket the child holds until the child closes it,
      // and close() waits for it.
      const count = await new Promise((resolve) => server.getConnections((error, n) => resolve(n)));
      observe('getConnections while the child holds it', count);
      const serverClosed = new Promise((resolve) => server.close(resolve));
      const first = await Promise.race([
        serverClosed.then(() => 'server'),
        clientClosed.then(() => 'client'),
      ]);
      observe('first to close', first);
      await serverClosed;
    } else {
      await clientClosed;
      await new Promise((resolve) => server.close(resolve));
    }
    await clientClosed;
    observe('client received', text);
    child.send('exit');
    await childExited;
  };
}

test('the child serves a socket the server accepted', async () => {
  await expectParity(scenario(false));
});

// Node counts the sockets handed to child processes (server._workers) in
// getConnections() and waits for the children to close them in close().
test('getConnections() and close() account for a socket held by the child', async () => {
  await expectParity(scenario(true));
});

// Sending a socket to a child lowers server._connections without the
// server hearing of it (Node's child_process does `_connections--`), so with
// maxConnections = 1 the next connection is let in, not dropped.
test('maxConnections counts a socket sent to a child as gone', async () => {
  await expectParity(async (net, observe) => {
    const child = fork(childScript, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const childExited = new Promise((resolve) => child.on('exit', resolve));
    const server = net.createServer({ pauseOnConnect: true });
    server.maxConnections = 1;
    server.on('drop', () => observe('drop'));
    const target = await listenOn(server, 'tcp');
    const clients = [];
    for (let i = 1; i <= 3; i++) {
      const handed = new Promise((resolve) =>
        server.once('connection', (socket) => {
          observe('connection', i);
          child.send('socket', socket, () => {
            observe('sent', { i, _connections: server._connections });
            resolve();
          });
        }),
      );
      const client = require('net').connect(target);
      client.on('error', () => {});
      client.resume();
      clients.push(new Promise((resolve) => client.on('close', resolve)));
      await handed;
    }
    await Promise.all(clients);
    await new Promise((resolve) => server.close(resolve));
    child.send('exit');
    await childExited;
  });
});
