'use strict';

// socket.io on rs-net/http: new Server(httpServer), compared with the same
// on Node's http; io.close() closes the rs-net listener.

const { Server } = require('socket.io');
const { io: connect } = require('socket.io-client');
const { MODULES, listen } = require('./fixtures/http-util');

function roundTrip(port, transports) {
  return new Promise((resolve, reject) => {
    const client = connect(`http://127.0.0.1:${port}`, { transports, reconnection: false, forceNew: true });
    client.on('connect_error', reject);
    client.on('connect', () => {
      client.emit('sum', [1, 2, 3], (total) => {
        client.close();
        resolve(total);
      });
    });
  });
}

test('socket.io: polling and websocket over Node http and rs-net/http; io.close() closes the server', async () => {
  const seen = {};
  for (const [name, http] of MODULES) {
    const httpServer = http.createServer();
    const io = new Server(httpServer);
    io.on('connection', (socket) =>
      socket.on('sum', (values, ack) => ack(values.reduce((a, b) => a + b, 0))),
    );
    const port = await listen(httpServer);
    seen[name] = [await roundTrip(port, ['polling']), await roundTrip(port, ['websocket'])];
    const closeError = await new Promise((resolve) => io.close(resolve));
    seen[name].push([closeError === undefined, httpServer.listening]);
  }
  expect(seen.rs).toEqual(seen.node);
  expect(seen.rs).toEqual([6, 6, [true, false]]);
});
