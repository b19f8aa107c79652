'use strict';

// What a listen()/close() cycle costs beyond the socket itself: a server
// that no connection reached involves no other thread. Its accept loop
// waits, unstarted, among rs-net's idle listeners (src/idle_listeners.rs),
// so neither listen() nor close() wakes the runtime's accept thread. Counted
// in the thread's context switches, which do not depend on the machine's
// speed.

const fs = require('fs');
const nodeNet = require('net');

const rsNet = require('..');

// The accept thread's context switches (voluntary and not), from /proc.
function acceptThreadSwitches() {
  const tasks = fs.readdirSync('/proc/self/task');
  const accept = tasks.filter((tid) => {
    try {
      return fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'rs-net-accept';
    } catch {
      return false;
    }
  });
  expect(accept).toHaveLength(1);
  const status = fs.readFileSync(`/proc/self/task/${accept[0]}/status`, 'utf8');
  const count = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)[1]);
  return count('voluntary_ctxt_switches') + count('nonvoluntary_ctxt_switches');
}

function cycle(server, ...args) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(...args, () => {
      server.off('error', reject);
      server.close(resolve);
    });
  });
}

const CYCLES = 200;

test.each([
  ['port 0 on 127.0.0.1', [0, '127.0.0.1']],
  ['port 0, no host', [0]],
  ['a Unix socket', [`${require('os').tmpdir()}/rs-net-listen-cost-${process.pid}.sock`]],
])('%s: listen/close cycles wake the accept thread no more than a few times', async (_, args) => {
  const server = rsNet.createServer();
  // The runtime (and its thread) exists from the first listen on.
  for (let i = 0; i < 5; i++) await cycle(server, ...args);
  const before = acceptThreadSwitches();
  for (let i = 0; i < CYCLES; i++) await cycle(server, ...args);
  const woken = acceptThreadSwitches() - before;
  // Each cycle woke it twice (to start and to stop an accept task) before.
  expect(woken).toBeLessThan(CYCLES / 10);
});

// How many epoll instances of this process watch the socket whose inode
// (from fstat, in hex as /proc shows it) is `inode`: Node's loop, and
// rs-net's idle listeners, list it in their fdinfo while they do.
function epollsWatching(inode) {
  let watching = 0;
  for (const fd of fs.readdirSync('/proc/self/fdinfo')) {
    let info;
    try {
      info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    for (const entry of info.matchAll(/^tfd:.*\bino:([0-9a-f]+)/gm)) if (entry[1] === inode) watching++;
  }
  return watching;
}

// libuv watches a listener from its loop's next poll on, so one closed in
// the turn it listened in never costs an epoll_ctl; rs-net's idle
// listeners wait for the same poll.
test.each([
  ['port 0 on 127.0.0.1', [0, '127.0.0.1']],
  ['a Unix socket', [`${require('os').tmpdir()}/rs-net-listen-watch-${process.pid}.sock`]],
])('%s: the socket is watched from the next poll on, as with Node', async (_, args) => {
  const observe = (net) =>
    new Promise((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(...args, () => {
        const inode = fs.fstatSync(server._handle.fd).ino.toString(16);
        const seen = { listening: epollsWatching(inode) };
        // An I/O callback: the loop has polled since.
        fs.stat(__filename, () => {
          seen.afterPoll = epollsWatching(inode);
          server.close(() => {
            seen.closed = epollsWatching(inode);
            resolve(seen);
          });
        });
      });
    });
  const node = await observe(nodeNet);
  const rs = await observe(rsNet);
  expect(rs).toEqual(node);
  expect(node).toEqual({ listening: 0, afterPoll: 1, closed: 0 });
});

test('a server that then gets a connection still accepts it, and closes', async () => {
  const net = require('net');
  const server = rsNet.createServer((socket) => socket.end('hi'));
  await cycle(server, 0, '127.0.0.1');
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const reply = await new Promise((resolve, reject) => {
    const client = net.connect(server.address().port, '127.0.0.1');
    let data = '';
    client.setEncoding('utf8');
    client.on('data', (chunk) => (data += chunk));
    client.on('end', () => resolve(data));
    client.on('error', reject);
  });
  expect(reply).toBe('hi');
  await new Promise((resolve) => server.close(resolve));
});
