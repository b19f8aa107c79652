'use strict';

// rs-net's net.Server: Node's semantics in JavaScript, over a native
// ServerHandle that binds, listens and accepts on a tokio runtime.
// Version-dependent behaviour follows the Node version this runs on.

const EventEmitter = require('events');
const net = require('net');
const { getDefaultHighWaterMark } = require('stream');

const errors = require('./errors');
const { listen, releaseAdoptedNodeHandle, setupListenHandle } = require('./listen');
const { kHandleKind, kMaxConnections, syncConnectionLimit, syncConnectionCount } = require('./connections');
const { nodeMajor } = require('./node-version');

function validateNumber(value, name) {
  if (typeof value !== 'number') {
    throw errors.invalidArgType(name, 'number', value, validateNumber);
  }
}

/**
 * A TCP or IPC server, as `net.Server`. Callable with or without `new`, and
 * inheritable the old way (`Server.call(this)`), like Node's.
 */
function Server(options, connectionListener) {
  if (!(this instanceof Server)) return new Server(options, connectionListener);

  EventEmitter.call(this);

  if (typeof options === 'function') {
    connectionListener = options;
    options = {};
    this.on('connection', connectionListener);
  } else if (options == null || typeof options === 'object') {
    options = { ...options };
    if (typeof connectionListener === 'function') {
      this.on('connection', connectionListener);
    }
  } else {
    throw errors.invalidArgType('options', 'Object', options, Server);
  }
  if (options.keepAliveInitialDelay !== undefined) {
    validateNumber(options.keepAliveInitialDelay, 'options.keepAliveInitialDelay');
    if (options.keepAliveInitialDelay < 0) options.keepAliveInitialDelay = 0;
  }
  if (options.highWaterMark !== undefined) {
    validateNumber(options.highWaterMark, 'options.highWaterMark');
    if (options.highWaterMark < 0) options.highWaterMark = getDefaultHighWaterMark(false);
  }
  // The same own properties, in the same order, as Node's server.
  this._connections = 0;
  this._handle = null;
  this._usingWorkers = false;
  this._workers = [];
  this._unref = false;
  this._listeningId = 1;

  this.allowHalfOpen = options.allowHalfOpen || false;
  this.pauseOnConnect = !!options.pauseOnConnect;
  this.noDelay = Boolean(options.noDelay);
  this.keepAlive = Boolean(options.keepAlive);
  this.keepAliveInitialDelay = ~~(options.keepAliveInitialDelay / 1000);
  this.highWaterMark = options.highWaterMark ?? getDefaultHighWaterMark(false);
  if (nodeMajor >= 22 && options.blockList) {
    if (!net.BlockList.isBlockList(options.blockList)) {
      throw errors.invalidArgType('options.blockList', 'net.BlockList', options.blockList, Server);
    }
    this.blockList = options.blockList;
  }
}
Object.setPrototypeOf(Server.prototype, EventEmitter.prototype);
Object.setPrototypeOf(Server, EventEmitter);

Server.prototype._listen2 = setupListenHandle; // legacy alias, as in Node
Server.prototype.listen = listen;

Object.defineProperty(Server.prototype, 'listening', {
  __proto__: null,
  get() {
    return !!this._handle;
  },
  configurable: true,
  enumerable: true,
});

// maxConnections is mirrored into the native accept loop, which refuses
// connections over the limit without waking JavaScript for each one. An
// accessor is the only way to see assignments; it lives on the prototype so
// a server's own properties stay Node's.
Object.defineProperty(Server.prototype, 'maxConnections', {
  __proto__: null,
  get() {
    return this[kMaxConnections];
  },
  set(value) {
    this[kMaxConnections] = value;
    syncConnectionLimit(this);
  },
  configurable: true,
  enumerable: false,
});

Server.prototype.address = function address() {
  // Node asks a TCP handle, open or closed, and reports a pipe by its name.
  if (this._handle && (this._handle[kHandleKind] ?? this._handle.kind) === 'tcp') {
    const name = this._handle.getsockname();
    if (typeof name === 'number') throw errors.errnoException(name, 'address', address);
    return name;
  } else if (this._pipeName) {
    return this._pipeName;
  }
  return null;
};

