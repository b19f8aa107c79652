'use strict';

// Everything rs-net learns about Node's internals, in one place: the handle
// classes Node's own server and socket code use, and the private symbols
// Node's code reads on servers, sockets and handles. Each is found through
// public objects (a socket made on a probe descriptor, a fresh server, a
// prototype), by the description Node gives it; `missingInternals()` names
// whatever this Node version no longer offers, and a test checks it is
// empty on every supported version.

const net = require('net');
const { isProxy } = require('util').types;

const binding = require('../binding');

// TCPConstants / PipeConstants: a handle made to accept (a server) or a
// connection.
const SOCKET = 0;
const SERVER = 1;

/** The symbol among `object`'s own symbols described as `description`. */
function ownSymbol(object, description) {
  return Object.getOwnPropertySymbols(object).find((symbol) => symbol.description === description);
}

// A net.Socket made on a fresh descriptor of one kind: Node picks the
// handle class (TCP or Pipe) from what the descriptor is, and tags the
// handle with its owner. The socket is destroyed at once, which closes the
// descriptor; its handle is unreferenced first, so that until libuv has
// finished closing it, it is not counted among the process's active
// resources (process.getActiveResourcesInfo(), Jest's open handles).
function probeSocket(unix) {
  const fd = binding.newProbeSocket(unix);
  if (fd < 0) return undefined;
  const socket = new net.Socket({ fd, readable: false, writable: false });
  const handle = socket._handle;
  const found = {
    Handle: handle.constructor,
    ownerSymbol: ownSymbol(handle, 'owner_symbol'),
    socketSymbols: {
      noDelay: ownSymbol(socket, 'kSetNoDelay'),
      keepAlive: ownSymbol(socket, 'kSetKeepAlive'),
      keepAliveInitialDelay: ownSymbol(socket, 'kSetKeepAliveInitialDelay'),
    },
  };
  handle.unref();
  socket.destroy();
  return found;
}

// Probed on first use (the first listen()), not when rs-net loads, so that
// requiring rs-net makes no handles.
let probed;
function handles() {
  if (probed === undefined) {
    const tcp = probeSocket(false);
    const pipe = probeSocket(true);
    probed = {
      TCP: tcp?.Handle,
      Pipe: pipe?.Handle,
      ownerSymbol: tcp?.ownerSymbol,
      socketSymbols: tcp?.socketSymbols ?? {},
    };
  }
  return probed;
}

/** The symbol of a server's async id (`this[async_id_symbol]`). */
const asyncIdSymbol = ownSymbol(new net.Server(), 'async_id_symbol');
/**
 * Node's own Symbol.asyncDispose, which its servers are keyed by (on Node 20
 * and 22 a registry symbol that vm contexts, like Jest's sandbox, lack).
 */
const asyncDisposeSymbol =
  Object.getOwnPropertySymbols(net.Server.prototype).find(
    (symbol) => symbol.description === 'Symbol.asyncDispose' || symbol.description === 'nodejs.asyncDispose',
  ) ?? Symbol.asyncDispose;
/**
 * The symbol of net.Server.prototype's method that moves a listening server
 * to another thread (Node 24's postMessage transfer), where Node has it.
 */
const transferSymbol = ownSymbol(net.Server.prototype, 'messaging_transfer_symbol');
// Node's own process object. Inside a vm context (Jest's sandbox) the
// `process` global is a copy, whose nextTick fake timers replace, as they
// replace the sandbox's setImmediate; Node's net schedules on the real
// ones, so rs-net does too, or jest.useFakeTimers() would stop a server
// that Node's keeps running.
const nodeProcess = require('vm').runInThisContext('process');
/** Node's process.nextTick, whatever a sandbox's copy of process has. */
const { nextTick } = nodeProcess;
/** Node's setImmediate (the `timers` module is never the sandbox's). */
const { setImmediate } = require('timers');
/**
 * Node's nextTick queue runner, which Node runs after each callback from
 * libuv; rs-net runs it between the connections of a batch.
 */
const runNextTicks = typeof nodeProcess._tickCallback === 'function' ? nodeProcess._tickCallback : undefined;

/**
 * Node 24's net.BoundSocket, with the symbols through which a server takes
 * its socket over; undefined where Node has no BoundSocket.
 */
const boundSocket = (() => {
  const { BoundSocket } = net;
  if (typeof BoundSocket !== 'function') return undefined;
  const consume = ownSymbol(BoundSocket.prototype, 'kBoundSocketConsume');
  const path = ownSymbol(BoundSocket.prototype, 'kBoundSocketPath');
  if (consume === undefined || path === undefined) return undefined;
  return { BoundSocket, consume, path };
})();

/**
 * Whether `value` is one of Node's own TCP or Pipe handles. Decided without
 * running Proxy traps (Node reads nothing there, so neither may rs-net).
 */
function isNodeHandle(value) {
  const { TCP, Pipe } = handles();
  let object = value;
  while (object !== null && (typeof object === 'object' || typeof object === 'function')) {
    if (isProxy(object)) return false;
    object = Object.getPrototypeOf(object);
    if (object === TCP?.prototype || object === Pipe?.prototype) return true;
  }
  return false;
}

/** The names of the internals this Node version did not give up (none, on 20, 22 and 24). */
function missingInternals() {
  const missing = [];
  const { TCP, Pipe, ownerSymbol, socketSymbols } = handles();
  if (typeof TCP !== 'function' || TCP.name !== 'TCP') missing.push('TCP handle class');
  if (typeof Pipe !== 'function' || Pipe.name !== 'Pipe') missing.push('Pipe handle class');
  if (typeof ownerSymbol !== 'symbol') missing.push('owner_symbol');
  if (typeof asyncIdSymbol !== 'symbol') missing.push('async_id_symbol');
  for (const [name, symbol] of Object.entries(socketSymbols)) {
    if (typeof symbol !== 'symbol') missing.push(`socket flag ${name}`);
  }
  if (runNextTicks === undefined) missing.push('process._tickCallback');
  if (typeof net.BoundSocket === 'function' && boundSocket === undefined) missing.push('BoundSocket symbols');
  return missing;
}

module.exports = {
  SERVER,
  SOCKET,
  asyncDisposeSymbol,
  asyncIdSymbol,
  boundSocket,
  /**
   * Node's handle classes and handle symbols: `{ TCP, Pipe, ownerSymbol,
   * socketSymbols }` (`tcp_wrap`'s TCP, `pipe_wrap`'s Pipe, the symbol
   * handles point to their server or socket with, and the flags Node's
   * server records on sockets it applies noDelay / keepAlive to).
   */
  handles,
  isNodeHandle,
  missingInternals,
  nextTick,
  runNextTicks,
  setImmediate,
  transferSymbol,
};
