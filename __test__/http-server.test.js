'use strict';

// Node's http on top of connections accepted by rs-net: an http.Server fed
// the sockets of a net server, compared with the same over Node's net.

const http = require('http');
const { expectParity, closeServer } = require('./helpers/parity');
const { connect, listenOn, tempDir, waitFor } = require('./helpers/conn-util');

let temp;
beforeAll(() => {
  temp = tempDir();
});
afterAll(() => temp.cleanup());

// An http.Server behind a `net` server; resolves with both and the target.
async function httpOver(net, transport, handler, configure = () => {}) {
  const httpServer = http.createServer(handler);
  configure(httpServer);
  const server = net.createServer((socket) => httpServer.emit('connection', socket));
  let connections = 0;
  server.on('connection', () => connections++);
  server.on('listening', () => httpServer.emit('listening'));
  const target = await listenOn(server, transport, temp.dir);
  return {
    httpServer,
    server,
    target,
    connections: () => connections,
    async close() {
      httpServer.closeAllConnections();
      await closeServer(server);
    },
  };
}

function echoHandler(req, res) {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    res.setHeader('x-url', req.url);
    res.setHeader('x-socket-is-net-socket', String(req.socket instanceof require('net').Socket));
    res.end(`${req.method} ${req.url} ${body.length}`);
  });
}

function request(target, options, body) {
  return new Promise((resolve, reject) => {
    const where = target.path !== undefined ? { socketPath: target.path } : target;
    const req = http.request({ ...where, ...options }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode,
          body: text,
          connection: res.headers.connection,
          keepAlive: res.headers['keep-alive'],
          socketIsNet: res.headers['x-socket-is-net-socket'],
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

// Reads from a raw socket until `done(text)` says the responses are complete.
function readUntil(socket, done) {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      text += chunk;
      if (done(text)) resolve(text);
    });
    socket.on('error', reject);
    socket.on('end', () => resolve(text));
  });
}

const withoutDate = (text) => text.replace(/^Date: .*\r\n/gim, '');

describe.each(['tcp', 'unix'])('http over %s', (transport) => {
  test('keep-alive: many requests over one connection with the http client', async () => {
    await expectParity(async (net, observe) => {
      const service = await httpOver(net, transport, echoHandler);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (let i = 0; i < 20; i++) {
          const method = i % 2 ? 'POST' : 'GET';
          const response = await request(
            service.target,
            { agent, method, path: `/r${i}` },
            method === 'POST' ? 'x'.repeat(i * 100) : undefined,
          );
          observe(`response ${i}`, response);
        }
        observe('connections', service.connections());
      } finally {
        agent.destroy();
        await service.close();
      }
    });
  });

  test('pipelined requests from a raw client are answered in order', async () => {
    await expectParity(async (net, observe) => {
      const service = await httpOver(net, transport, echoHandler);
      try {
        const client = await connect(service.target);
        const host = 'Host: localhost\r\n';
        const pipelined =
          `GET /first HTTP/1.1\r\n${host}\r\n` +
          `POST /second HTTP/1.1\r\n${host}Content-Length: 5\r\n\r\nhello` +
          `GET /third HTTP/1.1\r\n${host}\r\n` +
          `GET /last HTTP/1.1\r\n${host}Connection: close\r\n\r\n`;
        const responses = readUntil(client, () => false);
        // Pipelined in one write and, again, split at awkward places.
        client.write(pipelined.slice(0, 30));
        client.write(pipelined.slice(30));
        const text = await responses;
        observe('responses', withoutDate(text));
        observe('connections', service.connections());
        client.destroy();
      } finally {
        await service.close();
      }
    });
  });

  test('concurrent clients and large bodies both ways', async () => {
    await expectParity(async (net, observe) => {
      const big = Buffer.alloc(3 * 1024 * 1024, 'a');
      const service = await httpOver(net, transport, (req, res) => {
        let length = 0;
        req.on('data', (chunk) => (length += chunk.length));
        req.on('end', () => {
          res.setHeader('x-received', String(length));
          res.end(req.url === '/big' ? big : 'ok');
        });
      });
      const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
      try {
        const results = await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            request(
              service.target,
              { agent, method: 'POST', path: i % 10 ? '/small' : '/big' },
              i % 10 ? 'x' : big,
            ),
          ),
        );
        observe(
          'results',
          results.map((r) => [r.status, r.body.length]),
        );
        observe('at most 8 connections', service.connections() <= 8);
      } finally {
        agent.destroy();
        await service.close();
      }
    });
  });

  test('keepAliveTimeout closes an idle connection; the server then closes', async () => {
    await expectParity(async (net, observe) => {
      const service = await httpOver(net, transport, echoHandler, (httpServer) => {
        httpServer.keepAliveTimeout = 100;
      });
      // A raw client, which keeps the connection open for as long as the
      // server does.
      const client = await connect(service.target);
      const clientEnded = readUntil(client, () => false);
      client.write('GET /once HTTP/1.1\r\nHost: x\r\n\r\n');
      const closed = new Promise((resolve) => service.server.once('close', resolve));
      await waitFor(() => service.connections() === 1, { what: 'the connection' });
      service.server.close();
      // The idle connection is closed by http's keep-alive timer, which
      // lets the net server emit 'close'.
      observe('response', withoutDate(await clientEnded));
      await closed;
      observe('server closed', service.server._connections);
      client.destroy();
    });
  });

  test('a client that disconnects mid-request does not disturb the server', async () => {
    await expectParity(async (net, observe) => {
      const service = await httpOver(net, transport, echoHandler);
      const clientErrors = [];
      service.httpServer.on('clientError', (error, socket) => {
        clientErrors.push(error.code);
        socket.destroy();
      });
      try {
        const client = await connect(service.target);
        client.write('POST /partial HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a part');
        await waitFor(() => service.connections() === 1, { what: 'the connection' });
        client.destroy();
        await waitFor(() => service.server._connections === 0, { what: 'the server socket to close' });
        const after = await request(service.target, { agent: false, path: '/after' });
        observe('after', after);
        observe('clientErrors', clientErrors);
      } finally {
        await service.close();
      }
    });
  });
});
