'use strict';

// Clients in another process, and a long churn of connections that must
// leave no descriptor and no handle behind.

const path = require('path');
const { closeServer, rsNet } = require('./helpers/parity');
const { listenOn, openDescriptors, runNode, tempDir, waitFor } = require('./helpers/conn-util');

const clientsScript = path.join(__dirname, 'fixtures', 'conn-clients.js');

let temp;
beforeAll(() => {
  temp = tempDir();
});
afterAll(() => temp.cleanup());

describe.each(['tcp', 'unix'])('clients in another process over %s', (transport) => {
  test('200 concurrent clients are echoed', async () => {
    const server = rsNet.createServer((socket) => socket.pipe(socket));
    const serverErrors = [];
    server.on('error', (error) => serverErrors.push(error));
    const target = await listenOn(server, transport, temp.dir);
    try {
      const { code, stdout, stderr } = await runNode([
        clientsScript,
        String(target.port ?? target.path),
        '200',
      ]);
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(stdout)).toEqual({ connected: 200, echoed: 200, errors: [] });
      await waitFor(() => server._connections === 0, { what: 'every connection to close' });
    } finally {
      await closeServer(server);
    }
    expect(serverErrors).toEqual([]);
  });
});

// Active handles other than timers (waitFor's own timer is one).
function activeHandles() {
  return process._getActiveHandles().filter((handle) => handle.constructor.name !== 'Timeout').length;
}

function activeHandleNames() {
  return process
    ._getActiveHandles()
    .map((handle) => handle.constructor.name)
    .join(', ');
}

test('10,000 connections opened and closed leave no descriptor and no handle', async () => {
  const TOTAL = 10000;
  const CONCURRENCY = 100;
  const net = require('net');

  const server = rsNet.createServer((socket) => {
    socket.on('error', () => {});
    socket.end('hi');
  });
  // Warm up: the first listen starts the runtime's threads and descriptors,
  // which live as long as the process; the count starts after them.
  const warmUp = rsNet.createServer();
  await listenOn(warmUp, 'tcp');
  await closeServer(warmUp);

  const handlesBefore = activeHandles();
  const descriptorsBefore = openDescriptors();

  const target = await listenOn(server, 'tcp');
  let accepted = 0;
  let closed = 0;
  server.on('connection', (socket) => {
    accepted++;
    socket.on('close', () => closed++);
  });

  const oneClient = () =>
    new Promise((resolve, reject) => {
      const client = net.connect(target);
      let data = '';
      client.setEncoding('utf8');
      client.on('data', (chunk) => (data += chunk));
      client.on('error', reject);
      client.on('close', () => (data === 'hi' ? resolve() : reject(new Error(`got ${data}`))));
    });
  for (let done = 0; done < TOTAL; done += CONCURRENCY) {
    await Promise.all(Array.from({ length: CONCURRENCY }, oneClient));
  }
  await waitFor(() => closed === TOTAL, { what: 'every server socket to close' });
  expect(accepted).toBe(TOTAL);
  expect(server._connections).toBe(0);
  await closeServer(server);

  // Handles and descriptors are released as their close callbacks run.
  await waitFor(() => activeHandles() === handlesBefore, {
    what: `handles back to the start (${handlesBefore}): ${activeHandleNames()}`,
  });
  await waitFor(() => openDescriptors() === descriptorsBefore, {
    what: `descriptors back to ${descriptorsBefore}`,
  });
}, 120000);
