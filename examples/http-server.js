'use strict';

// An HTTP server whose connections are accepted by rs-net.
//
//   node examples/http-server.js [port]      (or PORT=8080; default: any free port)
//
// rs-net/http is Node's http whose servers accept their TCP connections on
// rs-net's tokio runtime: the one change from a Node program is the
// require. Ctrl-C (SIGINT) stops accepting, lets requests in flight finish,
// and the process exits by itself.

const http = require('rs-net/http');

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

httpServer.listen(port, host, () => {
  const address = httpServer.address();
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  console.log(`listening on http://${shown}:${address.port}/`);
});

process.once('SIGINT', () => {
  closing = true;
  console.log('closing');
  // Stop accepting and end idle keep-alive connections now (Node's http
  // close); the others end after their response (which says
  // Connection: close), and 'close' comes once the last one has ended.
  httpServer.close(() => console.log('closed'));
});
