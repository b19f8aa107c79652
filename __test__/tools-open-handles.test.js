'use strict';

// Jest's --detectOpenHandles, run on the same test files with Node's net and
// with rs-net: a file that requires rs-net, or opens and closes servers,
// gets no report; a server left open is reported once, as Node's is.

const { spawnSync } = require('child_process');
const path = require('path');

const fixtures = path.join(__dirname, 'fixtures', 'open-handles');
const jestBin = require.resolve('jest/bin/jest');

/** The open handles Jest reports for `file` when it requires `netModule`. */
function reportedHandles(file, netModule) {
  const result = spawnSync(
    process.execPath,
    [
      jestBin,
      '--rootDir',
      fixtures,
      '--testMatch',
      '**/*.spec.js',
      '--detectOpenHandles',
      '--forceExit',
      file,
    ],
    {
      env: { ...process.env, NET_MODULE: netModule },
      encoding: 'utf8',
      timeout: 60000,
    },
  );
  expect(result.stderr).toMatch(/Tests:\s+1 passed/);
  // Each reported handle is a line "  ●  TYPE".
  return [...result.stderr.matchAll(/^\s*●\s{2}(\S+)\s*$/gm)].map((match) => match[1]);
}

const rsnet = path.join(__dirname, '..');

test.each(['requires.spec.js', 'closes.spec.js', 'leaves-open.spec.js'])(
  '%s: the same report as Node',
  (file) => {
    const node = reportedHandles(file, 'net');
    expect(reportedHandles(file, rsnet)).toEqual(node);
  },
);

test("a server left open is reported once, as Node's TCPSERVERWRAP", () => {
  expect(reportedHandles('leaves-open.spec.js', rsnet)).toEqual(['TCPSERVERWRAP']);
});
