// @ts-check
'use strict';

// server.listen(): the native normalizer decides what the arguments mean
// (src/listen_args.rs; the all-primitive forms, the commonest, are decided
// the same way in lib/listen-primitive-args.js without the native call);
// this file acts on that decision with Node's timing: binding is
// synchronous when no host is given, a host is resolved with dns.lookup
// first, and 'listening' / 'error' are emitted on (Node's own) process.nextTick.

const dc = require('diagnostics_channel');
const { addAbortListener } = require('events');

const binding = require('../binding');
const errors = require('./errors');
const { onconnection } = require('./connections');
const {
  countConnections,
  createGroupHandle,
  groupOption,
  pendingGroup,
  setPendingGroup,
  stopCountingConnections,
} = require('./group');
const internals = require('./node-internals');
const { decidePrimitiveListen, isPrimitiveListen } = require('./listen-primitive-args');
const {
  attachToNodeHandle,
  createListeningHandle,
  hasListener,
  nativeListener,
} = require('./listening-handle');
const { behaviour } = require('./node-version');

const { ListenKind, checkInheritedDescriptor, normalizeListenArgs } = binding;
const { asyncIdSymbol, boundSocket: boundSocketInternals, handles, isNodeHandle, nextTick } = internals;

// libuv's bind flags, as Node passes them around.
const IPV6_ONLY = 1;
const REUSE_PORT = 2;

// Node traces listen() on this channel; so does rs-net, at the same points.
const listenChannel = dc.tracingChannel('net.server.listen');

// Node converts with its own copy of Number; this one is taken before user
// code could replace the global.
const toNumber = Number;

// The Node handle whose descriptor `listen(handle)` was given.
const kDescriptorSource = Symbol('kDescriptorSource');

let cluster;
let dns;

/**
 * `server.listen(...)`: every form Node documents.
 * @this {any} the server (its state is Node's, untyped here)
 */
function listen(...args) {
  if (this._handle) {
    throw errors.serverAlreadyListen();
  }
  const cb = args.length === 0 ? undefined : args[args.length - 1];
  // rs-net's one listen() option of its own: a listener group.
  setPendingGroup(this, groupOption(args));

  const onStart = (options) => {
    if (listenChannel.asyncStart.hasSubscribers) {
      listenChannel.asyncStart.publish({ server: this, options });
    }
    if (typeof cb === 'function') this.once('listening', cb);
  };
  const onCommit = () => {
    // Where Node invalidates pending lookups of an earlier listen().
    this._listeningId++;
  };
  // A subscriber may change the options it is shown: Node reads them after.
  const plan =
    !listenChannel.asyncStart.hasSubscribers && isPrimitiveListen(args)
      ? decidePrimitiveListen(args, onStart, onCommit)
      : normalizeListenArgs(
          args,
          onStart,
          onCommit,
          // Bound rather than wrapped, so that its errors' stacks show no frame
          // between it and Server.listen, as Node's.
          addServerAbortSignalOption.bind(undefined, this),
          boundSocketInternals?.BoundSocket,
          handles().TCP,
          toNumber,
        );

  // The plan's shape per kind is typed in binding.d.ts, generated from the
  // Rust side: this switch is type-checked against it.
  switch (plan.kind) {
    case ListenKind.BadPort:
      throw errors.socketBadPort('options.port', plan.value);
    case ListenKind.InvalidOptions:
      throw errors.invalidArgValue('options', plan.options, plan.reason);
    case ListenKind.NotAnObject:
      // A primitive handle: Node fails on `'port' in options`; so does
      // rs-net, here, in the caller's realm.
      // eslint-disable-next-line no-unused-expressions
      'port' in /** @type {any} */ (plan.value);
      throw errors.invalidArgValue('options', plan.value);
    case ListenKind.Bound:
      adoptBoundSocket(this, plan.bound, plan.backlog);
      return this;
    case ListenKind.Handle:
      // A TCP handle: listened on as it is, as Node does.
      this._handle = /** @type {any} */ (plan.handle);
      this[asyncIdSymbol] = this._handle.getAsyncId();
      listenInCluster(this, null, -1, -1, plan.backlog, undefined, true);
      return this;
    case ListenKind.Descriptor:
      // A Node handle that is not a TCP one (a Pipe) is taken by its
      // descriptor, as Node takes it; rs-net takes a duplicate, leaving the
      // handle its own descriptor.
      this[kDescriptorSource] = isNodeHandle(plan.source) ? plan.source : undefined;
      listenInCluster(this, null, null, null, plan.backlog, plan.fd);
      return this;
    case ListenKind.Tcp: {
      const flags = (plan.ipv6Only ? IPV6_ONLY : 0) | (plan.reusePort ? REUSE_PORT : 0);
      if (plan.host !== undefined) {
        lookupAndListen(this, plan.port, plan.host, plan.backlog, plan.exclusive, flags);
      } else {
        listenInCluster(
          this,
          null,
          plan.port,
          4,
          plan.backlog,
          undefined,
          plan.exclusive,
          unhostedFlags(flags),
        );
      }
      return this;
    }
    case ListenKind.Pipe:
      listenOnPipe(this, plan);
      return this;
    default:
      return unknownPlan(plan);
  }
}

