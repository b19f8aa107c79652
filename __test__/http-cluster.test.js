'use strict';

// rs-net/http servers in cluster workers, under round-robin and SCHED_NONE,
// compared with Node's http in the same cluster setup.

const net = require('net');
const path = require('path');
const { runNode } = require('./helpers/conn-util');

function freePort() {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function runCluster(which, policy) {
  const script = path.join(__dirname, 'fixtures', 'http-cluster.js');
  for (let attempt = 0; ; attempt++) {
    const result = await runNode([script, which, String(await freePort()), policy], { limit: 30000 });
    expect(result.code).toBe(0);
    const seen = JSON.parse(result.stdout.trim().split('\n').pop());
    // The port was taken between the probe and the primary's bind: retry.
    if (seen.failed.includes('EADDRINUSE') && attempt < 3) continue;
    return seen;
  }
}

test.each(['rr', 'none'])(
  'cluster (%s): workers serve http through rs-net/http as through Node http',
  async (policy) => {
    const node = await runCluster('node', policy);
    const rs = await runCluster('rs', policy);
    expect(rs).toEqual(node);
    expect(rs.bodies).toEqual(Array(20).fill('worker true'));
  },
  70000,
);
