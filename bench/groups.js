'use strict';

// Worker rows: one port served from several workers, three ways — an
// rs-net listener group (worker threads, one socket), rs-net reusePort
// (worker threads, one socket each) and Node's cluster round-robin (worker
// processes, Node's net). `node bench/groups.js [--out FILE]` runs:
//   balance  8 and 16 long-lived connections over 4 workers: connections
//            per worker, max/mean;
//   stall    4 workers, worker 0 blocks its loop 200 ms every second (busy
//            looping, then waiting without CPU), short requests (a
//            connection each) arrive at 1000/s whatever the answers:
//            p50/p99/max from when each was due, and how many waited over
//            50 ms;
//   churn    2 workers, short connections: server CPU per connection, summed
//            over every thread and process of the server; and, for scale,
//            Node's net serving them alone on one thread (mode `single`).
// The clients run in this process; the server is a separate process.
// `--only balance,stall,churn` picks rows.

const fs = require('fs');
const net = require('net');
const path = require('path');
const readline = require('readline');
const { spawn } = require('child_process');

const MODES = ['group', 'reuseport', 'cluster'];
const HOST = '127.0.0.1';

function startServer(mode, workers, stall = '0') {
  const child = spawn(
    process.execPath,
    [path.join(__dirname, 'groups-server.js'), mode, String(workers), stall],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = readline.createInterface({ input: child.stdout });
  const waiting = [];
  lines.on('line', (line) => waiting.shift()?.(JSON.parse(line)));
  const next = () => new Promise((resolve) => waiting.push(resolve));
  const ask = (command) => {
    const reply = next();
    child.stdin.write(`${command}\n`);
    return reply;
  };
  return next().then(({ port }) => ({
    port,
    ask,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.stdin.write('exit\n');
      }),
  }));
}

