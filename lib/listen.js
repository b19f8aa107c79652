'use strict';

// server.listen(): the native normalizer decides what the arguments mean
// (src/listen_args.rs); this file acts on that decision with Node's timing:
// binding is synchronous when no host is given, a host is resolved with
// dns.lookup first, and 'listening' / 'error' are emitted on process.nextTick.

const fs = require('fs');
const dc = require('diagnostics_channel');
const { addAbortListener } = require('events');
const net = require('net');
const { isProxy } = require('util').types;

const binding = require('../binding');
const errors = require('./errors');
const { acceptEvents, kHandleKind, kOwner, startAccepting } = require('./connections');
const { nodeMajor } = require('./node-version');

const { ServerHandle, checkInheritedDescriptor, normalizeListenArgs } = binding;

// libuv's bind flags, as Node passes them around.
const IPV6_ONLY = 1;
const REUSE_PORT = 2;

// Node traces listen() on this channel; so does rs-net, at the same points.
const listenChannel = dc.tracingChannel('net.server.listen');

// A Node handle this server took a socket from (a net.BoundSocket's): it is
// closed with the server, which for a Unix socket also removes its file.
const kAdoptedNodeHandle = Symbol('kAdoptedNodeHandle');
// A Node handle object passed to listen(), whose descriptor is duplicated
// (and the object closed) rather than taken over.
const kDescriptorOwner = Symbol('kDescriptorOwner');

// Node converts with its own copy of Number; this one is taken before user
// code could replace the global.
const toNumber = Number;

let dns;

/** `server.listen(...)`: every form Node documents. */
function listen(...args) {
  if (this._handle) {
    throw errors.serverAlreadyListen(listen);
  }
  const cb = args.length === 0 ? undefined : args[args.length - 1];

  const plan = normalizeListenArgs(
    args,
    (options) => {
      if (listenChannel.asyncStart.hasSubscribers) {
        listenChannel.asyncStart.publish({ server: this, options });
      }
      if (typeof cb === 'function') this.once('listening', cb);
    },
    () => {
      // Where Node invalidates pending lookups of an earlier listen().
      this._listeningId++;
    },
    (options) => addServerAbortSignalOption(this, options),
    boundSocketInternals?.BoundSocket,
    toNumber,
  );

  switch (plan.kind) {
    case 'error':
      throw argumentError(plan);
    case 'bound':
      adoptBoundSocket(this, plan.bound, plan.backlog);
      return this;
    case 'handle':
      this._handle = plan.handle;
      listenInCluster(this, null, -1, -1, plan.backlog);
      return this;
    case 'fd':
      listenOnDescriptor(this, plan);
      return this;
    case 'tcp': {
      const flags = (plan.ipv6Only ? IPV6_ONLY : 0) | (plan.reusePort ? REUSE_PORT : 0);
      if (plan.host !== undefined) {
        lookupAndListen(this, plan.port, plan.host, plan.backlog, flags);
      } else {
        listenInCluster(this, null, plan.port, 4, plan.backlog, undefined, unhostedFlags(flags));
      }
      return this;
    }
    case 'pipe':
      listenOnPipe(this, plan);
      return this;
    default:
      throw new Error(`rs-net: unknown listen plan ${plan.kind}`);
  }
}

// Node 20 leaves the flags out when no host is given, and so ignores
// ipv6Only there. rs-net follows, but keeps reusePort, which it supports on
// Node 20 as well.
function unhostedFlags(flags) {
  if (nodeMajor >= 22) return flags;
  return flags & REUSE_PORT ? REUSE_PORT : undefined;
}

// The argument errors the normalizer decided on, built in the caller's realm.
function argumentError(plan) {
  switch (plan.code) {
    case 'ERR_SOCKET_BAD_PORT':
      return errors.socketBadPort(plan.name, plan.value, listen);
    case 'ERR_INVALID_ARG_VALUE':
      return errors.invalidArgValue(plan.name, plan.value, plan.reason, listen);
    default:
      // A primitive handle: Node fails on `'port' in options`; so do we.
      try {
        // eslint-disable-next-line no-unused-expressions
        'port' in plan.value;
      } catch (error) {
        return error;
      }
      return errors.invalidArgValue('options', plan.value, undefined, listen);
  }
}

function addServerAbortSignalOption(self, options) {
  validateAbortSignal(options.signal, 'options.signal');
  const { signal } = options;
  const onAborted = () => {
    self.close();
  };
  if (signal.aborted) {
    process.nextTick(onAborted);
  } else {
    const disposable = addAbortListener(signal, onAborted);
    // Keyed by Node's own Symbol.dispose, which a vm context (Jest's
    // sandbox, on Node 20 and 22) may lack: the object's one key.
    const [dispose] = Reflect.ownKeys(disposable);
    self.once('close', disposable[dispose]);
  }
}