Server.prototype.getConnections = function getConnections(cb) {
  const end = (err, connections) => process.nextTick(cb, err, connections);
  if (!this._usingWorkers) {
    end(null, this._connections);
    return this;
  }
  // Sockets sent to child processes (child.send('socket', socket)) are
  // counted by the children: ask each list and add up, as Node does.
  let left = this._workers.length;
  let total = this._connections;
  const oncount = (err, count) => {
    if (err) {
      left = -1;
      end(err);
      return;
    }
    total += count;
    if (--left === 0) end(null, total);
  };
  for (let n = 0; n < this._workers.length; n++) {
    this._workers[n].getConnections(oncount);
  }
  return this;
};

Server.prototype.close = function close(cb) {
  this._listeningId++;
  if (typeof cb === 'function') {
    if (!this._handle) {
      this.once('close', function close() {
        cb(errors.serverNotRunning(close));
      });
    } else {
      this.once('close', cb);
    }
  }

  if (this._handle) {
    this._handle.close();
    releaseAdoptedNodeHandle(this);
    this._handle = null;
  }

  if (this._usingWorkers) {
    // Wait until the children have closed the sockets sent to them. The
    // extra count keeps 'close' from firing while they are asked.
    let left = this._workers.length;
    const onWorkerClose = () => {
      if (--left !== 0) return;
      this._connections = 0;
      this._emitCloseIfDrained();
    };
    this._connections++;
    for (let n = 0; n < this._workers.length; n++) {
      this._workers[n].close(onWorkerClose);
    }
  } else {
    this._emitCloseIfDrained();
  }
  return this;
};

// Node's own Symbol.asyncDispose, as its servers are keyed by it (on Node 20
// and 22 a registry symbol that vm contexts, like Jest's sandbox, lack).
const asyncDispose = Object.getOwnPropertySymbols(net.Server.prototype).find(
  (symbol) => symbol.description === 'Symbol.asyncDispose' || symbol.description === 'nodejs.asyncDispose',
);

// close() as a promise, as util.promisify makes it, but of this realm's
// Promise: awaiting a promise of another realm (Node's, from inside a vm
// context such as Jest's) would take extra microtasks.
function closed(server) {
  return new Promise((resolve, reject) => {
    server.close((error, value) => (error ? reject(error) : resolve(value)));
  });
}

Server.prototype[asyncDispose ?? Symbol.asyncDispose] = async function () {
  if (!this._handle) return;
  await closed(this);
};

Server.prototype._emitCloseIfDrained = function () {
  // Node's sockets call this after each `server._connections--`.
  syncConnectionCount(this);
  if (this._handle || this._connections) return;
  process.nextTick(emitCloseNT, this);
};

function emitCloseNT(self) {
  self.emit('close');
}

Server.prototype[EventEmitter.captureRejectionSymbol] = function (err, event, sock) {
  switch (event) {
    case 'connection':
      sock.destroy(err);
      break;
    default:
      this.emit('error', err);
  }
};

Server.prototype._setupWorker = function (socketList) {
  this._usingWorkers = true;
  this._workers.push(socketList);
  socketList.once('exit', (list) => {
    const index = this._workers.indexOf(list);
    this._workers.splice(index, 1);
  });
};

Server.prototype.ref = function () {
  this._unref = false;
  if (this._handle) this._handle.ref();
  return this;
};

Server.prototype.unref = function () {
  this._unref = true;
  if (this._handle) this._handle.unref();
  return this;
};

// Node's server defines these as anonymous functions: same `name` ('').
for (const method of ['listen', 'address', 'getConnections', 'close']) {
  Object.defineProperty(Server.prototype[method], 'name', { value: '' });
}

/** `net.createServer([options][, connectionListener])`. */
function createServer(options, connectionListener) {
  return new Server(options, connectionListener);
}

module.exports = { Server, createServer };
