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
const { createListeningHandle, nativeListener } = require('./listening-handle');

// The group a server's pending listen() asked for.
const kGroup = Symbol('kGroup');
// A group member's own count of open connections (see `countConnections`).
const kConnections = Symbol('kConnections');

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
  if (port === -1 && addressType === -1) {
    return createListeningHandle((native) => native.bindGroupPipe(group, `${address}`));
  }
  return createListeningHandle((native) => native.bindGroupTcp(group, address, port, ipv6Only));
}

/**
 * Keeps the group informed of `server`'s open connections: Node's own code
 * counts them in `server._connections` (up in onconnection, down when a
 * socket is destroyed), and every change is passed on to the native member
 * the group balances on. The property stays a plain number to everyone
 * reading or writing it.
 */
function countConnections(server) {
  if (kConnections in server) return;
  server[kConnections] = server._connections;
  Object.defineProperty(server, '_connections', {
    configurable: true,
    enumerable: true,
    get() {
      return this[kConnections];
    },
    set(value) {
      this[kConnections] = value;
      const native = this._handle ? nativeListener(this._handle) : undefined;
      if (native !== undefined && typeof value === 'number') native.setConnectionCount(value);
    },
  });
}

module.exports = { countConnections, createGroupHandle, groupOption, pendingGroup, setPendingGroup };
