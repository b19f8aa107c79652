'use strict';

// Node 24 moves a listening TCP server to a worker thread listed in a
// postMessage transfer list. The same scenario on Node's net and on rs-net:
// every connection made afterwards is answered by the worker, none by the
// thread that gave the server away.

const net = require('net');
const { Worker } = require('worker_threads');

const { expectParity } = require('./helpers/parity');

const transferable = Object.getOwnPropertySymbols(net.Server.prototype).some(
  (symbol) => symbol.description === 'messaging_transfer_symbol',
);

const workerSource = `
  const { parentPort } = require('worker_threads');
  parentPort.once('message', (server) => {
    server.on('connection', (socket) => socket.end('worker'));
    parentPort.postMessage({ listening: server.listening, isServer: server instanceof require('net').Server });
  });
`;

function answer(port) {
  return new Promise((resolve) => {
    let data = '';
    const client = net.connect(port, '127.0.0.1');
    client.on('data', (chunk) => (data += chunk));
    client.on('error', (error) => resolve(error.code));
    client.on('close', () => resolve(data));
  });
}

(transferable ? test : test.skip)(
  'a listening server moved to a worker serves every connection there',
  async () => {
    await expectParity(async (netModule, observe) => {
      const server = netModule.createServer((socket) => socket.end('main'));
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address();
      const worker = new Worker(workerSource, { eval: true });
      const ready = new Promise((resolve) => worker.once('message', resolve));
      worker.postMessage(server, [server]);
      observe('worker', await ready);
      observe('source after transfer', { listening: server.listening, address: server.address() });
      const answers = [];
      for (let n = 0; n < 20; n++) answers.push(await answer(port));
      observe('answers', answers);
      await worker.terminate();
      observe('after the worker ended', await answer(port));
    });
  },
);

(transferable ? test : test.skip)(
  'an rs-net/http server moved to a worker serves every connection there',
  async () => {
    const rsHttp = require('../http');
    const server = rsHttp.createServer((request, response) => response.end('main'));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address();
    const worker = new Worker(workerSource, { eval: true });
    const ready = new Promise((resolve) => worker.once('message', resolve));
    worker.postMessage(server, [server]);
    expect(await ready).toEqual({ listening: true, isServer: true });
    const answers = [];
    for (let n = 0; n < 20; n++) answers.push(await answer(port));
    expect(answers).toEqual(Array(20).fill('worker'));
    await worker.terminate();
  },
);
