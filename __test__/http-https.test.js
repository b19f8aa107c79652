'use strict';

// rs-net/https compared with Node's https on one scenario: a keep-alive
// request over TLS, close() closing the idle connection, headersTimeout
// enforced over TLS, closeAllConnections().

const fs = require('fs');
const path = require('path');
const tls = require('tls');
const nodeHttps = require('https');
const rsHttps = require('rs-net/https');
const { stable } = require('./fixtures/http-util');

const fixture = (name) => fs.readFileSync(path.join(__dirname, 'fixtures', name));
const tlsOptions = { key: fixture('http-a.key'), cert: fixture('http-a.crt') };

// A raw TLS client; resolves with helpers once the handshake is done.
function tlsClient(port) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'a.test', rejectUnauthorized: false });
    let text = '';
    let ended = false;
    const waiters = [];
    const check = () => {
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (ended || waiters[i].done(text)) waiters.splice(i, 1)[0].resolve(text);
      }
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      text += chunk;
      check();
    });
    socket.on('close', () => {
      ended = true;
      check();
    });
    socket.on('error', () => {});
    socket.once('secureConnect', () =>
      resolve({
        send: (data) => socket.write(data),
        read: (done = () => false) => new Promise((r) => (waiters.push({ done, resolve: r }), check())),
        isEnded: () => ended,
      }),
    );
    socket.once('error', reject);
  });
}

async function scenario(https) {
  const log = [];
  const server = https.createServer(
    { ...tlsOptions, headersTimeout: 300, requestTimeout: 600, connectionsCheckingInterval: 50 },
    (req, res) => res.end(`${req.url} ${req.socket.encrypted}`),
  );
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  log.push(['listening', server.listening]);

  const slow = await tlsClient(port);
  slow.send('GET / HTTP/1.1\r\nHost: x\r\n');
  log.push(['headers timeout', (await slow.read()).split('\r\n')[0]]);

  const idle = await tlsClient(port);
  idle.send('GET /idle HTTP/1.1\r\nHost: x\r\n\r\n');
  const text = await idle.read((t) => t.endsWith('/idle true'));
  log.push(['keep-alive response', text.split('\r\n').filter((line) => !line.startsWith('Date'))]);
  const closed = new Promise((resolve) => server.close(resolve));
  await idle.read();
  log.push(['idle closed by close()', idle.isEnded()]);
  log.push(['close callback', await closed, server.listening, server.address()]);
  return stable(log);
}

test('https: same scenario on Node https and rs-net/https', async () => {
  const node = await scenario(nodeHttps);
  const rs = await scenario(rsHttps);
  expect(rs).toEqual(node);
  expect(rs[1]).toEqual(['headers timeout', 'HTTP/1.1 408 Request Timeout']);
  expect(rs[3]).toEqual(['idle closed by close()', true]);
});
