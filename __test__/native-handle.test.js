'use strict';

// The native handles behind rs-net's servers are numbered, in a registry of
// each thread (src/handle_registry.rs), and lib/native-handle.js calls the
// addon with the number: a number that names no handle is refused, never
// misread, and a handle goes (closing its socket) when its wrapper is
// collected or its thread's environment ends.

const path = require('path');
const { spawnSync } = require('child_process');
const { Worker } = require('worker_threads');
const net = require('net');

const binding = require('../binding');

const EBADF = -9;

test('a number that names no handle is refused', () => {
  const handle = new (require('../lib/native-handle').ServerHandle)();
  const unknown = 0x7ffffff0;
  expect(binding.serverHandleBindTcp(unknown, '127.0.0.1', 0, false, false)).toBe(EBADF);
  expect(binding.serverHandleListen(unknown, 16, () => {})).toBe(EBADF);
  expect(binding.serverHandleDuplicate(unknown)).toBe(EBADF);
  expect(binding.serverHandleTakeEvents(unknown)).toEqual([]);
  expect(binding.serverHandleKind(unknown)).toBe(null);
  expect(binding.serverHandleCloseConnection(unknown, 0)).toBe(false);
  // Closing or releasing a number twice, or one never made, does nothing.
  binding.serverHandleClose(unknown);
  binding.serverHandleRelease(unknown);
  handle.close();
  expect(handle.kind).toBe(null);
});

test('a handle whose wrapper is collected closes its socket', () => {
  const result = spawnSync(
    process.execPath,
    ['--expose-gc', path.join(__dirname, 'fixtures', 'native-handle-release.js')],
    { encoding: 'utf8', timeout: 20000 },
  );
  expect(result.stderr).toBe('');
  expect(JSON.parse(result.stdout)).toEqual({ whileAlive: true, afterCollection: false });
});

// Making the environment's threadsafe function runs async hooks'
// JavaScript; it is made before a listen holds the handle registry, so a
// hook may use rs-net too.
test('an async hook may listen while the first listen() is under way', () => {
  const result = spawnSync(process.execPath, [path.join(__dirname, 'fixtures', 'async-hook-listen.js')], {
    encoding: 'utf8',
    timeout: 20000,
  });
  expect(result.stderr).toBe('');
  expect(JSON.parse(result.stdout)).toEqual({ nested: 'number' });
});

function portTaken(port) {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', (error) => resolve(error.code === 'EADDRINUSE'));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(false)));
  });
}

test.each([['ends by itself'], ['is terminated']])(
  'the handles of a worker that %s close with it',
  async (how) => {
    const worker = new Worker(
      `
      const fs = require('fs');
      const { parentPort } = require('worker_threads');
      const { ServerHandle } = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'native-handle'))});
      // Kept from collection: only the environment's end closes it.
      globalThis.kept = new ServerHandle();
      fs.closeSync(kept.bindTcp('127.0.0.1', 0, false, false));
      kept.listen(16, () => {});
      kept.unref();
      parentPort.postMessage(kept.getsockname().port);
      // Alive until told to end: nothing else keeps it (the handle is unreferenced).
      parentPort.once('message', () => parentPort.close());
      `,
      { eval: true },
    );
    const port = await new Promise((resolve) => worker.once('message', resolve));
    const taken = await portTaken(port);
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    if (how === 'is terminated') await worker.terminate();
    else worker.postMessage('end');
    await exited;
    expect({ taken, afterExit: await portTaken(port) }).toEqual({ taken: true, afterExit: false });
  },
);
