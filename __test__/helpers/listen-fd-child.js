'use strict';

// A child process for listen({ fd }) tests: listens on a descriptor it
// inherited, with Node's net or rs-net, connects to itself once, closes, and
// prints what it saw as JSON on stdout.
//
//   node listen-fd-child.js <node|rs> <fd> [<unix socket path>]

const fs = require('fs');
const nodeNet = require('net');

const [which, fdText, socketPath] = process.argv.slice(2);
const net = which === 'rs' ? require('../..') : nodeNet;
const { describeError } = require('./parity');

const log = [];
const isOpen = (fd) => {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};
const finish = () => process.stdout.write(JSON.stringify(log));

const server = net.createServer((socket) => {
  log.push(['connection']);
  socket.end('hello');
});
server.on('error', (error) => {
  log.push(['error', describeError(error)]);
  finish();
});
server.listen({ fd: Number(fdText) }, () => {
  const address = server.address();
  log.push(['listening', address && { address: address.address, family: address.family }]);
  const target = socketPath ?? { port: address.port, host: '127.0.0.1' };
  const client = nodeNet.connect(target);
  let received = '';
  client.on('data', (chunk) => (received += chunk));
  client.on('error', (error) => log.push(['client error', error.code]));
  client.on('close', () => {
    log.push(['client received', received]);
    server.close(() => {
      log.push(['closed', { listening: server.listening, descriptorOpen: isOpen(Number(fdText)) }]);
      if (socketPath) log.push(['socket file after close', fs.existsSync(socketPath)]);
      finish();
    });
  });
});
