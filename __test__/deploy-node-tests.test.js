'use strict';

// Node's own test files, run with Node's net and with rs-net standing in for
// require('net') (__test__/fixtures/node-tests/). The files themselves are
// Node's and are not kept in this repository: RSNET_NODE_TESTS names a
// directory laid out as Node's test/ (parallel/..., sequential/...) holding
// them; without it these tests are skipped.

const fs = require('fs');
const path = require('path');

const { runNodeTest } = require('./fixtures/node-tests/run');

const dir = process.env.RSNET_NODE_TESTS;
const files = [
  'parallel/test-net-listen-twice.js',
  'sequential/test-net-listen-shared-ports.js',
  'parallel/test-net-listen-handle-in-cluster-1.js',
  'parallel/test-listen-fd-cluster.js',
  'parallel/test-listen-fd-server.js',
  'parallel/test-child-process-fork-net-server.js',
  'parallel/test-net-server-nodelay.js',
  'parallel/test-net-server-keepalive.js',
];

const present = dir ? files.filter((file) => fs.existsSync(path.join(dir, file))) : [];
const run = present.length > 0 ? test : test.skip;

jest.setTimeout(240000);

run.each(present.length > 0 ? present : ['(RSNET_NODE_TESTS not set)'])(
  '%s passes with Node net and with rs-net',
  async (file) => {
    const results = {};
    for (const mode of ['node', 'rs']) {
      const { code, signal, output } = await runNodeTest(path.join(dir, file), mode);
      results[mode] = { code, signal, output: code === 0 ? '' : output };
    }
    // Only a file that passes with Node's own net says anything about rs-net.
    expect(results.node).toEqual({ code: 0, signal: null, output: '' });
    expect(results.rs).toEqual({ code: 0, signal: null, output: '' });
  },
);

test('the common stand-in fails a test whose mustCall was not called', async () => {
  const os = require('os');
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rsnet-node-test-check-'));
  fs.mkdirSync(path.join(scratch, 'parallel'));
  const file = path.join(scratch, 'parallel', 'test-never-called.js');
  fs.writeFileSync(file, "'use strict';\nconst common = require('../common');\ncommon.mustCall();\n");
  try {
    const { code } = await runNodeTest(file, 'rs');
    expect(code).toBe(1);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
});