/** Connects, sends one line, resolves with the socket once answered. */
function request(port, keep) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const socket = net.connect(port, HOST, () => socket.write('x\n'));
    socket.setEncoding('latin1');
    socket.once('error', reject);
    socket.once('data', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (!keep) socket.destroy();
      resolve({ socket, ms });
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function balance(mode) {
  const server = await startServer(mode, 4);
  const rows = [];
  const held = [];
  for (const target of [8, 16]) {
    while (held.length < target) held.push((await request(server.port, true)).socket);
    await sleep(100);
    const { connections } = await server.ask('stats');
    const mean = connections.reduce((a, b) => a + b, 0) / connections.length;
    rows.push({
      mode,
      connections: target,
      perWorker: connections,
      maxOverMean: Math.max(...connections) / mean,
    });
  }
  for (const socket of held) socket.destroy();
  await server.stop();
  return rows;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

// Open loop: requests start at a fixed rate whatever the answers, and each
// latency counts from when its request was due (no coordinated omission).
async function stall(mode, kind, seconds = 6, rate = 1000) {
  const server = await startServer(mode, 4, kind);
  const latencies = [];
  let failed = 0;
  const pending = [];
  const t0 = process.hrtime.bigint();
  const total = seconds * rate;
  let issued = 0;
  while (issued < total) {
    const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const due = Math.min(total, Math.floor((elapsedMs * rate) / 1000));
    for (; issued < due; issued++) {
      const dueAt = t0 + BigInt(Math.round((issued * 1e9) / rate));
      pending.push(
        request(server.port, false).then(
          () => latencies.push(Number(process.hrtime.bigint() - dueAt) / 1e6),
          () => failed++,
        ),
      );
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(pending);
  await server.stop();
  latencies.sort((a, b) => a - b);
  return {
    mode,
    requests: latencies.length,
    failed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1],
    // Requests that waited out (much of) a stall.
    over50: latencies.filter((ms) => ms > 50).length,
  };
}

async function churn(mode, total = 20000, concurrency = 16) {
  const server = await startServer(mode, 2);
  // Warm-up.
  for (let i = 0; i < 200; i++) await request(server.port, false);
  const before = (await server.ask('cpu')).cpuMs;
  let started = 0;
  const loop = async () => {
    while (started < total) {
      started++;
      await request(server.port, false);
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, loop));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await sleep(200);
  const after = (await server.ask('cpu')).cpuMs;
  await server.stop();
  return {
    mode,
    connections: total,
    cpuUsPerConnection: ((after - before) * 1000) / total,
    perSecond: total / seconds,
  };
}

const fmt = (n, d = 1) => n.toFixed(d);

/**
 * Runs the worker rows (`rows`: some of balance, stall, churn), prints
 * them, writes them to `out` if given, and returns their markdown. `quick`
 * shortens the stall and churn rows (figures are noise then).
 */
async function runWorkerRows({ rows = ['balance', 'stall', 'churn'], out, quick = false } = {}) {
  const lines = [];
  const say = (line = '') => {
    lines.push(line);
    console.log(line);
  };
  say('## Serving one port from several workers');
  say();
  say(
    `Node ${process.version}, ${require('os').cpus().length} cores. group: rs-net listener group in worker threads;`,
  );
  say('reuseport: rs-net reusePort in worker threads; cluster: Node cluster round-robin, Node net.');
  say();
  say(
    `With ${require('os').cpus().length} cores shared by the servers and their clients, how throughput scales with cores cannot be shown here;`,
  );
  say('these rows measure what can be: balance, latency with a stalled worker, and CPU per connection.');
  say();
  if (rows.includes('balance')) {
    say('### Balance: long-lived connections over 4 workers');
    say();
    say('| mode | connections | per worker | max/mean |');
    say('| --- | --- | --- | --- |');
    for (const mode of MODES) {
      for (const row of await balance(mode)) {
        say(
          `| ${row.mode} | ${row.connections} | ${row.perWorker.join(' / ')} | ${fmt(row.maxOverMean, 2)} |`,
        );
      }
    }
    say();
  }
  if (rows.includes('stall')) {
    for (const [kind, how] of [
      ['busy', 'busy looping (which also takes one of the 2 cores from the rest)'],
      ['sleep', 'waiting without using the CPU (Atomics.wait)'],
    ]) {
      say(
        `### A stalled worker, ${how}: 4 workers, worker 0 blocks 200 ms every second; short requests (a connection each) at 1000/s for ${quick ? 1 : 6} s, open loop`,
      );
      say();
      say('| mode | requests | failed | p50 ms | p99 ms | max ms | requests over 50 ms |');
      say('| --- | --- | --- | --- | --- | --- | --- |');
      for (const mode of MODES) {
        const r = await stall(mode, kind, quick ? 1 : 6);
        say(
          `| ${r.mode} | ${r.requests} | ${r.failed} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.max, 1)} | ${r.over50} |`,
        );
      }
      say();
    }
  }
  if (rows.includes('churn')) {
    say('### Connection churn served by 2 workers: server CPU per connection (all threads and processes)');
    say();
    say('| mode | connections | CPU µs per connection | connections/s |');
    say('| --- | --- | --- | --- |');
    // 'single' is the floor a worker row is measured against: Node's net
    // serving the same churn alone, on one thread of one process.
    for (const mode of [...MODES, 'single']) {
      const r = await churn(mode, quick ? 1000 : 20000);
      say(`| ${r.mode} | ${r.connections} | ${fmt(r.cpuUsPerConnection)} | ${Math.round(r.perSecond)} |`);
    }
    say();
    say(
      'single: Node net, one server on the main thread of one process (no worker): what serving these connections costs without handing any over.',
    );
    say();
  }
  const markdown = `${lines.join('\n')}\n`;
  if (out) fs.writeFileSync(out, markdown);
  return markdown;
}

module.exports = { runWorkerRows };

if (require.main === module) {
  const onlyIndex = process.argv.indexOf('--only');
  const outIndex = process.argv.indexOf('--out');
  runWorkerRows({
    rows: onlyIndex === -1 ? undefined : process.argv[onlyIndex + 1].split(','),
    out: outIndex === -1 ? undefined : process.argv[outIndex + 1],
    quick: process.argv.includes('--quick'),
  }).catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
