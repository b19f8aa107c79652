'use strict';

// The server under test, in its own process:
//
//   node --expose-gc bench/server.js <module> <workload>
//
// <module> is 'net' or 'rs-net' and is the only thing that differs between
// the two sides of a comparison: it is passed to require() and everything
// below uses what it returns. <workload> chooses the connection handler:
//   echo    writes back every chunk it reads (churn, echo, idle, burst)
//   sink    counts what it reads; at the client's end, answers the count
//           (8 bytes, big endian) and closes (bulk in)
//   source  reads an 8-byte count, writes that many bytes, closes (bulk out)
//   http    hands connections to node's http server (wrk)
//   http-server  the module's own http server listens: node:http for 'net',
//           rs-net/http for 'rs-net' (wrk)
//   listen  no listening server; runs listen/close cycles on command
//
// It prints JSON lines on stdout ({"event":"ready",...} first) and takes
// JSON commands on stdin, one per line; it exits when stdin ends, so it
// never outlives the runner.

const readline = require('readline');
const { monitorEventLoopDelay } = require('perf_hooks');

const [moduleName, workload] = process.argv.slice(2);
if (!['net', 'rs-net'].includes(moduleName) || !workload) {
  console.error('usage: node bench/server.js net|rs-net echo|sink|source|http|listen');
  process.exit(2);
}
// The one line that differs between the two modules.
const net = require(moduleName);

const HOST = '127.0.0.1';
const SOURCE_CHUNK = Buffer.alloc(64 * 1024, 0x5a);

// Counters the runner reads to check the load generator's figures against
// what the server itself saw.
const counts = { accepted: 0, open: 0, echoedBytes: 0, socketErrors: 0 };
// Callbacks waiting for counts to change (wait-open, arm-burst).
const watchers = new Set();

function send(message) {
  process.stdout.write(JSON.stringify(message) + '\n');
}

function notifyWatchers() {
  for (const watcher of watchers) watcher();
}

function track(socket) {
  counts.accepted++;
  counts.open++;
  socket.on('error', () => {
    // A client that resets is not the server's problem; count it only.
    counts.socketErrors++;
  });
  socket.on('close', () => {
    counts.open--;
    notifyWatchers();
  });
  notifyWatchers();
}

function echo(socket) {
  socket.on('data', (chunk) => {
    counts.echoedBytes += chunk.length;
    socket.write(chunk);
  });
}

function sink(socket) {
  let received = 0;
  socket.on('data', (chunk) => {
    received += chunk.length;
  });
  socket.on('end', () => {
    const count = Buffer.alloc(8);
    count.writeBigUInt64BE(BigInt(received));
    socket.end(count);
  });
}

function source(socket) {
  let header = Buffer.alloc(0);
  socket.on('data', function readCount(chunk) {
    header = Buffer.concat([header, chunk]);
    if (header.length < 8) return;
    socket.off('data', readCount);
    pump(socket, Number(header.readBigUInt64BE(0)));
  });
}

// Writes `left` bytes, waiting for 'drain' whenever the socket's buffer is
// full, as an application streaming a large response would.
function pump(socket, left) {
  while (left > 0) {
    const size = Math.min(left, SOURCE_CHUNK.length);
    left -= size;
    const chunk = size === SOURCE_CHUNK.length ? SOURCE_CHUNK : SOURCE_CHUNK.subarray(0, size);
    if (!socket.write(chunk)) {
      socket.once('drain', () => pump(socket, left));
      return;
    }
  }
  socket.end();
}

function httpHandler() {
  const http = require('http');
  const body = Buffer.from('hello from the rs-net benchmark\n');
  const httpServer = http.createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    response.end(body);
  });
  return (socket) => httpServer.emit('connection', socket);
}

const handlers = { echo, sink, source, http: httpHandler() };

// The module's own http: Node's for 'net', rs-net/http for 'rs-net'.
function startHttpServer() {
  const http = require(moduleName === 'net' ? 'http' : 'rs-net/http');
  const body = Buffer.from('hello from the rs-net benchmark\n');
  const server = http.createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    response.end(body);
  });
  server.on('connection', track);
  return server;
}

