'use strict';

// The server of the worker rows (bench/groups.js): `node bench/groups-server.js
// <mode> <workers> <stall>`, mode `group` (rs-net listener group in worker
// threads), `reuseport` (rs-net reusePort in worker threads), `cluster`
// (Node's cluster, round-robin, Node's own net) or `single` (Node's net on
// this process's main thread, no workers). Every worker runs the same
// app: each line a client sends is answered with "ok\n". With stall `busy`
// or `sleep` (else `0`), worker 0 blocks its event loop for 200 ms every
// second: busy looping, or waiting without using the CPU.
//
// Prints {"port":N} once every worker listens; then answers stdin lines:
// "stats" -> {"connections":[per worker]}, "cpu" -> {"cpuMs":N} (user +
// system of this process, all threads, and of its cluster workers).

const cluster = require('cluster');
const fs = require('fs');
const path = require('path');
const readline = require('readline');
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');

const HOST = '127.0.0.1';

function app(net, id, stall, listenOptions, report) {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    socket.setEncoding('latin1');
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      for (let i = chunk.indexOf('\n'); i !== -1; i = chunk.indexOf('\n', i + 1)) socket.write('ok\n');
    });
  });
  if (stall === 'busy') {
    // A loop busy with work: it also takes a core from everything else.
    setInterval(() => {
      const until = Date.now() + 200;
      while (Date.now() < until);
    }, 1000);
  } else if (stall === 'sleep') {
    // A loop blocked without using the CPU (a synchronous wait).
    const cell = new Int32Array(new SharedArrayBuffer(4));
    setInterval(() => Atomics.wait(cell, 0, 0, 200), 1000);
  }
  server.listen(listenOptions, () => report({ event: 'listening', port: server.address().port }));
  return () => connections;
}

function cpuMsOf(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 (1-based) of the whole line.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

if (!isMainThread) {
  const { mode, id, port, stall } = workerData;
  const net = require(path.join(__dirname, '..'));
  const options =
    mode === 'group' ? { host: HOST, port, group: 'bench' } : { host: HOST, port, reusePort: true };
  const count = app(net, id, id === 0 && stall, options, (m) => parentPort.postMessage(m));
  parentPort.on('message', () => parentPort.postMessage({ event: 'stats', connections: count() }));
} else if (cluster.isWorker) {
  const id = Number(process.env.BENCH_ID);
  const count = app(require('net'), id, id === 0 && process.env.BENCH_STALL, { host: HOST, port: 0 }, (m) =>
    process.send(m),
  );
  process.on('message', () => process.send({ event: 'stats', connections: count() }));
} else {
  const [mode, workersArg, stallArg] = process.argv.slice(2);
  const size = Number(workersArg);
  const stall = stallArg === '0' ? false : stallArg;
  const members = [];
  const once = (member, event) =>
    new Promise((resolve) => {
      const on = (m) => {
        if (m.event === event) {
          member.off('message', on);
          resolve(m);
        }
      };
      member.on('message', on);
    });
  const start = async () => {
    let port = 0;
    if (mode === 'single') {
      // No members: only the churn row runs it, and asks only for 'cpu'.
      app(require('net'), 0, stall, { host: HOST, port: 0 }, (m) => {
        process.stdout.write(`${JSON.stringify({ port: m.port })}\n`);
      });
      return;
    } else if (mode === 'cluster') {
      cluster.schedulingPolicy = cluster.SCHED_RR;
      for (let id = 0; id < size; id++) {
        const worker = cluster.fork({ BENCH_ID: String(id), BENCH_STALL: stall || '' });
        members.push(worker);
      }
      const ports = await Promise.all(members.map((m) => once(m, 'listening')));
      port = ports[0].port;
    } else {
      for (let id = 0; id < size; id++) {
        const worker = new Worker(__filename, { workerData: { mode, id, port, stall } });
        members.push(worker);
        const m = await once(worker, 'listening');
        if (id === 0) port = m.port;
      }
    }
    process.stdout.write(`${JSON.stringify({ port })}\n`);
  };
  start();
  readline.createInterface({ input: process.stdin }).on('line', async (line) => {
    if (line === 'stats') {
      const stats = await Promise.all(
        members.map((m) => {
          const reply = once(m, 'stats');
          m.postMessage ? m.postMessage('stats') : m.send('stats');
          return reply;
        }),
      );
      process.stdout.write(`${JSON.stringify({ connections: stats.map((s) => s.connections) })}\n`);
    } else if (line === 'cpu') {
      let cpuMs = cpuMsOf(process.pid);
      if (mode === 'cluster') for (const m of members) cpuMs += cpuMsOf(m.process.pid);
      process.stdout.write(`${JSON.stringify({ cpuMs })}\n`);
    } else if (line === 'exit') {
      if (mode === 'cluster') for (const m of members) m.kill();
      process.exit(0);
    }
  });
}
