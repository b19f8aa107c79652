'use strict';

// Node's own net test files, run with Node's net and with rs-net standing in
// for require('net') (__test__/helpers/node-tests.js). They are not kept in
// this repository: RSNET_NODE_TESTS names a directory laid out as Node's
// test/ holding them; without it these tests are skipped.

const fs = require('fs');
const path = require('path');

const { runNodeTest } = require('./fixtures/node-tests/run');
const { nodeTestFiles } = require('./helpers/node-tests');

nodeTestFiles({
  modules: 'net',
  files: [
    'parallel/test-net-listen-twice.js',
    'sequential/test-net-listen-shared-ports.js',
    'parallel/test-net-listen-handle-in-cluster-1.js',
    'parallel/test-listen-fd-cluster.js',
    'parallel/test-listen-fd-server.js',
    'parallel/test-child-process-fork-net-server.js',
    'parallel/test-net-server-nodelay.js',
    'parallel/test-net-server-keepalive.js',
  ],
});

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
