'use strict';

// Accepted connections, from native events to Node's own net.Socket.
//
// The accept loop runs on tokio; the native bridge wakes JavaScript, which
// takes a batch of events (descriptor numbers, and objects for drops and
// accept errors). Each descriptor becomes a real net.Socket, configured the way
// Node's server configures the sockets it accepts, counted, and emitted as
// 'connection'. A full batch means more are waiting: they are pulled on the
// next turn of the event loop, so timers and I/O keep running in a burst.

const net = require('net');
const dc = require('diagnostics_channel');
const { AsyncResource } = require('async_hooks');

const binding = require('../binding');
const errors = require('./errors');
const { nodeMajor } = require('./node-version');

const { BATCH_SIZE, adoptConnection, closeConnection, describeConnection } = binding;

const kOwner = Symbol('kOwner');
const kMaxConnections = Symbol('kMaxConnections');
const kLimited = Symbol('kLimited');
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
 * are waiting. The events are taken here rather than passed along, so that
 * a wake-up that never reaches JavaScript (its environment is going away)
 * leaves them with the native queue, which closes their descriptors.
 */
function acceptEvents(handle) {
  const server = handle[kOwner];
  if (server === undefined || server._handle !== handle) return;
  const batch = handle.takeEvents();
  if (batchChannel.hasSubscribers) publishBatch(handle, batch, false);
  inServerContext(handle, batch);
}

function inServerContext(handle, batch) {
  const resource = handle[kServerResource];
  if (resource === undefined) deliver(handle, batch, 0);
  else resource.runInAsyncScope(deliver, null, handle, batch, 0);
}

function publishBatch(handle, batch, pulled) {
  batchChannel.publish({ server: handle[kOwner], size: batch.length, pulled });
}

// Node delivers each accepted connection in its own callback from libuv,
// and runs process.nextTick callbacks and microtasks after each one. A batch
// does the same between its events, so what a 'connection' listener
// schedules runs before the next connection, as with Node's server.
const runNextTicks = typeof process._tickCallback === 'function' ? process._tickCallback : () => {};

function deliver(handle, batch, start) {
  let index = start;
  try {
    for (; index < batch.length; index++) {
      if (index > start) runNextTicks();
      const event = batch[index];
      const server = handle[kOwner];
      if (server === undefined || server._handle !== handle) {
        // Closed meanwhile: these connections were never the user's.
        closeDescriptors(batch, index);
        return;
      }
      if (typeof event === 'number') onconnection(server, event);
      else onnotice(server, event);
    }
  } catch (error) {
    // A listener threw: finish the batch on a later turn and let the
    // exception go on as Node's would (to 'uncaughtException').
    setImmediate(deliver, handle, batch, index + 1);
    throw error;
  }
  if (batch.length === BATCH_SIZE) setImmediate(pullEvents, handle);
}

function pullEvents(handle) {
  const server = handle[kOwner];
  if (server === undefined || server._handle !== handle) return;
  const batch = handle.takeEvents();
  if (batchChannel.hasSubscribers) publishBatch(handle, batch, true);
  inServerContext(handle, batch);
}

// Descriptors taken from the native queue are closed through it: it knows
// which are still unowned (closing the server already closed the rest of
// a batch no socket adopted).
function closeDescriptors(batch, from) {
  for (let i = from; i < batch.length; i++) {
    const event = batch[i];
    if (typeof event === 'number') closeConnection(event);
    else if (typeof event.fd === 'number') closeConnection(event.fd);
  }
}

// Node's maxConnections test, which differs between versions.
function overConnectionLimit(server) {
  const max = server.maxConnections;
  if (nodeMajor >= 22) return max != null && server._connections >= max;
  return max && server._connections >= max;
}

function onconnection(server, fd) {
  if (overConnectionLimit(server)) {
    const notice = server._handle[kHandleKind] === 'tcp' ? describeConnection(fd) : undefined;
    closeConnection(fd);
    emitDrop(server, notice);
    return;
  }
  if (nodeMajor >= 22 && server.blockList && server._handle[kHandleKind] === 'tcp') {
    const { remoteAddress } = describeConnection(fd);
    const family = net.isIP(remoteAddress);
    if (family && server.blockList.check(remoteAddress, `ipv${family}`)) {
      closeConnection(fd);
      return;
    }
  }

  let socket;
  try {
    socket = topLevel.runInAsyncScope(createSocket, null, server, fd, server._handle[kHandleKind]);
  } catch (error) {
    closeConnection(fd);
    throw error;
  }
  // The socket owns the descriptor now; until here the native side would
  // close it if this environment were torn down (a terminated worker).
  adoptConnection(fd);
  configureSocket(server, socket);

  server._connections++;
  if (server[kLimited]) server._handle.setConnectionCount(server._connections);
  socket.server = server;
  socket._server = server;
  server.emit('connection', socket);
  if (serverSocketChannel.hasSubscribers) serverSocketChannel.publish({ socket });
}

// Node's own handle classes (TCP and Pipe), learnt from the first socket
// made from a descriptor. With them a connection becomes a socket the way
// Node's server makes one, `new Socket({ handle })`, without `{ fd }`'s
// probing of what the descriptor is (five system calls per connection).
const handleClasses = { tcp: undefined, pipe: undefined };
// TCPConstants.SOCKET and PipeConstants.SOCKET: a connection, not a server.
const SOCKET_HANDLE = 0;

function createSocket(server, fd, kind) {
  const options = {
    allowHalfOpen: server.allowHalfOpen,
    pauseOnCreate: server.pauseOnConnect,
    readable: true,
    writable: true,
    readableHighWaterMark: server.highWaterMark,
    writableHighWaterMark: server.highWaterMark,
  };
  const Handle = handleClasses[kind];
  if (Handle === undefined) {
    options.fd = fd;
    const socket = new net.Socket(options);
    handleClasses[kind] = socket._handle.constructor;
    return socket;
  }
  const handle = new Handle(SOCKET_HANDLE);
  const err = handle.open(fd);
  if (err) {
    handle.close();
    throw errors.errnoException(err, 'open', createSocket);
  }
  options.handle = handle;
  return new net.Socket(options);
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

function onnotice(server, notice) {
  if (notice.kind === 'drop') {
    // Refused natively; closed once 'drop' is emitted, as Node does it.
    try {
      emitDrop(server, notice);
    } finally {
      closeConnection(notice.fd);
    }
  } else {
    server.emit('error', errors.errnoException(notice.errno, 'accept', onnotice));
  }
}

// 'drop' carries the connection's addresses for TCP, nothing for pipes.
function emitDrop(server, notice) {
  if (notice === undefined || !notice.hasAddresses) {
    server.emit('drop');
    return;
  }
  server.emit('drop', {
    __proto__: null,
    localAddress: notice.localAddress,
    localPort: notice.localPort,
    localFamily: notice.localFamily,
    remoteAddress: notice.remoteAddress,
    remotePort: notice.remotePort,
    remoteFamily: notice.remoteFamily,
  });
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
 * called in, or its address lookup's callback, as Node makes its handle).
 */
function startConnectionCount(server, handle) {
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
  startConnectionCount,
  syncConnectionCount,
  syncConnectionLimit,
};
