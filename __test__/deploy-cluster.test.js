'use strict';

// cluster, as Node does it: the same cluster app (fixtures/deploy-cluster.js)
// on Node's net and on rs-net, under round-robin and SCHED_NONE, compared.
// Its workers listen on a shared port 0, with exclusive: true, on a pipe path
// and on { fd: 3 }, the primary's descriptor 3: a listening socket that this
// process's server (of the module under test) handed over through stdio and
// then closed.

const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const { nodeNet, rsNet } = require('./helpers/parity');

const fixture = path.join(__dirname, 'fixtures', 'deploy-cluster.js');

jest.setTimeout(120000);

async function runCluster(moduleName, policy) {
  const net = moduleName === 'rs' ? rsNet : nodeNet;
  const pipeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rsnet-cluster-'));
  const server = net.createServer((socket) => socket.end('parent'));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fdPort = server.address().port;
  const env = { ...process.env, NODE_CLUSTER_SCHED_POLICY: policy, RSNET_CLUSTER_FD_PORT: String(fdPort) };
  delete env.NODE_UNIQUE_ID;
  const child = spawn(process.execPath, [fixture, moduleName, pipeDir], {
    env,
    stdio: ['ignore', 'pipe', 'pipe', server._handle],
  });
  // The primary holds the socket now; this server closes (and must not shut
  // the socket down for the primary).
  const parentClosed = new Promise((resolve) => server.close(resolve));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90000);
  const [code] = await new Promise((resolve) => child.on('close', (...args) => resolve(args)));
  clearTimeout(timer);
  await parentClosed;
  fs.rmSync(pipeDir, { recursive: true, force: true });
  if (code !== 0 || !stdout.trim()) throw new Error(`cluster fixture exited ${code}: ${stderr}${stdout}`);
  return { ...JSON.parse(stdout.trim().split('\n').pop()), fdPort };
}

// What must be the same on both modules: everything but ports, paths, and
// how the OS spread connections across workers under SCHED_NONE.
function normalize(log, policy) {
  const sum = (values) => values.reduce((a, b) => a + b, 0);
  const replies = Object.values(log.replies);
  return {
    listening: log.listening
      .map(({ worker, address, addressType, port }) => ({
        worker,
        address: addressType === -1 ? path.basename(address) : address,
        addressType,
        port:
          port === -1
            ? -1
            : port === log.reports[0].sharedAddress.port
              ? 'shared'
              : port === log.fdPort
                ? 'fd'
                : port,
      }))
      .sort((a, b) => a.worker - b.worker || String(a.address).localeCompare(String(b.address))),
    connections: sum(replies),
    // Round-robin hands connections to each worker in turn.
    everyWorkerServed: policy === 'rr' ? replies.length === 2 && replies.every((n) => n > 0) : 'os decides',
    pipeReply: log.pipeReply,
    fdConnections: sum(Object.values(log.fdReplies ?? {})),
    exits: log.exits,
    portAfterClose: log.portAfterClose,
    reports: log.reports.map((report) => ({
      instanceOfNetServer: report.instanceOfNetServer,
      sharedAddress: { ...report.sharedAddress, port: 'shared' },
      exclusivePortDiffers: report.exclusivePortDiffers,
      pipeAddress: report.pipeAddress,
      pipeError: report.pipeError,
      fdAddress: report.fdAddress && { ...report.fdAddress, port: 'fd' },
      fdError: report.fdError,
      listeningAfterClose: report.listeningAfterClose,
      everyConnectionThroughOnconnection: report.onconnection === report.noDelayCalls,
    })),
    onconnectionCalls: sum(log.reports.map((report) => report.onconnection)),
    // Across workers: under SCHED_NONE one worker may get no connection.
    clientHandles: [...new Set(log.reports.flatMap((report) => report.clientHandles))],
  };
}

describe.each([
  ['rr', 'round-robin'],
  ['none', 'SCHED_NONE'],
])('cluster under %s (%s)', (policy) => {
  let results;
  beforeAll(async () => {
    results = { node: await runCluster('node', policy), rs: await runCluster('rs', policy) };
  });

  test('workers and primary observe the same on Node net and rs-net', () => {
    const node = normalize(results.node, policy);
    const rs = normalize(results.rs, policy);
    expect(rs).toEqual(node);
    // And what they observe is what Node's cluster promises.
    expect(node.connections).toBe(8);
    expect(node.onconnectionCalls).toBe(8);
    expect(node.clientHandles).toEqual(['TCP']);
    expect(node.fdConnections).toBe(4);
    expect(node.listening).toHaveLength(6);
    expect(node.portAfterClose).toBe('free');
  });

  test(
    policy === 'rr'
      ? 'connections come from the primary, none from a native listener'
      : 'rs-net accepts natively on the shared handle',
    () => {
      const batches = results.rs.reports.map((report) => report.nativeBatches);
      const native = batches.reduce((a, b) => a + b, 0);
      if (policy === 'rr') expect(native).toBe(0);
      // The shared port's connections (8), the pipe's (1) and the
      // { fd: 3 } ones (4).
      else expect(native).toBe(13);
    },
  );
});

// reusePort: true in a worker does what the running Node version does: on
// Node 20 Node ignores it (the primary binds, and a second listen on the
// port in the same worker fails with EADDRINUSE); on 22 and later it means
// exclusive (the worker binds its own sockets, and the primary hears of no
// 'listening').
test('reusePort: true in a worker behaves as on Node net', async () => {
  const reusePortFixture = path.join(__dirname, 'fixtures', 'deploy-cluster-reuseport.js');
  const runs = {};
  for (const moduleName of ['node', 'rs']) {
    const env = { ...process.env };
    delete env.NODE_UNIQUE_ID;
    const child = spawn(process.execPath, [reusePortFixture, moduleName], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
    await new Promise((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    const log = JSON.parse(stdout.trim());
    delete log.report.port;
    runs[moduleName] = log;
  }
  expect(runs.rs).toEqual(runs.node);
  expect(runs.node.answered).toBe(6);
});

// A pipe in a round-robin worker is bound by the primary, with the modes
// the worker asked for (readableAll / writableAll), as Node passes them.
test('a worker’s pipe gets the readableAll / writableAll modes it asked for, as on Node net', async () => {
  const modesFixture = path.join(__dirname, 'fixtures', 'deploy-cluster-pipe-modes.js');
  const runs = {};
  for (const moduleName of ['node', 'rs']) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rsnet-cluster-modes-'));
    const env = { ...process.env };
    delete env.NODE_UNIQUE_ID;
    const child = spawn(process.execPath, [modesFixture, moduleName, dir], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
    await new Promise((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    fs.rmSync(dir, { recursive: true, force: true });
    runs[moduleName] = JSON.parse(stdout.trim());
  }
  expect(runs.rs).toEqual(runs.node);
});
