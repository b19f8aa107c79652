'use strict';

// worker_threads: each worker loads rs-net and runs its own server. With
// reusePort several workers share one port and the kernel spreads the
// connections among them; terminating a worker whose server listens, holds
// live connections, or is in the middle of delivering a burst ('busy'),
// neither crashes nor hangs the process, nor leaves a descriptor behind.

const net = require('net');
const path = require('path');
const { Worker } = require('worker_threads');
const { runNode } = require('./helpers/conn-util');

const workerScript = path.join(__dirname, 'fixtures', 'conn-worker.js');
const terminateScript = path.join(__dirname, 'fixtures', 'conn-worker-terminate.js');

function message(worker, event) {
  return new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (m.event === event) {
        worker.off('message', onMessage);
        resolve(m);
      }
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
}

// Connects, and resolves with what the server said before closing.
function ask(port) {
  return new Promise((resolve, reject) => {
    let text = '';
    const client = net.connect(port, '127.0.0.1');
    client.setEncoding('utf8');
    client.on('data', (chunk) => (text += chunk));
    client.on('error', reject);
    client.on('close', () => resolve(text));
  });
}

test('workers share a port with reusePort and each receives connections', async () => {
  const WORKERS = 3;
  const CONNECTIONS = 200;
  const workers = [];
  const exits = [];
  try {
    const first = new Worker(workerScript, { workerData: { id: 0, port: 0 } });
    workers.push(first);
    const { port } = await message(first, 'listening');
    for (let id = 1; id < WORKERS; id++) {
      const worker = new Worker(workerScript, { workerData: { id, port } });
      workers.push(worker);
      expect((await message(worker, 'listening')).port).toBe(port);
    }
    for (const worker of workers) exits.push(new Promise((resolve) => worker.once('exit', resolve)));

    const answers = [];
    for (let batch = 0; batch < CONNECTIONS; batch += 20) {
      answers.push(...(await Promise.all(Array.from({ length: 20 }, () => ask(port)))));
    }
    const perWorker = Array.from(
      { length: WORKERS },
      (_, id) => answers.filter((a) => a === String(id)).length,
    );
    expect(perWorker.reduce((a, b) => a + b, 0)).toBe(CONNECTIONS);
    for (const count of perWorker) expect(count).toBeGreaterThan(0);

    // Each closes its server and ends by itself.
    for (const worker of workers) worker.postMessage('close');
    const closed = await Promise.all(workers.map((worker) => message(worker, 'closed')));
    expect(closed.map((m) => m.count)).toEqual(perWorker);
    expect(await Promise.all(exits)).toEqual(Array(WORKERS).fill(0));
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
});

test.each(['idle', 'live', 'busy'])(
  'terminating a worker whose server is %s does not crash or hang the process',
  async (mode) => {
    const { code, signal, stdout, stderr } = await runNode([terminateScript, mode, '5'], { limit: 30000 });
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    const { results, main } = JSON.parse(stdout);
    expect(main).toBe('main');
    expect(results).toHaveLength(5);
    for (const result of results) {
      // terminate() resolves with 1; the connections the worker held were
      // closed, none of its descriptors stayed in the process (connections
      // accepted but not yet handed to the worker's JavaScript included);
      // the port was released.
      expect(result).toEqual({
        exitCode: 1,
        heldClosed: mode === 'idle' ? 0 : 20,
        leftSockets: 0,
        rebound: 'ok',
      });
    }
  },
  40000,
);