function startServer() {
  if (workload === 'http-server') return listenServer(startHttpServer());
  const handler = handlers[workload];
  if (!handler) throw new Error(`unknown workload ${workload}`);
  // The sink answers after the client's end, so its sockets must stay
  // writable when the end arrives.
  const server = net.createServer({ allowHalfOpen: workload === 'sink' }, (socket) => {
    track(socket);
    handler(socket);
  });
  return listenServer(server);
}

function listenServer(server) {
  server.on('error', (error) => {
    send({ event: 'error', message: `server: ${error.stack}` });
    process.exit(1);
  });
  // A large backlog (the kernel caps it at net.core.somaxconn) so a burst
  // measures how fast the server accepts, not SYN retransmission timers.
  server.listen({ host: HOST, port: 0, backlog: 65535 }, () => {
    send({ event: 'ready', pid: process.pid, port: server.address().port, module: moduleName, workload });
  });
  return server;
}

// Resolves when predicate() holds, checking whenever counts change, or
// rejects after timeoutMs.
function waitFor(predicate, timeoutMs) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!predicate()) return;
      clearTimeout(timer);
      watchers.delete(check);
      resolve();
    };
    const timer = setTimeout(() => {
      watchers.delete(check);
      reject(new Error(`timed out after ${timeoutMs} ms (${JSON.stringify(counts)})`));
    }, timeoutMs);
    watchers.add(check);
    check();
  });
}

const eventLoopDelay = monitorEventLoopDelay({ resolution: 1 });

async function armBurst({ count, timeoutMs }) {
  const target = counts.accepted + count;
  eventLoopDelay.disable();
  eventLoopDelay.reset();
  eventLoopDelay.enable();
  send({ event: 'armed' });
  await waitFor(() => counts.accepted >= target, timeoutMs);
  // process.hrtime reads CLOCK_MONOTONIC, as the load generator does.
  const acceptedAtMonoNs = process.hrtime.bigint().toString();
  eventLoopDelay.disable();
  return {
    event: 'burst-accepted',
    acceptedAtMonoNs,
    eventLoopDelay: {
      p50Ns: eventLoopDelay.percentile(50),
      p99Ns: eventLoopDelay.percentile(99),
      maxNs: eventLoopDelay.max,
      samples: eventLoopDelay.count,
    },
  };
}

// listen() to 'listening' times and listen/close cycles on one server of the
// module under test, measured here so that no inter-process hop is timed.
function listenCycles({ cycles, warmup, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    const listenNs = [];
    const deadline = Date.now() + timeoutMs;
    let done = 0;
    let measuredStart;
    server.on('error', reject);
    function next() {
      if (done === warmup) measuredStart = process.hrtime.bigint();
      if (done >= warmup + cycles || Date.now() > deadline) {
        const elapsedNs = Number(process.hrtime.bigint() - (measuredStart ?? process.hrtime.bigint()));
        resolve({ event: 'listen-cycles', cycles: listenNs.length, elapsedNs, listenNs });
        return;
      }
      const started = process.hrtime.bigint();
      server.once('listening', () => {
        if (done >= warmup) listenNs.push(Number(process.hrtime.bigint() - started));
        done++;
        server.close(next);
      });
      server.listen(0, HOST);
    }
    next();
  });
}

function gc() {
  // Twice: the first pass can leave garbage that only finalizers released.
  global.gc();
  global.gc();
  return { event: 'gc' };
}

const commands = {
  stats: () => ({ event: 'stats', ...counts }),
  gc,
  'wait-open': async ({ count, timeoutMs }) => {
    await waitFor(() => counts.open === count, timeoutMs);
    return { event: 'open-reached', ...counts };
  },
  'arm-burst': armBurst,
  'listen-cycles': listenCycles,
};

if (typeof global.gc !== 'function') {
  console.error('bench/server.js needs --expose-gc');
  process.exit(2);
}
if (workload !== 'listen') startServer();
else send({ event: 'ready', pid: process.pid, port: null, module: moduleName, workload });

const input = readline.createInterface({ input: process.stdin });
input.on('line', async (line) => {
  let command;
  try {
    command = JSON.parse(line);
    const run = commands[command.cmd];
    if (!run) throw new Error(`unknown command ${command.cmd}`);
    send(await run(command));
  } catch (error) {
    send({ event: 'error', message: `${command?.cmd ?? 'command'}: ${error.message}` });
  }
});
input.on('close', () => process.exit(0));
