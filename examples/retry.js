'use strict';

// The retry example from Node's server.listen() documentation, run on
// rs-net. The 'error' handler below is the documentation's code, verbatim.
//
//   PORT=3000 HOST=127.0.0.1 node examples/retry.js
//
// If another server holds the port, it prints "Address in use, retrying..."
// every second until the port is free, then listens on it.

const net = require('rs-net');

const PORT = Number(process.env.PORT) || 3000;
const HOST = process.env.HOST || '127.0.0.1';

const server = net.createServer((socket) => {
  socket.end('hello from rs-net\n');
});

server.on('listening', () => {
  const { address, port } = server.address();
  console.log(`Listening on ${address}:${port}`);
});

server.on('error', (e) => {
  if (e.code === 'EADDRINUSE') {
    console.log('Address in use, retrying...');
    setTimeout(() => {
      server.close();
      server.listen(PORT, HOST);
    }, 1000);
  }
});

server.listen(PORT, HOST);

process.on('SIGTERM', () => server.close());
process.on('SIGINT', () => server.close());
