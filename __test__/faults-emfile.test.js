'use strict';

// Out of descriptors (EMFILE): a server in a child process under a low
// `ulimit -n` is flooded with clients. It must keep running, must not spin
// a core while starved, and must accept again once descriptors are freed.

const { execFileSync } = require('child_process');
const nodeNet = require('net');
const { cpuTicks, spawnStdioServer, waitFor } = require('./helpers/conn-util');

const FD_LIMIT = 64;
const CLIENTS = 100;

const ticksPerSecond = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    return 100;
  }
})();

function openClients(port) {
  const clients = [];
  for (let i = 0; i < CLIENTS; i++) {
    const client = nodeNet.connect(port, '127.0.0.1');
    client.ended = false;
    client.on('error', () => {});
    client.on('end', () => (client.ended = true));
    clients.push(client);
  }
  return clients;
}

async function count(server) {
  server.send('count');
  return server.message('count');
}

// Waits until the child's count stays the same for a while: it took every
// connection it could.
async function settle(server) {
  let last = -1;
  let still = 0;
  let report;
  await waitFor(
    async () => {
      report = await count(server);
      still = report.connections === last ? still + 1 : 0;
      last = report.connections;
      return still >= 5;
    },
    { limit: 15000, interval: 100, what: 'the child to stop accepting' },
  );
  return report;
}

// CPU time of the child over `ms` milliseconds, as a fraction of one core.
async function cpuShare(pid, ms) {
  const before = cpuTicks(pid);
  const start = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const ticks = cpuTicks(pid) - before;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return ticks / ticksPerSecond / seconds;
}

test('rs-net under EMFILE: keeps running, does not spin, accepts again when descriptors are freed', async () => {
  const server = spawnStdioServer('rs', { fdLimit: FD_LIMIT });
  const clients = [];
  try {
    const { address, pid } = await server.message('listening');
    clients.push(...openClients(address.port));
    const starved = await settle(server);
    // Some were accepted, but not all: the limit was reached.
    expect(starved.connections).toBeGreaterThan(10);
    expect(starved.connections).toBeLessThan(CLIENTS);
    expect(starved.errors).toEqual([]);

    // Starved, with clients waiting: a generous bound far below one core.
    expect(await cpuShare(pid, 1500)).toBeLessThan(0.3);

    // rs-net leaves the clients it cannot take in the kernel's backlog
    // (Node's libuv accepts and closes them at once): none was closed.
    expect(clients.filter((client) => client.ended)).toHaveLength(0);

    // Freeing descriptors lets the waiting clients in.
    server.send('release');
    await server.message('released');
    await waitFor(async () => (await count(server)).connections > starved.connections, {
      limit: 10000,
      interval: 100,
      what: 'accepting to resume',
    });
    // Keep releasing until every client got in.
    await waitFor(
      async () => {
        server.send('release');
        await server.message('released');
        return (await count(server)).connections === CLIENTS;
      },
      { limit: 15000, interval: 100, what: 'every client to be accepted' },
    );
    const final = await count(server);
    expect(final.errors).toEqual([]);
  } finally {
    for (const client of clients) client.destroy();
    const { code, signal, stderr } = await server.exit();
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  }
});

// The same flood on Node's own net, to state the difference explicitly:
// libuv's EMFILE handling accepts and closes the connections it cannot
// keep, so those clients see their connection end and are never served.
test('Node under EMFILE closes the clients it cannot take (a deliberate difference)', async () => {
  const server = spawnStdioServer('net', { fdLimit: FD_LIMIT });
  const clients = [];
  try {
    const { address, pid } = await server.message('listening');
    clients.push(...openClients(address.port));
    const starved = await settle(server);
    expect(starved.connections).toBeLessThan(CLIENTS);
    expect(await cpuShare(pid, 1000)).toBeLessThan(0.3);
    await waitFor(() => clients.filter((client) => client.ended).length === CLIENTS - starved.connections, {
      what: 'Node to close the clients it could not keep',
    });
  } finally {
    for (const client of clients) client.destroy();
    const { code, signal } = await server.exit();
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  }
});
