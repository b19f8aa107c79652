'use strict';

// rs-net finds a few of Node's internals through public objects
// (lib/node-internals.js). On a Node version where one of them is no longer
// found, this test names it.

const net = require('net');

const internals = require('../lib/node-internals');

test('every internal rs-net relies on is found on this Node version', () => {
  expect(internals.missingInternals()).toEqual([]);
});

test("the handle classes and owner symbol are Node's own: a Node server's handle is a TCP that points to its server", async () => {
  const { TCP, Pipe, ownerSymbol } = internals.handles();
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  expect(server._handle).toBeInstanceOf(TCP);
  expect(server._handle).not.toBeInstanceOf(Pipe);
  expect(server._handle[ownerSymbol]).toBe(server);
  expect(internals.isNodeHandle(server._handle)).toBe(true);
  expect(internals.isNodeHandle({ fd: 3 })).toBe(false);
  expect(internals.isNodeHandle(new Proxy(server._handle, {}))).toBe(false);
  await new Promise((resolve) => server.close(resolve));
});

test("the server's async id symbol is the one Node's server sets", async () => {
  const server = net.createServer();
  expect(server[internals.asyncIdSymbol]).toBe(-1);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  expect(server[internals.asyncIdSymbol]).toBe(server._handle.getAsyncId());
  await new Promise((resolve) => server.close(resolve));
});
