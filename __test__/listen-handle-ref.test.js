'use strict';

// The ref state of a handle passed to listen() carries over, as with Node:
// a Node server's unref'd handle taken over by another server does not keep
// the process alive (each module in a child process, compared).

const { spawnSync } = require('child_process');
const path = require('path');

const fixture = path.join(__dirname, 'fixtures', 'listen-unrefd-handle.js');

function run(moduleName) {
  const result = spawnSync(process.execPath, [fixture, moduleName], { encoding: 'utf8', timeout: 20000 });
  return { status: result.status, signal: result.signal, stdout: result.stdout };
}

test("listen(unrefdNodeServer._handle) lets the process exit by itself, as Node's net does", () => {
  const node = run('net');
  expect(node).toEqual({ status: 0, signal: null, stdout: 'hasRef false\ntimer\nexit\n' });
  expect(run(path.join(__dirname, '..'))).toEqual(node);
});

test("a handle's own methods (a cluster worker's wrappers) come back when rs-net's listener lets go of it", async () => {
  const nodeNet = require('net');
  const rsnet = require('..');
  const { detachListener } = require('../lib/listening-handle');
  const nodeServer = nodeNet.createServer();
  await new Promise((resolve) => nodeServer.listen(0, '127.0.0.1', resolve));
  const handle = nodeServer._handle;
  const prototypeClose = handle.close;
  function wrapper(...args) {
    return prototypeClose.apply(this, args);
  }
  handle.close = wrapper;
  const server = rsnet.createServer();
  await new Promise((resolve) => server.listen(handle, resolve));
  expect(handle.close).not.toBe(wrapper);
  detachListener(handle);
  expect(handle.close).toBe(wrapper);
  expect(Object.hasOwn(handle, 'ref')).toBe(false);
  await new Promise((resolve) => nodeServer.close(resolve));
});
