'use strict';

// rs-net's net.Server: a subclass of Node's own, whose listen() decides its
// arguments natively and whose handle is accepted on by rs-net's native
// listener (lib/listening-handle.js). Everything else is Node's: the
// constructor and its options, getConnections, ref/unref, the events. The
// few methods redefined here are redefined for the caller's realm (errors
// that are `instanceof Error` inside Jest's sandbox) or for the handle.

const net = require('net');

const errors = require('./errors');
const { listen, setupListenHandle } = require('./listen');
const { detachListener } = require('./listening-handle');
const { asyncDisposeSymbol, handles, transferSymbol } = require('./node-internals');

/**
 * A TCP or IPC server, as `net.Server` (and an instance of it). Callable
 * with or without `new`, and inheritable the old way (`Server.call(this)`),
 * like Node's.
 */
function Server(options, connectionListener) {
  if (!(this instanceof Server)) return new Server(options, connectionListener);
  Reflect.apply(net.Server, this, [options, connectionListener]);
}
Object.setPrototypeOf(Server.prototype, net.Server.prototype);
Object.setPrototypeOf(Server, net.Server);

// rs-net's http and https servers listen through rs-net as well, but are
// Node's http.Server underneath (a subclass of net.Server, not of this
// one): instances of the prototypes listed here are `instanceof` this
// Server too. (A list, not a mark on the prototypes, which keep exactly
// the keys they redefine.)
const alsoRsNetServers = [];
Object.defineProperty(Server, Symbol.hasInstance, {
  value: function hasInstance(value) {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    // Subclasses of this Server keep the usual meaning.
    if (this !== Server || value === null || typeof value !== 'object') return false;
    return alsoRsNetServers.some((prototype) => Object.prototype.isPrototypeOf.call(prototype, value));
  },
  configurable: true,
});

/** Makes instances of `prototype` count as rs-net Servers (`instanceof`). */
function listensThroughRsNet(prototype) {
  alsoRsNetServers.push(prototype);
}

Server.prototype._listen2 = setupListenHandle; // legacy alias, as in Node
Server.prototype.listen = listen;

Server.prototype.address = function address() {
  if (this._handle && this._handle.getsockname) {
    const out = {};
    const err = this._handle.getsockname(out);
    if (err) throw errors.errnoException(err, 'address', address);
    return out;
  } else if (this._pipeName) {
    return this._pipeName;
  }
  return null;
};

/**
 * Registers close()'s callback as Node does: called on 'close', with
 * ERR_SERVER_NOT_RUNNING (built in the caller's realm) when the server was
 * not listening.
 */
function onceClosed(server, cb) {
  if (typeof cb !== 'function') return;
  if (!server._handle) {
    server.once('close', function close() {
      cb(errors.serverNotRunning(close));
    });
  } else {
    server.once('close', cb);
  }
}

Server.prototype.close = function close(cb) {
  this._listeningId++;
  onceClosed(this, cb);

  if (this._handle) {
    this._handle.close();
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

// close() as a promise, as util.promisify makes it, but of this realm's
// Promise: awaiting a promise of another realm (Node's, from inside a vm
// context such as Jest's) would take extra microtasks.
function closed(server) {
  return new Promise((resolve, reject) => {
    server.close((error, value) => (error ? reject(error) : resolve(value)));
  });
}

Server.prototype[asyncDisposeSymbol] = async function () {
  if (!this._handle) return;
  await closed(this);
};

// Node 24 moves a listening TCP server to a worker thread listed in a
// postMessage transfer list: its handle goes there, where Node's own server
// listens on it. rs-net's listener lets go of the socket first, so that every
// connection goes to the new thread.
if (transferSymbol !== undefined) {
  const transfer = net.Server.prototype[transferSymbol];
  Server.prototype[transferSymbol] = function () {
    if (this._handle instanceof handles().TCP) detachListener(this._handle);
    return Reflect.apply(transfer, this, arguments);
  };
}

// Node's server defines these as anonymous functions: same `name` ('').
for (const method of ['listen', 'address', 'close']) {
  Object.defineProperty(Server.prototype[method], 'name', { value: '' });
}

/** `net.createServer([options][, connectionListener])`. */
function createServer(options, connectionListener) {
  return new Server(options, connectionListener);
}

module.exports = { Server, createServer, listensThroughRsNet, onceClosed };
