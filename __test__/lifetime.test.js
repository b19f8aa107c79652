'use strict';

// Process lifetime, compared with Node: a listening server keeps the process
// alive, unref() (also before listen) lets it exit, ref() keeps it alive
// again, and close() releases everything so the process ends by itself.
// Each scenario runs in a child process on both modules.

const { spawn } = require('child_process');
const path = require('path');

const fixture = path.join(__dirname, 'fixtures', 'lifetime.js');

// How long a child may run before it counts as 'alive' (killed). Scenarios
// expected to stay alive are given a short window; those expected to exit
// get a long one, so a slow, loaded machine does not turn a late exit into
// a failure. These bounds decide what happened, never how fast.
const ALIVE_WINDOW_MS = 1500;
const EXIT_WINDOW_MS = 20000;

function run(module, scenario, windowMs) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [fixture, module, scenario], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), windowMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const lines = out.split('\n').filter(Boolean);
      resolve({ lines, fate: signal === 'SIGKILL' ? 'alive' : `exited ${code}`, stderr: err });
    });
  });
}

const expectations = {
  listening: 'alive',
  'unref-before-listen': 'exited 0',
  'unref-after-listen': 'exited 0',
  'ref-after-unref': 'alive',
  close: 'exited 0',
  'close-in-same-tick': 'exited 0',
  'pipe-close': 'exited 0',
  'error-then-close': 'exited 0',
  'close-waits-for-connection': 'exited 0',
  'unref-with-live-connection': 'alive',
  'host-then-unref': 'exited 0',
  'abort-signal': 'exited 0',
  'async-dispose': 'exited 0',
};

describe.each(Object.entries(expectations))('%s', (scenario, fate) => {
  test(`is ${fate} on both modules, with the same events`, async () => {
    const windowMs = fate === 'alive' ? ALIVE_WINDOW_MS : EXIT_WINDOW_MS;
    const [node, rs] = await Promise.all([run('node', scenario, windowMs), run('rs', scenario, windowMs)]);
    expect(node.fate).toBe(fate);
    expect(rs.stderr).toBe(node.stderr);
    expect(rs).toEqual(node);
  });
});
