'use strict';

// ws on rs-net/http: new WebSocketServer({ server }), compared with ws on
// Node's http; wss.address() and close reach the rs-net listener.

const { WebSocket, WebSocketServer } = require('ws');
const { MODULES, listen, shut } = require('./fixtures/http-util');

function exchange(port, messages) {
  return new Promise((resolve, reject) => {
    const client = new WebSocket(`ws://127.0.0.1:${port}/chat`);
    const received = [];
    client.on('open', () => messages.forEach((m) => client.send(m)));
    client.on('message', (data) => {
      received.push(data.toString());
      if (received.length === messages.length) client.close(1000, 'done');
    });
    client.on('close', (code) => resolve({ received, code }));
    client.on('error', reject);
  });
}

test('ws: same echo over Node http and rs-net/http; wss.address() is the server address', async () => {
  const seen = {};
  for (const [name, http] of MODULES) {
    const server = http.createServer((req, res) => res.end('plain'));
    const wss = new WebSocketServer({ server });
    wss.on('connection', (socket, req) => {
      socket.on('message', (data) => socket.send(`${req.url}:${data}`));
    });
    const port = await listen(server);
    expect(wss.address()).toEqual(server.address());
    seen[name] = await exchange(port, ['a', 'b', 'c']);
    await new Promise((resolve) => wss.close(resolve));
    await shut(server);
  }
  expect(seen.rs).toEqual(seen.node);
  expect(seen.rs).toEqual({ received: ['/chat:a', '/chat:b', '/chat:c'], code: 1000 });
});