function validateAbortSignal(signal, name) {
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || !('aborted' in signal))) {
    throw errors.invalidArgType(name, 'AbortSignal', signal, listen);
  }
}

// Node 24's net.BoundSocket hands its socket over through internal symbols,
// found by their descriptions (without them, BoundSocket is not adopted and
// listen() treats it as Node before BoundSocket would).
const boundSocketInternals = (() => {
  const { BoundSocket } = net;
  if (typeof BoundSocket !== 'function') return undefined;
  const symbols = Object.getOwnPropertySymbols(BoundSocket.prototype);
  const consume = symbols.find((symbol) => symbol.description === 'kBoundSocketConsume');
  const path = symbols.find((symbol) => symbol.description === 'kBoundSocketPath');
  if (consume === undefined || path === undefined) return undefined;
  return { BoundSocket, consume, path };
})();

// listen(boundSocket) or listen({ handle: boundSocket }): take over the bound
// socket. Like Node, this consumes the BoundSocket (its methods then throw
// ERR_SOCKET_HANDLE_ADOPTED), and a second adoption throws that from here.
function adoptBoundSocket(self, bound, backlog) {
  const boundPath = bound[boundSocketInternals.path];
  const nodeHandle = bound[boundSocketInternals.consume]();
  const handle = new ServerHandle();
  // Our own duplicate of the socket; Node's handle keeps the original until
  // the server closes, so that closing it then removes a Unix socket file.
  const err = handle.open(nodeHandle.fd, true);
  if (boundPath !== undefined) self._pipeName = boundPath;
  self._listeningId++;
  if (err) {
    nodeHandle.close();
    const error = errors.exceptionWithHostPort(err, 'listen', null, -1, adoptBoundSocket);
    process.nextTick(emitErrorNT, self, error);
    return;
  }
  self._handle = handle;
  self[kAdoptedNodeHandle] = nodeHandle;
  listenInCluster(self, null, -1, -1, backlog);
}

/** Closes the Node handle a server took its socket from, if any. */
function releaseAdoptedNodeHandle(self) {
  const nodeHandle = self[kAdoptedNodeHandle];
  if (nodeHandle === undefined) return;
  self[kAdoptedNodeHandle] = undefined;
  nodeHandle.close();
}

// listen({ fd }) or listen(handleOfAnotherKind): a descriptor to adopt.
function listenOnDescriptor(self, plan) {
  const { fd, source } = plan;
  // A Node handle object (say a TCP handle received over IPC) keeps owning
  // its descriptor; take a duplicate and close the object, so that the
  // socket is ours alone, as Node's own adoption of a handle makes it.
  if (isNodeHandle(source)) self[kDescriptorOwner] = source;
  listenInCluster(self, null, null, null, plan.backlog, fd);
}

