'use strict';

// Accepted connections, from a client handle to Node's own net.Socket: the
// `onconnection(err, clientHandle)` that rs-net's servers set on their
// listening handle, as Node's servers set theirs. Native connections and
// connections a cluster primary hands over both arrive here, through
// `server._handle.onconnection`, so code that replaces that function (as
// Node's own tests do) sees every connection and its handle.

const net = require('net');
const dc = require('diagnostics_channel');

const errors = require('./errors');
const { publishConnections } = require('./group');
const { handles } = require('./node-internals');
const { behaviour } = require('./node-version');

const serverSocketChannel = dc.channel('net.server.socket');

// Node's maxConnections test, which differs between versions.
function overConnectionLimit(server) {
  const max = server.maxConnections;
  if (behaviour.maxConnectionsZeroIsALimit) return max != null && server._connections >= max;
  return max && server._connections >= max;
}

/** `handle.onconnection(err, clientHandle)`, called with the listening handle as `this`. */
function onconnection(err, clientHandle) {
  const server = this[handles().ownerSymbol];
  if (err) {
    server.emit('error', errors.errnoException(err, 'accept', onconnection));
    return;
  }
  if (overConnectionLimit(server)) {
    drop(server, clientHandle);
    publishConnections(server);
    return;
  }
  if (behaviour.serverBlockList && server.blockList && typeof clientHandle.getpeername === 'function') {
    const remote = endpoint(clientHandle, 'getpeername');
    const family = net.isIP(remote.address);
    if (family && server.blockList.check(remote.address, `ipv${family}`)) {
      clientHandle.close();
      publishConnections(server);
      return;
    }
  }

  const socket = new net.Socket(socketOptions(server, clientHandle));
  configureSocket(server, socket, clientHandle);

  server._connections++;
  publishConnections(server);
  socket.server = server;
  socket._server = server;
  server.emit('connection', socket);
  if (serverSocketChannel.hasSubscribers) serverSocketChannel.publish({ socket });
}

// On V8 before 12 (Node 20), net.Socket's copy of an object literal of
// options (`{ ...options }`, which it then adds properties to) ends up with
// a map of its own every time, so every option read from the copy misses
// V8's caches and is looked up in the runtime: 27 lookups per socket, some
// 50,000 instructions under callgrind, which Node's own onconnection pays
// too. Given a property that spreading skips (a non-enumerable symbol, seen
// by nothing that reads options), the copy is made another way, into maps
// V8 shares: no lookups. V8 12 and later (Node 22, 24) share them anyway.
const literalCopiesMissCaches = Number(process.versions.v8.split('.')[0]) < 12;
const kCopiedGenerically = Symbol('kCopiedGenerically');
const copiedGenerically = { __proto__: null, value: true };

// The options Node's onconnection gives its sockets.
function socketOptions(server, clientHandle) {
  const options = {
    handle: clientHandle,
    allowHalfOpen: server.allowHalfOpen,
    pauseOnCreate: server.pauseOnConnect,
    readable: true,
    writable: true,
    readableHighWaterMark: server.highWaterMark,
    writableHighWaterMark: server.highWaterMark,
  };
  if (literalCopiesMissCaches) Object.defineProperty(options, kCopiedGenerically, copiedGenerically);
  return options;
}

// As Node: 'drop' (with the addresses, where the handle has them), then
// the connection closes.
function drop(server, clientHandle) {
  if (clientHandle.getsockname || clientHandle.getpeername) {
    const data = { __proto__: null };
    if (clientHandle.getsockname) {
      const local = endpoint(clientHandle, 'getsockname');
      data.localAddress = local.address;
      data.localPort = local.port;
      data.localFamily = local.family;
    }
    if (clientHandle.getpeername) {
      const remote = endpoint(clientHandle, 'getpeername');
      data.remoteAddress = remote.address;
      data.remotePort = remote.port;
      data.remoteFamily = remote.family;
    }
    server.emit('drop', data);
  } else {
    server.emit('drop');
  }
  clientHandle.close();
}

// One end of a connection, as the handle's getsockname/getpeername tell it.
function endpoint(clientHandle, method) {
  const info = { __proto__: null };
  clientHandle[method](info);
  return info;
}

// TCP_NODELAY and SO_KEEPALIVE as Node's server applies them: straight on
// the client handle, recording the private flags Node's later setNoDelay() /
// setKeepAlive() calls compare against.
function configureSocket(server, socket, clientHandle) {
  const { socketSymbols } = handles();
  if (server.noDelay && clientHandle.setNoDelay) {
    if (socketSymbols.noDelay) {
      socket[socketSymbols.noDelay] = true;
      clientHandle.setNoDelay(true);
    } else {
      socket.setNoDelay(true);
    }
  }
  if (server.keepAlive && clientHandle.setKeepAlive) {
    if (socketSymbols.keepAlive && socketSymbols.keepAliveInitialDelay) {
      socket[socketSymbols.keepAlive] = true;
      socket[socketSymbols.keepAliveInitialDelay] = server.keepAliveInitialDelay;
      clientHandle.setKeepAlive(true, server.keepAliveInitialDelay);
    } else {
      socket.setKeepAlive(true, server.keepAliveInitialDelay * 1000);
    }
  }
}

module.exports = { onconnection };
