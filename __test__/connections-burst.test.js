'use strict';

// Bursts: connections are accepted on the tokio runtime, off the JavaScript
// thread, and reach JavaScript in batches (one wake-up for many), with the
// event loop turning between batches.

const { spawn } = require('child_process');
const dc = require('diagnostics_channel');
const path = require('path');
const { closeServer, rsNet } = require('./helpers/parity');
const { listenOn, openSockets, waitFor } = require('./helpers/conn-util');
const { BATCH_SIZE } = require('../binding');

const clientsScript = path.join(__dirname, 'fixtures', 'conn-clients.js');

// Starts the client process, waiting on stdin; resolves once it is ready.
function startClients(port, count) {
  const child = spawn(process.execPath, [clientsScript, String(port), String(count), 'wait'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  const ready = waitFor(() => output.startsWith('ready\n'), { what: 'the client process' });
  return {
    ready,
    go: () => child.stdin.end('go\n'),
    async result() {
      const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
      const code = await exited;
      clearTimeout(timer);
      return { code, report: JSON.parse(output.slice('ready\n'.length)) };
    },
  };
}

// Blocks the JavaScript thread until `predicate()` holds (or `limit` ms).
function blockUntil(predicate, limit) {
  const deadline = Date.now() + limit;
  while (Date.now() < deadline) {
    if (predicate()) return true;
  }
  return false;
}

function recordBatches(server) {
  const events = [];
  const onBatch = (message) => {
    if (message.server === server) events.push({ size: message.size, pulled: message.pulled });
  };
  dc.subscribe('rs-net.server.batch', onBatch);
  return { events, stop: () => dc.unsubscribe('rs-net.server.batch', onBatch) };
}

test('a burst is accepted while JavaScript is blocked, then delivered in batches between turns', async () => {
  const COUNT = 200;
  const server = rsNet.createServer((socket) => socket.pipe(socket));
  let connections = 0;
  const order = [];
  server.on('connection', () => connections++);
  const target = await listenOn(server, 'tcp');
  const batches = recordBatches(server);
  const clients = startClients(target.port, COUNT);
  try {
    await clients.ready;
    const socketsBefore = openSockets();
    // Turns of the event loop, recorded next to the batches.
    let turning = true;
    const turn = () => {
      order.push('turn');
      if (turning) setImmediate(turn);
    };
    setImmediate(turn);
    clients.go();

    // With this thread busy, only the accept loop can take connections:
    // their descriptors appear in this process all the same.
    const acceptedWhileBlocked = blockUntil(() => openSockets() >= socketsBefore + COUNT, 10000);
    expect(acceptedWhileBlocked).toBe(true);
    expect(connections).toBe(0);

    const onBatch = () => order.push('batch');
    dc.subscribe('rs-net.server.batch', onBatch);
    await waitFor(() => connections === COUNT, { what: 'every connection to be delivered' });
    turning = false;
    dc.unsubscribe('rs-net.server.batch', onBatch);

    const { code, report } = await clients.result();
    expect({ code, report }).toEqual({ code: 0, report: { connected: COUNT, echoed: COUNT, errors: [] } });

    const sizes = batches.events.map((event) => event.size);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(COUNT);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(BATCH_SIZE);
    // Far fewer wake-ups of this thread than connections: one per burst,
    // the rest pulled.
    const wakeUps = batches.events.filter((event) => !event.pulled).length;
    expect(wakeUps).toBeLessThan(COUNT / BATCH_SIZE);
    expect(batches.events.filter((event) => event.pulled).length).toBeGreaterThan(0);
    // The event loop turned between the first batch and the last.
    const first = order.indexOf('batch');
    const last = order.lastIndexOf('batch');
    expect(order.slice(first, last)).toContain('turn');
  } finally {
    batches.stop();
    await closeServer(server);
  }
});

test('connections opened at once in this process outnumber the wake-ups', async () => {
  const COUNT = 300;
  const server = rsNet.createServer((socket) => socket.destroy());
  const target = await listenOn(server, 'tcp');
  const batches = recordBatches(server);
  let connections = 0;
  server.on('connection', () => connections++);
  const net = require('net');
  const closed = [];
  try {
    for (let i = 0; i < COUNT; i++) {
      const client = net.connect(target);
      client.on('error', () => {});
      client.resume();
      closed.push(new Promise((resolve) => client.on('close', resolve)));
    }
    await Promise.all(closed);
    await waitFor(() => connections === COUNT, { what: 'every connection' });
    const wakeUps = batches.events.filter((event) => !event.pulled).length;
    expect(wakeUps).toBeGreaterThan(0);
    expect(wakeUps).toBeLessThan(COUNT);
  } finally {
    batches.stop();
    await closeServer(server);
  }
});