// Whether `value` is one of Node's own TCP or Pipe handle objects. Decided
// without reading any property through getters or Proxy traps, which Node
// would not read.
function isNodeHandle(value) {
  if (isProxy(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  if (prototype === null || isProxy(prototype)) return false;
  const constructor = Object.getOwnPropertyDescriptor(prototype, 'constructor')?.value;
  if (typeof constructor !== 'function' || isProxy(constructor)) return false;
  const name = Object.getOwnPropertyDescriptor(constructor, 'name')?.value;
  return (name === 'TCP' || name === 'Pipe') && 'getAsyncId' in prototype;
}

function listenOnPipe(self, plan) {
  const pipeName = (self._pipeName = plan.path);
  listenInCluster(self, pipeName, -1, -1, plan.backlog);
  if (!self._handle) {
    // Failed; the error is emitted on the next tick.
    return;
  }
  const readable = plan.options.readableAll === true;
  const writable = plan.options.writableAll === true;
  if (readable || writable) {
    const err = self._handle.grantAccess(readable, writable);
    if (err) {
      self._handle.close();
      self._handle = null;
      throw errors.errnoException(err, 'uv_pipe_chmod', listen);
    }
  }
}

function lookupAndListen(self, port, address, backlog, flags) {
  dns ??= require('dns');
  const listeningId = self._listeningId;
  if (nodeMajor >= 22) {
    dns.lookup(address, { all: true }, (err, addresses) => {
      if (listeningId !== self._listeningId) return;
      if (err) {
        self.emit('error', err);
      } else {
        const chosen = firstNonLinkLocal(addresses);
        const family = chosen?.family || 4;
        listenInCluster(self, chosen.address, port, family, backlog, undefined, flags);
      }
    });
  } else {
    dns.lookup(address, function doListen(err, ip, addressType) {
      if (listeningId !== self._listeningId) return;
      if (err) {
        self.emit('error', err);
      } else {
        listenInCluster(self, ip, port, ip ? addressType : 4, backlog, undefined, flags);
      }
    });
  }
}

// Node 22+ skips IPv6 link-local addresses (fe80::/10) when it can.
function firstNonLinkLocal(addresses) {
  for (const entry of addresses) {
    if (!isIpv6LinkLocal(entry.address)) return entry;
  }
  return addresses[0];
}

function isIpv6LinkLocal(ip) {
  if (typeof ip !== 'string' || !ip.includes(':')) return false;
  const first = ip.startsWith(':') ? 0 : parseInt(ip.slice(0, ip.indexOf(':')), 16);
  return (first & 0xffc0) === 0xfe80;
}

// Where Node would ask a cluster primary for a handle; rs-net servers always
// listen on their own socket, through `server._listen2` as Node calls it
// (code that wraps _listen2 sees the same six arguments).
function listenInCluster(server, address, port, addressType, backlog, fd, flags) {
  server._listen2(address, port, addressType, backlog, fd, flags);
}

/**
 * Binds (unless the server already has a handle), listens and schedules
 * 'listening', or schedules 'error'. Node's `setupListenHandle`, which Node
 * also exposes as `server._listen2`.
 */
function setupListenHandle(address, port, addressType, backlog, fd, flags) {
  const descriptorOwner = this[kDescriptorOwner];
  this[kDescriptorOwner] = undefined;
  if (!this._handle) {
    let rval = null;
    // No address: try IPv6 '::' (dual-stack) first, IPv4 when IPv6 fails.
    if (!address && typeof fd !== 'number') {
      rval = createServerHandle('::', port, 6, fd, flags);
      if (typeof rval === 'number') {
        rval = null;
        address = '0.0.0.0';
        addressType = 4;
      } else {
        address = '::';
        addressType = 6;
      }
    }
    if (rval === null) rval = createServerHandle(address, port, addressType, fd, flags, descriptorOwner);

    if (typeof rval === 'number') {
      const error = errors.exceptionWithHostPort(rval, 'listen', address, port, setupListenHandle);
      if (listenChannel.error.hasSubscribers) listenChannel.error.publish({ server: this, error });
      process.nextTick(emitErrorNT, this, error);
      return;
    }
    this._handle = rval;
  }

  const handle = this._handle;
  handle[kOwner] = this;
  // Remembered for address(), which tells TCP from pipes even once the
  // handle is closed (by another server sharing it).
  handle[kHandleKind] ??= handle.kind;
  const err = handle.listen(backlog || 511, () => acceptEvents(handle));
  if (err) {
    const error = errors.exceptionWithHostPort(err, 'listen', address, port, setupListenHandle);
    handle.close();
    releaseAdoptedNodeHandle(this);
    this._handle = null;
    if (listenChannel.error.hasSubscribers) listenChannel.error.publish({ server: this, error });
    process.nextTick(emitErrorNT, this, error);
    return;
  }
  startAccepting(this, handle);

  if (listenChannel.asyncEnd.hasSubscribers) listenChannel.asyncEnd.publish({ server: this });

  this._connectionKey = addressType + ':' + address + ':' + port;

  // Unref the handle if the server was unref'ed before listening.
  if (this._unref) this.unref();

  process.nextTick(emitListeningNT, this);
}

// Returns a bound ServerHandle, or a negative errno.
function createServerHandle(address, port, addressType, fd, flags, descriptorOwner) {
  const handle = new ServerHandle();
  let err;
  if (typeof fd === 'number' && fd >= 0) {
    if (!Number.isInteger(fd) || fd > 0x7fffffff) return -22; // EINVAL, as Node
    if (descriptorOwner === undefined) {
      // Not a socket Node would open, or one Node's own loop watches.
      err = checkInheritedDescriptor(fd);
      if (err) return err;
    }
    err = handle.open(fd, descriptorOwner !== undefined);
    if (err) return err;
    if (descriptorOwner !== undefined) closeNodeHandle(descriptorOwner, fd);
    return handle;
  }
  if (port === -1 && addressType === -1) {
    err = handle.bindPipe(`${address}`);
  } else {
    // setupListenHandle always passes an address (trying '::' first).
    const ipv6Only = (flags & IPV6_ONLY) !== 0;
    const reusePort = (flags & REUSE_PORT) !== 0;
    if (addressType === 6) {
      err = handle.bindTcp(address, port, ipv6Only, reusePort);
    } else {
      err = handle.bindTcp(address, port, false, reusePort);
    }
  }
  if (err) {
    handle.close();
    return err;
  }
  return handle;
}

// Closes a Node handle whose descriptor rs-net duplicated.
function closeNodeHandle(owner, fd) {
  try {
    owner.close();
  } catch {
    fs.closeSync(fd);
  }
}

function emitErrorNT(self, err) {
  self.emit('error', err);
}

function emitListeningNT(self) {
  // Ensure the handle has not been closed since.
  if (self._handle) self.emit('listening');
}

module.exports = { listen, releaseAdoptedNodeHandle, setupListenHandle };
