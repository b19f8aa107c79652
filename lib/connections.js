'use strict';

// Accepted connections, from native events to Node's own net.Socket.
//
// The accept loop runs on tokio; the native bridge wakes JavaScript, which
// takes a batch of events: descriptor numbers for connections, objects for
// connections refused by maxConnections and for accept errors. Each
// descriptor becomes a real net.Socket, configured the way Node's server
// configures the sockets it accepts, counted, and emitted as 'connection'.
// A full batch means more are waiting: they are taken on the next turn of
// the event loop, so timers and I/O keep running in a burst.
//
// Every descriptor taken is either adopted by a socket's handle
// (handle.adoptConnection) or closed (handle.closeConnection); whatever is
// neither when the server closes is closed natively, with the handle.

const net = require('net');
const dc = require('diagnostics_channel');
const { AsyncResource } = require('async_hooks');

const binding = require('../binding');
const errors = require('./errors');
const { nodeMajor } = require('./node-version');

const { BATCH_SIZE } = binding;

// The server a ServerHandle delivers to (another server may adopt it).
const kOwner = Symbol('kOwner');
const kMaxConnections = Symbol('kMaxConnections');
// Whether the native side mirrors a maxConnections limit for this server.
const kLimited = Symbol('kLimited');
// The async resource 'connection' runs in (see `topLevel`).
const kServerResource = Symbol('kServerResource');
// 'tcp' or 'pipe': what a ServerHandle is, read once from it when it starts
// listening (and still known once it is closed, for address()).
const kHandleKind = Symbol('kHandleKind');

// Async context, as Node's server has it: 'connection' (and what its
// listeners schedule) runs in the context the server started listening in,
// as Node runs it in its listening handle's; each socket's own handle is
// made in the top-level context, as libuv's accept callback makes Node's,
// so the socket's I/O callbacks do not inherit the listener's context
// (AsyncLocalStorage stores, for one). This resource is that top level.
const topLevel = new AsyncResource('RSNET_ACCEPT');

const serverSocketChannel = dc.channel('net.server.socket');
// rs-net's own channel: one message per batch of events handed to
// JavaScript ({ server, size, pulled }), so tools (and tests) can see how
// many connections each wake-up of the JavaScript thread carried.
const batchChannel = dc.channel('rs-net.server.batch');

// The private flags Node's server sets on the sockets it accepts with
// noDelay / keepAlive. Node's Socket constructor makes them own properties,
// so they are found by name on a socket that has no handle.
const socketFlags = (() => {
  const probe = new net.Socket();
  const flags = {};
  for (const symbol of Object.getOwnPropertySymbols(probe)) {
    if (symbol.description === 'kSetNoDelay') flags.noDelay = symbol;
    else if (symbol.description === 'kSetKeepAlive') flags.keepAlive = symbol;
    else if (symbol.description === 'kSetKeepAliveInitialDelay') flags.keepAliveInitialDelay = symbol;
  }
  return flags;
})();

/**
 * Called (through the threadsafe function, without arguments) when events
 * are waiting, and on later turns while a full batch suggests more. The
 * events are taken here rather than passed along, so that a wake-up that
 * never reaches JavaScript (its environment is going away) leaves them with
 * the native queue, which closes their descriptors.
 */
function acceptEvents(handle, pulled = false) {
  const server = handle[kOwner];
  if (server === undefined || server._handle !== handle) return;
  const batch = handle.takeEvents();
  if (batchChannel.hasSubscribers) batchChannel.publish({ server, size: batch.length, pulled });
  deliver(handle, batch, 0);
}

// Node delivers each accepted connection in its own callback from libuv,
// and runs process.nextTick callbacks and microtasks after each one. A batch
// does the same between its events (outside any async scope, as Node runs
// them), so what a 'connection' listener schedules runs before the next
// connection, as with Node's server.
const runNextTicks = typeof process._tickCallback === 'function' ? process._tickCallback : () => {};

function deliver(handle, batch, start) {
  let index = start;
  // Whether the exception, if any, came from an event's listeners (that
  // event was delivered) or from the ticks before it (it was not).
  let inEvent = false;
  try {
    for (; index < batch.length; index++) {
      if (index > start) runNextTicks();
      const server = handle[kOwner];
      // Closed meanwhile: the native side closed what no socket adopted.
      if (server === undefined || server._handle !== handle) return;
      const resource = handle[kServerResource];
      inEvent = true;
      if (resource === undefined) onevent(server, handle, batch[index]);
      else resource.runInAsyncScope(onevent, null, server, handle, batch[index]);
      inEvent = false;
    }
  } catch (error) {
    // Finish the batch on a later turn, from the first event not yet
    // delivered, and let the exception go on as Node's would (to
    // 'uncaughtException').
    setImmediate(deliver, handle, batch, inEvent ? index + 1 : index);
    throw error;
  }
  if (batch.length === BATCH_SIZE) setImmediate(acceptEvents, handle, true);
}

function onevent(server, handle, event) {
  if (typeof event === 'number') onconnection(server, handle, event);
  else if (event.kind === 'refused') onrefused(server, handle, event);
  else server.emit('error', errors.errnoException(event.errno, 'accept', onevent));
}

// Node's maxConnections test, which differs between versions.
function overConnectionLimit(server) {
  const max = server.maxConnections;
  if (nodeMajor >= 22) return max != null && server._connections >= max;
  return max && server._connections >= max;
}

