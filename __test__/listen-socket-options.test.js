'use strict';

// What listen() options do to the socket, on Node's net and on rs-net:
// ipv6Only (IPv4 clients refused), reusePort (servers sharing a port), and
// the backlog handed to listen(2), read back with `ss` (its Send-Q column).

const { execFileSync } = require('child_process');

const { expectParity, nodeMajor, nodeNet, runBoth } = require('./helpers/parity');
const { callListen, shutdown, tempDir, waitSettled, watchedServer } = require('./helpers/listen-scenario');

/** Resolves with 'connected' or the error code of connecting to host:port. */
function tryConnect(port, host) {
  return new Promise((resolve) => {
    const client = nodeNet.connect(port, host);
    client.on('connect', () => {
      client.destroy();
      resolve('connected');
    });
    client.on('error', (error) => resolve(error.code));
  });
}

describe('ipv6Only', () => {
  test.each([
    ["host '::', ipv6Only: true", { host: '::', ipv6Only: true }],
    ["host '::', ipv6Only: false", { host: '::', ipv6Only: false }],
    ["host '::', ipv6Only: 1 (not true)", { host: '::', ipv6Only: 1 }],
    // Node 20 ignores ipv6Only without a host (it leaves the flags out).
    ['no host, ipv6Only: true', { ipv6Only: true }],
  ])('%s: what IPv4 and IPv6 clients get', async (name, options) => {
    await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      server.on('connection', (socket) => socket.destroy());
      server.listen({ port: 0, ...options });
      await waitSettled(server, observe);
      const { port } = server.address();
      observe('IPv4 client', await tryConnect(port, '127.0.0.1'));
      observe('IPv6 client', await tryConnect(port, '::1'));
      await shutdown(server);
    });
  });
});

describe('reusePort', () => {
  /** Two servers of `net` on one port, both asking for reusePort. */
  function sharedPort(host) {
    return async (net, observe) => {
      const first = watchedServer(net, observe);
      first.listen({ port: 0, host, reusePort: true });
      await waitSettled(first, observe);
      const second = watchedServer(net, observe);
      callListen(second, [{ port: first.address().port, host, reusePort: true }], observe);
      await waitSettled(second, observe);
      observe('same port', second.listening && second.address().port === first.address().port);
      await shutdown(second);
      await shutdown(first);
    };
  }

  // Node 22 and later honour reusePort. Node 20 ignores it, so its second
  // server fails with EADDRINUSE; rs-net honours it on Node 20 as well (a
  // deliberate difference).
  test.each([
    ['no host', undefined],
    ['127.0.0.1', '127.0.0.1'],
  ])('two servers share a port (%s)', async (name, host) => {
    if (nodeMajor >= 22) {
      const log = await expectParity(sharedPort(host));
      expect(log.find(([label]) => label === 'same port')[1]).toBe(true);
      return;
    }
    const { node, rs } = await runBoth(sharedPort(host));
    expect(node.find(([label]) => label === 'error')[1].code).toBe('EADDRINUSE');
    expect(rs.find(([label]) => label === 'error')).toBeUndefined();
    expect(rs.find(([label]) => label === 'same port')[1]).toBe(true);
  });

  test('without reusePort the second server gets EADDRINUSE', async () => {
    await expectParity(async (net, observe) => {
      const first = watchedServer(net, observe);
      first.listen({ port: 0, host: '127.0.0.1' });
      await waitSettled(first, observe);
      const second = watchedServer(net, observe);
      second.listen({ port: first.address().port, host: '127.0.0.1', reusePort: true });
      await waitSettled(second, observe);
      await shutdown(second);
      await shutdown(first);
    });
  });
});

describe('the backlog handed to listen(2)', () => {
  // `ss -l` shows a listening socket's backlog in its Send-Q column.
  function tcpBacklog(port) {
    const line = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim();
    return Number(line.split(/\s+/)[2]);
  }
  function unixBacklog(socketPath) {
    const lines = execFileSync('ss', ['-lxH'], { encoding: 'utf8' }).split('\n');
    const line = lines.find((entry) => entry.split(/\s+/).includes(socketPath));
    return Number(line.split(/\s+/)[3]);
  }

  test.each([
    ['the default', [0]],
    ['listen(port, 7)', [0, 7]],
    ['listen(port, host, 9)', [0, '127.0.0.1', 9]],
    ['listen(port, 0): 0 means the default', [0, 0]],
    ['listen(port, -1): negative means the default', [0, -1]],
    ["listen({ port, backlog: '12' })", [{ port: 0, backlog: '12' }]],
    ['listen({ port, backlog: 1.9 })', [{ port: 0, backlog: 1.9 }]],
    ['listen({ port, backlog: -5 }): handed over, the kernel takes its maximum', [{ port: 0, backlog: -5 }]],
    ['listen({ port, backlog: 2 ** 32 + 3 }): wraps to 3', [{ port: 0, backlog: 2 ** 32 + 3 }]],
    ['listen({ port, backlog: 100000 }): capped by the kernel', [{ port: 0, backlog: 100000 }]],
  ])('%s', async (name, args) => {
    const log = await expectParity(async (net, observe) => {
      const server = watchedServer(net, observe);
      server.listen(...args);
      await waitSettled(server, observe);
      observe('backlog', tcpBacklog(server.address().port));
      await shutdown(server);
    });
    if (name === 'the default') expect(log.find(([label]) => label === 'backlog')[1]).toBe(511);
    if (name === 'listen(port, 7)') expect(log.find(([label]) => label === 'backlog')[1]).toBe(7);
  });

  test('a Unix socket: the default, and listen(path, 5)', async () => {
    const temp = tempDir();
    try {
      await expectParity(async (net, observe) => {
        for (const args of [[temp.file('default.sock')], [temp.file('five.sock'), 5]]) {
          const server = watchedServer(net, observe);
          server.listen(...args);
          await waitSettled(server, observe);
          observe('backlog', unixBacklog(args[0]));
          await shutdown(server);
        }
      });
    } finally {
      temp.remove();
    }
  });

  test('listen(otherServer, backlog) applies the new backlog to the shared socket', async () => {
    await expectParity(async (net, observe) => {
      const first = watchedServer(net, observe);
      first.listen(0, '127.0.0.1', 20);
      await waitSettled(first, observe);
      const second = watchedServer(net, observe);
      second.listen(first, 30);
      await waitSettled(second, observe);
      observe('backlog', tcpBacklog(first.address().port));
      await shutdown(second);
      await shutdown(first);
    });
  });
});
