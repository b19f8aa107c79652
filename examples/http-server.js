'use strict';

// An HTTP server whose connections are accepted by rs-net.
//
//   node examples/http-server.js [port]      (or PORT=8080; default: any free port)
//
// Node's http module does the HTTP; rs-net's server accepts the TCP
// connections (on its tokio runtime) and hands each socket to the http
// server, exactly as a net.Server of Node's would. Ctrl-C (SIGINT) stops
// accepting, lets requests in flight finish, and the process exits by itself.

const http = require('http');
const net = require('rs-net');

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';

let closing = false;

const httpServer = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    // While shutting down, tell keep-alive clients not to reuse the connection.
    if (closing) res.setHeader('Connection', 'close');
    res.setHeader('Content-Type', 'application/json');
    res.end(
      JSON.stringify({
        method: req.method,
        url: req.url,
        bodyLength: body.length,
        remoteAddress: req.socket.remoteAddress,
      }),
    );
  });
});

const server = net.createServer({ noDelay: true }, (socket) => httpServer.emit('connection', socket));

// http.Server tracks its connections (for headersTimeout, requestTimeout and
// closeIdleConnections) from its 'listening' event on.
server.on('listening', () => httpServer.emit('listening'));

server.listen(port, host, () => {
  const address = server.address();
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  console.log(`listening on http://${shown}:${address.port}/`);
});

process.once('SIGINT', () => {
  closing = true;
  console.log('closing');
  // Stop accepting; 'close' comes once the last connection has ended.
  server.close(() => console.log('closed'));
  // Keep-alive connections with no request in flight end now; the others
  // end after their response (which says Connection: close).
  httpServer.closeIdleConnections();
});