function onconnection(server, handle, fd) {
  if (overConnectionLimit(server)) {
    drop(server, handle, fd, handle.describeConnection(fd));
    return;
  }
  if (nodeMajor >= 22 && server.blockList && handle[kHandleKind] === 'tcp') {
    const { remoteAddress } = handle.describeConnection(fd);
    const family = net.isIP(remoteAddress);
    if (family && server.blockList.check(remoteAddress, `ipv${family}`)) {
      handle.closeConnection(fd);
      return;
    }
  }

  const socket = topLevel.runInAsyncScope(createSocket, null, server, handle, fd);
  configureSocket(server, socket);

  server._connections++;
  if (server[kLimited]) handle.setConnectionCount(server._connections);
  socket.server = server;
  socket._server = server;
  server.emit('connection', socket);
  if (serverSocketChannel.hasSubscribers) serverSocketChannel.publish({ socket });
}

// The accept loop found this connection over the limit from its copy of
// the count. JavaScript's count has the last word (it can drop without the
// native side hearing of it, for a socket sent to a child process).
function onrefused(server, handle, notice) {
  if (overConnectionLimit(server)) drop(server, handle, notice.fd, notice);
  else onconnection(server, handle, notice.fd);
}

// As Node: 'drop' (with the addresses, for TCP), then the connection closes.
function drop(server, handle, fd, addresses) {
  try {
    if (handle[kHandleKind] !== 'tcp') {
      server.emit('drop');
    } else {
      server.emit('drop', {
        __proto__: null,
        localAddress: addresses.localAddress,
        localPort: addresses.localPort,
        localFamily: addresses.localFamily,
        remoteAddress: addresses.remoteAddress,
        remotePort: addresses.remotePort,
        remoteFamily: addresses.remoteFamily,
      });
    }
  } finally {
    handle.closeConnection(fd);
  }
}

// Node's own handle classes (TCP and Pipe), learnt from the first socket
// made from a descriptor. With them a connection becomes a socket the way
// Node's server makes one, `new Socket({ handle })`, without `{ fd }`'s
// probing of what the descriptor is (five system calls per connection).
const handleClasses = { tcp: undefined, pipe: undefined };
// TCPConstants.SOCKET and PipeConstants.SOCKET: a connection, not a server.
const SOCKET_HANDLE = 0;

// Makes the socket for `fd`, telling the native side as soon as a handle
// owns the descriptor; closes it if no socket could be made.
function createSocket(server, handle, fd) {
  const options = {
    allowHalfOpen: server.allowHalfOpen,
    pauseOnCreate: server.pauseOnConnect,
    readable: true,
    writable: true,
    readableHighWaterMark: server.highWaterMark,
    writableHighWaterMark: server.highWaterMark,
  };
  const kind = handle[kHandleKind];
  const Handle = handleClasses[kind];
  if (Handle === undefined) {
    let socket;
    try {
      socket = new net.Socket({ ...options, fd });
    } catch (error) {
      handle.closeConnection(fd);
      throw error;
    }
    handle.adoptConnection(fd);
    handleClasses[kind] = socket._handle.constructor;
    return socket;
  }
  const socketHandle = new Handle(SOCKET_HANDLE);
  const err = socketHandle.open(fd);
  if (err) {
    socketHandle.close();
    handle.closeConnection(fd);
    throw errors.errnoException(err, 'open', createSocket);
  }
  handle.adoptConnection(fd);
  return new net.Socket({ ...options, handle: socketHandle });
}

// TCP_NODELAY and SO_KEEPALIVE as Node's server applies them: straight on
// the handle, recording the private flags Node's later setNoDelay() /
// setKeepAlive() calls compare against.
function configureSocket(server, socket) {
  const handle = socket._handle;
  if (server.noDelay && handle.setNoDelay) {
    if (socketFlags.noDelay) {
      socket[socketFlags.noDelay] = true;
      handle.setNoDelay(true);
    } else {
      socket.setNoDelay(true);
    }
  }
  if (server.keepAlive && handle.setKeepAlive) {
    if (socketFlags.keepAlive && socketFlags.keepAliveInitialDelay) {
      socket[socketFlags.keepAlive] = true;
      socket[socketFlags.keepAliveInitialDelay] = server.keepAliveInitialDelay;
      handle.setKeepAlive(true, server.keepAliveInitialDelay);
    } else {
      socket.setKeepAlive(true, server.keepAliveInitialDelay * 1000);
    }
  }
}

// The native limit mirrors Node's test: refuse when count >= limit, where
// no limit (NaN) refuses nothing.
function nativeConnectionLimit(server) {
  const max = server[kMaxConnections];
  const active = nodeMajor >= 22 ? max != null : Boolean(max);
  if (!active) return null;
  try {
    return Number(max);
  } catch {
    // A value Number() rejects: let JavaScript's own comparison decide (and
    // throw) for each connection, as Node would.
    return null;
  }
}

/** After maxConnections changes: pass the limit (and the count) to native. */
function syncConnectionLimit(server) {
  const handle = server._handle;
  if (!handle || handle[kOwner] !== server) return;
  const limit = nativeConnectionLimit(server);
  server[kLimited] = limit !== null;
  if (server[kLimited]) handle.setConnectionCount(server._connections);
  handle.setConnectionLimit(limit);
}

/** After the connection count drops (a socket closed). */
function syncConnectionCount(server) {
  if (server[kLimited] && server._handle) server._handle.setConnectionCount(server._connections);
}

/**
 * When a handle starts listening for `server` (in the context listen() was
 * called in, or its address lookup's callback, as Node makes its handle):
 * the async resource of its connections, and the native connection limit.
 */
function startAccepting(server, handle) {
  handle[kServerResource] = new AsyncResource(
    handle[kHandleKind] === 'pipe' ? 'PIPESERVERWRAP' : 'TCPSERVERWRAP',
  );
  server[kLimited] = false;
  syncConnectionLimit(server);
}

module.exports = {
  acceptEvents,
  kHandleKind,
  kMaxConnections,
  kOwner,
  startAccepting,
  syncConnectionCount,
  syncConnectionLimit,
};
