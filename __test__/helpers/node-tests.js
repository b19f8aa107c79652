'use strict';

// Jest tests for Node's own test files, each run once with Node's modules
// and once with rs-net standing in for them (__test__/fixtures/node-tests/).
// The files are Node's and are not kept in this repository:
// RSNET_NODE_TESTS names a directory laid out as Node's test/
// (parallel/..., sequential/...) holding them; without it the tests are
// skipped.

const fs = require('fs');
const path = require('path');

const { runNodeTest } = require('../fixtures/node-tests/run');

const nodeMajor = Number(process.versions.node.split('.')[0]);

/**
 * One test per file of `files` found in RSNET_NODE_TESTS (a skipped one for
 * each file not found there). A file must pass
 * with Node's own `modules` and then with rs-net's. A file that fails with
 * Node's own on this Node version says nothing about rs-net: it is listed in
 * `failsWithNode` (file => { reason, on: [Node majors] }), and its test,
 * named for that reason, checks only that it still fails with Node's.
 */
function nodeTestFiles({ files, modules, failsWithNode = {} }) {
  const dir = process.env.RSNET_NODE_TESTS;
  const present = dir ? files.filter((file) => fs.existsSync(path.join(dir, file))) : [];
  jest.setTimeout(240000);

  if (!dir) {
    test.skip.each(['(RSNET_NODE_TESTS not set)'])(
      `%s passes with Node's ${modules} and with rs-net`,
      () => {},
    );
    return;
  }

  const run = async (file, mode, options) => {
    const { code, signal, output } = await runNodeTest(path.join(dir, file), mode, options);
    return { code, signal, output: code === 0 ? '' : output };
  };
  const passed = { code: 0, signal: null, output: '' };
  const known = (file) => failsWithNode[file]?.on.includes(nodeMajor);

  // A listed file the directory lacks (another Node version's tree) is
  // reported as skipped, not left out unseen.
  const missing = files.filter((file) => !present.includes(file));
  if (missing.length > 0) {
    test.skip.each(missing)(`%s is not in RSNET_NODE_TESTS: not run`, () => {});
  }

  const passing = present.filter((file) => !known(file));
  const failing = present.filter(known);

  if (passing.length > 0) {
    test.each(passing)(`%s passes with Node's ${modules} and with rs-net`, async (file) => {
      // Only a file that passes with Node's own says anything about rs-net.
      expect(await run(file, 'node')).toEqual(passed);
      expect(await run(file, 'rs')).toEqual(passed);
    });
  }
  if (failing.length > 0) {
    test.each(failing.map((file) => [file, failsWithNode[file].reason]))(
      `%s fails with Node's own ${modules} on Node ${nodeMajor} (%s): not run with rs-net`,
      async (file) => {
        // Some of them fail by never ending: a shorter time is enough.
        expect((await run(file, 'node', { timeoutMs: 15000 })).code).not.toBe(0);
      },
    );
  }
}

module.exports = { nodeTestFiles };