// Every kind is handled above: type checking fails here if one is not.
/** @param {never} plan */
function unknownPlan(plan) {
  throw new Error(`rs-net: unknown listen plan ${/** @type {{ kind: unknown }} */ (plan).kind}`);
}

// Node 20 leaves the flags out when no host is given, and so ignores
// ipv6Only there. rs-net follows, but keeps reusePort, which it supports on
// Node 20 as well.
function unhostedFlags(flags) {
  if (behaviour.unhostedListenPassesFlags) return flags;
  return flags & REUSE_PORT ? REUSE_PORT : undefined;
}

function addServerAbortSignalOption(self, options) {
  validateAbortSignal(options.signal, 'options.signal');
  const { signal } = options;
  const onAborted = () => {
    self.close();
  };
  if (signal.aborted) {
    nextTick(onAborted);
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
    throw errors.invalidArgType(name, 'AbortSignal', signal, validateAbortSignal);
  }
}

// listen(boundSocket) or listen({ handle: boundSocket }) on Node 24: the
// server takes the BoundSocket's handle, which then belongs to it (the
// BoundSocket's methods throw ERR_SOCKET_HANDLE_ADOPTED, and adopting it
// again throws that from here).
function adoptBoundSocket(self, bound, backlog) {
  const boundPath = bound[boundSocketInternals.path];
  self._handle = bound[boundSocketInternals.consume]();
  if (boundPath !== undefined) self._pipeName = boundPath;
  self[asyncIdSymbol] = self._handle.getAsyncId();
  self._listeningId++;
  listenInCluster(self, null, -1, -1, backlog, undefined, true);
}

/** @param {import('../binding').PipePlan} plan */
function listenOnPipe(self, plan) {
  const pipeName = (self._pipeName = plan.path);
  // What Node passes on to a cluster primary (read once, by the normalizer).
  const modes = { readableAll: plan.readableAll, writableAll: plan.writableAll };
  listenInCluster(self, pipeName, -1, -1, plan.backlog, undefined, plan.exclusive, undefined, modes);
  if (!self._handle) {
    // Failed (the error is emitted on the next tick), or a cluster worker
    // that asked its primary.
    return;
  }
  const readable = plan.options.readableAll === true;
  const writable = plan.options.writableAll === true;
  const native = nativeListener(self._handle);
  if ((readable || writable) && native !== undefined) {
    const err = native.grantAccess(readable, writable);
    if (err) {
      self._handle.close();
      self._handle = null;
      throw errors.errnoException(err, 'uv_pipe_chmod', listenOnPipe);
    }
  }
}

