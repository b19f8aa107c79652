'use strict';

// Visible to tools as Node's server is: process.getActiveResourcesInfo(),
// process._getActiveHandles(), why-is-node-running (async_hooks) and Jest's
// --detectOpenHandles, each run on the same scenario with Node's net and
// with rs-net (in child processes: fixtures/deploy-tools.js and the Jest
// files in fixtures/open-handles/).
//
// napi-rs makes an unref'd threadsafe function named 'CustomGC' when the
// addon loads; rs-net's binding.js makes its resource say so (hasRef) and
// keeps it out of Jest's report. rs-net's own threadsafe function (one per
// environment, src/env_waker.rs) says the same: the server's Node handle is
// what tools should find.

const { execFile } = require('child_process');
const path = require('path');

const root = path.join(__dirname, '..');
const toolsFixture = path.join(__dirname, 'fixtures', 'deploy-tools.js');
const openHandlesDir = path.join(__dirname, 'fixtures', 'open-handles');
const jestBin = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');

jest.setTimeout(120000);

function run(args) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.JEST_WORKER_ID;
    execFile(process.execPath, args, { cwd: root, env, timeout: 90000 }, (error, stdout, stderr) => {
      if (error && error.killed) reject(error);
      else resolve({ stdout, stderr, code: error ? error.code : 0 });
    });
  });
}

async function tools(moduleName, scenario) {
  const { stdout, stderr } = await run([toolsFixture, moduleName, scenario]);
  if (!stdout.trim()) throw new Error(stderr);
  return JSON.parse(stdout);
}

// Jest's open-handle report for one fixture file: each handle's type and
// the fixture's own frame in its stack (where the user's code made it).
async function openHandles(name) {
  const { stderr } = await run([
    jestBin,
    '--config',
    JSON.stringify({ testEnvironment: 'node', rootDir: openHandlesDir, testMatch: [`**/${name}`] }),
    '--detectOpenHandles',
    '--forceExit',
    '--ci',
  ]);
  if (!/Tests:\s+1 passed/.test(stderr)) throw new Error(stderr);
  const handles = [];
  for (const line of stderr.split('\n')) {
    const type = /^\s+●\s+(\S+)\s*$/.exec(line);
    if (type) handles.push({ type: type[1], at: undefined });
    const frame = new RegExp(`\\((${name.replace(/\./g, '\\.')}:\\d+:\\d+)\\)`).exec(line);
    if (frame && handles.length > 0 && handles[handles.length - 1].at === undefined) {
      handles[handles.length - 1].at = frame[1].replace(/\.(node|rs)\./, '.*.');
    }
  }
  return handles;
}

describe.each(['require-only', 'open-close', 'left-open'])('%s', (scenario) => {
  let node;
  let rs;
  beforeAll(async () => {
    [node, rs] = await Promise.all([tools('node', scenario), tools('rs', scenario)]);
  });

  test('getActiveResourcesInfo() and _getActiveHandles() see the server as Node’s (listening, unref, ref, close)', () => {
    const { why: _nodeWhy, ...nodeSeen } = node;
    const { why: _rsWhy, ...rsSeen } = rs;
    expect(rsSeen).toEqual(nodeSeen);
    if (scenario !== 'require-only') {
      expect(nodeSeen.listening).toEqual(['TCPServerWrap']);
      expect(nodeSeen.activeHandlesHasServer).toBe(true);
      expect(nodeSeen.unrefd).toEqual([]);
    }
    if (scenario === 'open-close') expect(nodeSeen.closed).toEqual([]);
  });

  test('why-is-node-running reports exactly what it reports for Node’s net', () => {
    expect(rs.why).toEqual(node.why);
  });
});

describe.each(['require-only', 'open-close', 'left-open'])('jest --detectOpenHandles, %s', (scenario) => {
  let node;
  let rs;
  beforeAll(async () => {
    node = await openHandles(`${scenario}.node.fixture.js`);
    rs = await openHandles(`${scenario}.rs.fixture.js`);
  });

  test('reports exactly what it reports for Node’s net: nothing, or a server left open once, at its listen() call', () => {
    expect(rs).toEqual(node);
    if (scenario === 'left-open')
      expect(node).toEqual([{ type: 'TCPSERVERWRAP', at: 'left-open.*.fixture.js:5:41' }]);
    else expect(node).toEqual([]);
  });
});
