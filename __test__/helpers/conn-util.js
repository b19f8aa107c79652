'use strict';

// Helpers for the tests of accepted connections: servers on TCP loopback or
// a Unix socket, clients, event logs of sockets, descriptor counts and child
// processes. Used with helpers/parity.js.

const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const nodeNet = require('net');

/** A fresh temporary directory, removed by `cleanup()`. */
function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-net-conn-'));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

let pipeCounter = 0;

/**
 * Listens `server` on IPv4 loopback ('tcp'), IPv6 loopback ('tcp6'), the
 * dual-stack any address reached over IPv4 ('dual'), or a Unix socket in
 * `dir` ('unix'); resolves with what a client passes to net.connect().
 */
function listenOn(server, transport, dir) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.removeListener('error', reject);
      if (transport === 'unix') resolve({ path: server.address() });
      else resolve({ port: server.address().port, host: transport === 'tcp6' ? '::1' : '127.0.0.1' });
    };
    if (transport === 'unix') server.listen(path.join(dir, `s${process.pid}-${pipeCounter++}.sock`), done);
    else if (transport === 'tcp6') server.listen(0, '::1', done);
    else if (transport === 'dual') server.listen(0, done);
    else server.listen(0, '127.0.0.1', done);
  });
}

/** Connects a client (Node's own net) and resolves once connected. */
function connect(target, options = {}) {
  return new Promise((resolve, reject) => {
    const client = nodeNet.connect({ ...target, ...options });
    client.once('error', reject);
    client.once('connect', () => {
      client.removeListener('error', reject);
      resolve(client);
    });
  });
}

/** Resolves with the next socket `server` emits as 'connection'. */
function nextConnection(server) {
  return new Promise((resolve) => server.once('connection', resolve));
}

/** Connects and resolves with both ends: `{ client, socket }`. */
async function pair(server, target, options) {
  const accepted = nextConnection(server);
  const client = await connect(target, options);
  const socket = await accepted;
  return { client, socket };
}

/**
 * Records a socket's events into `observe` under `name`. Consecutive 'data'
 * events are merged (chunking is the kernel's business) into one entry with
 * the text received.
 */
function watchSocket(socket, name, observe) {
  let data = null;
  const flush = () => {
    if (data !== null) {
      observe(`${name} data`, data.length > 200 ? `${data.length} chars` : data);
      data = null;
    }
  };
  socket.on('data', (chunk) => {
    data = (data ?? '') + (typeof chunk === 'string' ? `(str)${chunk}` : chunk.toString('latin1'));
  });
  for (const event of ['end', 'finish', 'timeout', 'drain', 'ready', 'connect']) {
    socket.on(event, () => {
      flush();
      observe(`${name} ${event}`);
    });
  }
  socket.on('error', (error) => {
    flush();
    observe.error(`${name} error`, error);
  });
  const closed = new Promise((resolve) =>
    socket.on('close', (hadError) => {
      flush();
      observe(`${name} close`, { hadError });
      resolve();
    }),
  );
  return closed;
}

/** Polls `predicate` every `interval` ms until true; rejects after `limit` ms. */
async function waitFor(predicate, { limit = 10000, interval = 10, what = 'condition' } = {}) {
  const deadline = Date.now() + limit;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** Descriptors of this process that are sockets. */
function openSockets() {
  let count = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) count++;
    } catch {
      // Closed while listing (readdir's own descriptor, for one).
    }
  }
  return count;
}

/**
 * Runs `node` (this one unless `execPath` is given) with `args`; resolves
 * with { code, signal, stdout, stderr } once it exits, or kills it and
 * rejects after `limit` ms.
 */
function runNode(args, { limit = 20000, execPath = process.execPath, shell, env, onStdout } = {}) {
  return new Promise((resolve, reject) => {
    const child = shell
      ? spawn('bash', ['-c', shell], { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env })
      : spawn(execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      stdout += chunk;
      if (onStdout) onStdout(stdout, child);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not exit within ${limit} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, limit);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Starts fixtures/conn-stdio-server.js in a child process, on `net`
 * ('net' or 'rs'), optionally under `ulimit -n <fdLimit>`. Returns a driver:
 * `message(event)` resolves with the next report of that event, `send(line)`
 * writes a command, `exit()` asks the child to close and resolves with its
 * exit code (killing it after `limit` ms: it must have ended by itself).
 */
function spawnStdioServer(netName, { fdLimit, where = 'tcp', execPath = process.execPath } = {}) {
  const script = path.join(__dirname, '..', 'fixtures', 'conn-stdio-server.js');
  const command = `${fdLimit ? `ulimit -n ${fdLimit} && ` : ''}exec "$0" "$1" "$2" "$3"`;
  const child = spawn('bash', ['-c', command, execPath, script, netName, where], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const reports = [];
  const waiters = [];
  let stderr = '';
  let buffered = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const report = JSON.parse(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
      reports.push(report);
      for (const waiter of waiters.splice(0)) waiter();
    }
  });
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  async function message(event, limit = 10000) {
    const deadline = Date.now() + limit;
    for (;;) {
      const index = reports.findIndex((report) => report.event === event);
      if (index >= 0) return reports.splice(index, 1)[0];
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`no '${event}' from the child (exit ${child.exitCode}); stderr: ${stderr}`);
      }
      await new Promise((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }
  return {
    child,
    message,
    send: (line) => child.stdin.write(`${line}\n`),
    stderr: () => stderr,
    async exit(limit = 10000) {
      this.send('exit');
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), limit);
      const result = await exited;
      clearTimeout(timer);
      return { ...result, stderr };
    },
  };
}

/** User plus system CPU time of process `pid`, in clock ticks. */
function cpuTicks(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of the line; 12 and 13 after ') '.
  return Number(fields[11]) + Number(fields[12]);
}

module.exports = {
  connect,
  cpuTicks,
  listenOn,
  nextConnection,
  openSockets,
  pair,
  runNode,
  spawnStdioServer,
  tempDir,
  waitFor,
  watchSocket,
};