function lookupAndListen(self, port, address, backlog, exclusive, flags) {
  dns ??= require('dns');
  const listeningId = self._listeningId;
  if (behaviour.lookupSkipsLinkLocal) {
    dns.lookup(address, { all: true }, (err, addresses) => {
      if (listeningId !== self._listeningId) return;
      if (err) {
        self.emit('error', err);
      } else {
        const chosen = firstNonLinkLocal(addresses);
        const family = chosen?.family || 4;
        listenInCluster(self, chosen.address, port, family, backlog, undefined, exclusive, flags);
      }
    });
  } else {
    dns.lookup(address, function doListen(err, ip, addressType) {
      if (listeningId !== self._listeningId) return;
      if (err) {
        self.emit('error', err);
      } else {
        listenInCluster(self, ip, port, ip ? addressType : 4, backlog, undefined, exclusive, flags);
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

// In a cluster worker (unless exclusive), the socket comes from the
// primary, as for Node's servers: a handle the worker accepts on (under
// SCHED_NONE) or one through which the primary hands connections over
// (round-robin). Everywhere else the server makes its own, through
// `server._listen2` as Node calls it (code that wraps _listen2 sees the
// same six arguments).
function listenInCluster(server, address, port, addressType, backlog, fd, exclusive, flags, options) {
  cluster ??= require('cluster');
  // A listener group is the process's own: no cluster primary is asked.
  if (cluster.isPrimary || exclusive || pendingGroup(server) !== undefined) {
    server._listen2(address, port, addressType, backlog, fd, flags);
    return;
  }
  const query = {
    address,
    port,
    addressType,
    fd,
    flags,
    backlog,
    // Pipe modes, which the primary applies to a pipe it binds (Node 20.20,
    // 22 and 24 all pass them).
    ...options,
  };
  const listeningId = server._listeningId;
  cluster._getServer(server, query, function listenOnPrimaryHandle(err, handle) {
    if (listeningId !== server._listeningId) {
      handle.close();
      return;
    }
    err = checkBindError(err, port, handle);
    if (err) {
      server.emit('error', errors.exceptionWithHostPort(err, 'bind', address, port, listenOnPrimaryHandle));
      return;
    }
    if (server._handle) server._handle.close();
    server._handle = handle;
    server._listen2(address, port, addressType, backlog, fd, flags);
  });
}

// A primary's bind can fail late: a handle bound to another port than the
// one asked for means the port was taken (Node's check, for TCP only).
function checkBindError(err, port, handle) {
  if (err === 0 && port > 0 && handle.getsockname) {
    const out = {};
    err = handle.getsockname(out);
    if (err === 0 && port !== out.port) err = -98; // EADDRINUSE
  }
  return err;
}

/**
 * Binds (unless the server already has a handle), listens and schedules
 * 'listening', or schedules 'error'. Node's `setupListenHandle`, which Node
 * also exposes as `server._listen2`.
 * @this {any} the server
 */
function setupListenHandle(address, port, addressType, backlog, fd, flags) {
  const descriptorSource = this[kDescriptorSource];
  this[kDescriptorSource] = undefined;
  const group = pendingGroup(this);
  setPendingGroup(this, undefined);
  // A server that listened in a group before is in none now.
  if (group === undefined) stopCountingConnections(this);
  if (!this._handle) {
    let rval = null;
    // No address: try IPv6 '::' (dual-stack) first, IPv4 when IPv6 fails.
    if (!address && typeof fd !== 'number') {
      rval = createServerHandle('::', port, 6, fd, flags, undefined, group);
      if (typeof rval === 'number') {
        rval = null;
        address = '0.0.0.0';
        addressType = 4;
      } else {
        address = '::';
        addressType = 6;
      }
    }
    if (rval === null)
      rval = createServerHandle(address, port, addressType, fd, flags, descriptorSource, group);

    if (typeof rval === 'number') {
      const error = errors.exceptionWithHostPort(rval, 'listen', address, port);
      if (listenChannel.error.hasSubscribers) listenChannel.error.publish({ server: this, error });
      nextTick(emitErrorNT, this, error);
      return;
    }
    this._handle = rval;
    if (group !== undefined) countConnections(this);
  }

  // One of Node's handles from elsewhere (a cluster primary's under
  // SCHED_NONE, a TCP handle passed to listen(), a BoundSocket's, another
  // Node server's): rs-net accepts on it. Anything else (a cluster worker's
  // round-robin handle) is listened on as Node would.
  let err = 0;
  if (isNodeHandle(this._handle) && !hasListener(this._handle)) err = attachToNodeHandle(this._handle);

  if (typeof this._handle.getAsyncId === 'function') this[asyncIdSymbol] = this._handle.getAsyncId();
  this._handle.onconnection = onconnection;
  this._handle[handles().ownerSymbol] = this;
  if (!err) err = this._handle.listen(backlog || 511);
  if (err) {
    const error = errors.exceptionWithHostPort(err, 'listen', address, port);
    this._handle.close();
    this._handle = null;
    if (listenChannel.error.hasSubscribers) listenChannel.error.publish({ server: this, error });
    nextTick(emitErrorNT, this, error);
    return;
  }

  if (listenChannel.asyncEnd.hasSubscribers) listenChannel.asyncEnd.publish({ server: this });

  this._connectionKey = addressType + ':' + address + ':' + port;

  // Unref the handle if the server was unref'ed before listening.
  if (this._unref) this.unref();

  nextTick(emitListeningNT, this);
}

// Returns a bound listening handle, or a negative errno.
function createServerHandle(address, port, addressType, fd, flags, descriptorSource, group) {
  if (typeof fd === 'number' && fd >= 0) {
    if (!Number.isInteger(fd) || fd > 0x7fffffff) return -22; // EINVAL, as Node
    // Not a socket Node would open, or one Node's own loop watches (a
    // listening Node server's; rs-net's own refuse with EEXIST natively).
    const err = checkInheritedDescriptor(fd);
    if (err) return err;
    // An inherited descriptor becomes the server's, as with Node; one that
    // a Node handle owns stays its.
    const duplicate = descriptorSource !== undefined;
    return createListeningHandle(
      undefined,
      (native) => {
        const err = native.open(fd, duplicate);
        return err < 0 ? err : native.duplicate();
      },
      true,
    );
  }
  // setupListenHandle always passes an address (trying '::' first).
  const ipv6Only = addressType === 6 && (flags & IPV6_ONLY) !== 0;
  if (group !== undefined) return createGroupHandle(group, address, port, addressType, ipv6Only);
  if (port === -1 && addressType === -1) {
    return createListeningHandle('pipe', (native) => native.bindPipe(`${address}`), true);
  }
  const reusePort = (flags & REUSE_PORT) !== 0;
  return createListeningHandle('tcp', (native) => native.bindTcp(address, port, ipv6Only, reusePort), true);
}

function emitErrorNT(self, err) {
  self.emit('error', err);
}

function emitListeningNT(self) {
  // Ensure the handle has not been closed since.
  if (self._handle) self.emit('listening');
}

module.exports = { listen, setupListenHandle };
