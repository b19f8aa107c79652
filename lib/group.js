// @ts-check
'use strict';

// Shared listener groups: `server.listen({ port, host, group: 'web' })` in
// several worker threads of one process serves one address from one
// listening socket. The first server to listen in a group binds the socket
// (port 0 picks one); later ones share it (their port 0 means the group's
// port). rs-net's accept thread hands each connection to the member with
// the fewest open plus queued connections (see src/group.rs); every member
// is an ordinary server with Node's own maxConnections, 'drop',
// getConnections() and close().

const { isProxy } = require('util').types;

const errors = require('./errors');
const { createListeningHandle, kUndelivered, nativeListener } = require('./listening-handle');

// The group a server's pending listen() asked for.
const kGroup = Symbol('kGroup');
// Where a group member publishes its count of open connections: a
// Uint32Array over the native count, or the native handle itself (its
// setConnectionCount) where the runtime cannot share memory.
const kCounter = Symbol('kCounter');

/**
 * Reads `options.group` from listen()'s arguments: a non-empty string, or
 * undefined when listen() was not given an options object with one. Only an
 * own property of an ordinary object counts: looking for it then runs no
 * code of the caller's, so options without a group are read exactly as
 * Node reads them (a Proxy's traps, getters and their order included).
 */
function groupOption(args, stackStart = groupOption) {
  const options = args[0];
  if (options === null || typeof options !== 'object' || isProxy(options)) return undefined;
  if (!Object.hasOwn(options, 'group')) return undefined;
  const { group } = options;
  if (group === undefined) return undefined;
  if (typeof group !== 'string') throw errors.invalidArgType('options.group', 'string', group, stackStart);
  if (group === '')
    throw errors.invalidArgValue('options.group', group, 'must be a non-empty string', stackStart);
  if (options.fd !== undefined || options.handle !== undefined) {
    throw errors.invalidArgValue('options.group', group, 'needs a port or a path, not a handle', stackStart);
  }
  if (options.reusePort === true) {
    throw errors.invalidArgValue('options.group', group, 'cannot be combined with reusePort', stackStart);
  }
  return group;
}

/** Remembers (or forgets, with undefined) the group of `server`'s listen(). */
function setPendingGroup(server, group) {
  server[kGroup] = group;
}

/** The group `server`'s pending listen() asked for, if any. */
function pendingGroup(server) {
  return server[kGroup];
}

/**
 * A listening handle in `group` for a TCP address or (port -1) a pipe
 * path, or a negative errno.
 */
function createGroupHandle(group, address, port, addressType, ipv6Only) {
  const handle =
    port === -1 && addressType === -1
      ? createListeningHandle('pipe', (native) => native.bindGroupPipe(group, `${address}`), false)
      : createListeningHandle('tcp', (native) => native.bindGroupTcp(group, address, port, ipv6Only), false);
  // A member counts the connections it took and has not delivered yet.
  if (typeof handle !== 'number') handle[kUndelivered] = 0;
  return handle;
}

/**
 * Keeps the group informed of `server`'s open connections, which Node's own
 * code counts in `server._connections` (up in onconnection, down when a
 * socket is destroyed) and the group balances on. The count is published
 * where it changes: after onconnection's increment (see
 * `publishConnections`) and from the server's `_emitCloseIfDrained`, which
 * Node's socket calls right after its decrement. `_connections` stays the
 * plain property Node made: an accessor in its place would put the server
 * object in V8's slow dictionary mode, making every use of it slower.
 */
function countConnections(server) {
  const native = nativeListener(server._handle);
  if (native === undefined) return;
  const buffer = native.connectionCounter();
  /** @type {Uint32Array | import('./native-handle').ServerHandle} */
  const counter = buffer === null ? native : new Uint32Array(buffer);
  server[kCounter] = counter;
  publishConnections(server);
  if (Object.hasOwn(server, '_emitCloseIfDrained')) return;
  const emitCloseIfDrained = server._emitCloseIfDrained;
  // Non-enumerable, as the method Node's prototype has.
  Object.defineProperty(server, '_emitCloseIfDrained', {
    enumerable: false,
    configurable: true,
    writable: true,
    value: function _emitCloseIfDrained() {
      publishConnections(this);
      return Reflect.apply(emitCloseIfDrained, this, arguments);
    },
  });
}

/**
 * Stops publishing `server`'s count: it listens outside any group now (an
 * earlier listen() may have been in one).
 */
function stopCountingConnections(server) {
  if (server[kCounter] !== undefined) server[kCounter] = undefined;
}

/**
 * Tells the group of `server`, if it is a member, its count of open
 * connections: the server's own, and those of the batch being delivered
 * that it has not reached yet (which the native side counted as open when
 * they were taken, and which would otherwise look free). Called wherever
 * either changes: a connection taken, dropped or refused, a socket closed.
 */
function publishConnections(server) {
  /** @type {Uint32Array | import('./native-handle').ServerHandle | undefined} */
  const counter = server[kCounter];
  if (counter === undefined) return;
  const open = server._connections;
  if (typeof open !== 'number') return;
  const count = open + (server._handle?.[kUndelivered] ?? 0);
  if (counter instanceof Uint32Array) Atomics.store(counter, 0, count > 0 ? Math.min(count, 0xffffffff) : 0);
  else counter.setConnectionCount(count);
}

module.exports = {
  countConnections,
  createGroupHandle,
  groupOption,
  pendingGroup,
  publishConnections,
  setPendingGroup,
  stopCountingConnections,
};
