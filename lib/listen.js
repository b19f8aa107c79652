'use strict';

// server.listen(): the native normalizer decides what the arguments mean
// (src/listen_args.rs); this file acts on that decision with Node's timing:
// binding is synchronous when no host is given, a host is resolved with
// dns.lookup first, and 'listening' / 'error' are emitted on process.nextTick.

const fs = require('fs');
const { addAbortListener } = require('events');

const binding = require('../binding');
const errors = require('./errors');
const { acceptEvents, kOwner, startConnectionCount } = require('./connections');
const { nodeMajor } = require('./node-version');

const { ServerHandle, normalizeListenArgs } = binding;

// libuv's bind flags, as Node passes them around.
const IPV6_ONLY = 1;
const REUSE_PORT = 2;

let dns;

/** `server.listen(...)`: every form Node documents. */
function listen(...args) {
  if (this._handle) {
    throw errors.serverAlreadyListen(listen);
  }
  const cb = args.length === 0 ? undefined : args[args.length - 1];
  if (typeof cb === 'function') {
    this.once('listening', cb);
  }

  const plan = normalizeListenArgs(
    args,
    () => {
      // Where Node invalidates pending lookups of an earlier listen().
      this._listeningId++;
    },
    (options) => addServerAbortSignalOption(this, options),
  );

  switch (plan.kind) {
    case 'error':
      throw argumentError(plan);
    case 'handle':
      this._handle = plan.handle;
      this._listen2(null, -1, -1, plan.backlog);
      return this;
    case 'fd':
      listenOnDescriptor(this, plan);
      return this;
    case 'tcp': {
      const flags = (plan.ipv6Only ? IPV6_ONLY : 0) | (plan.reusePort ? REUSE_PORT : 0);
      if (plan.host !== undefined) {
        lookupAndListen(this, plan.port, plan.host, plan.backlog, flags);
      } else {
        this._listen2(null, plan.port, 4, plan.backlog, undefined, flags);
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
    self.once('close', disposable[Symbol.dispose]);
  }
}

function validateAbortSignal(signal, name) {
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || !('aborted' in signal))) {
    throw errors.invalidArgType(name, 'AbortSignal', signal, listen);
  }
}

// listen({ fd }) or listen(handleOfAnotherKind): a descriptor to adopt.
function listenOnDescriptor(self, plan) {
  const { fd, source } = plan;
  // A Node handle object (say a TCP handle received over IPC) keeps owning
  // its descriptor; take a duplicate and close the object, so that the
  // socket is ours alone, as Node's own adoption of a handle makes it.
  const nodeHandle =
    source !== plan.options ||
    (typeof source.getAsyncId === 'function' && typeof source.close === 'function');
  self._listen2(null, null, null, plan.backlog, fd, 0, nodeHandle ? source : undefined);
}

function listenOnPipe(self, plan) {
  const pipeName = (self._pipeName = plan.path);
  self._listen2(pipeName, -1, -1, plan.backlog);
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
        self._listen2(chosen.address, port, chosen?.family || 4, backlog, undefined, flags);
      }
    });
  } else {
    dns.lookup(address, function doListen(err, ip, addressType) {
      if (listeningId !== self._listeningId) return;
      if (err) {
        self.emit('error', err);
      } else {
        self._listen2(ip, port, ip ? addressType : 4, backlog, undefined, flags);
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

/**
 * Binds (unless the server already has a handle), listens and schedules
 * 'listening', or schedules 'error'. Node's `setupListenHandle`, which Node
 * also exposes as `server._listen2`.
 */
function setupListenHandle(address, port, addressType, backlog, fd, flags, descriptorOwner) {
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
      process.nextTick(emitErrorNT, this, error);
      return;
    }
    this._handle = rval;
  }

  const handle = this._handle;
  handle[kOwner] = this;
  const err = handle.listen(backlog || 511, (batch) => acceptEvents(handle, batch));
  if (err) {
    const error = errors.exceptionWithHostPort(err, 'listen', address, port, setupListenHandle);
    handle.close();
    this._handle = null;
    process.nextTick(emitErrorNT, this, error);
    return;
  }
  startConnectionCount(this, handle);

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
    err = handle.open(fd, descriptorOwner !== undefined);
    if (err) return err;
    if (descriptorOwner !== undefined) closeNodeHandle(descriptorOwner, fd);
    return handle;
  }
  if (port === -1 && addressType === -1) {
    err = handle.bindPipe(`${address}`);
  } else {
    const ipv6Only = (flags & IPV6_ONLY) !== 0;
    const reusePort = (flags & REUSE_PORT) !== 0;
    if (!address) {
      err = handle.bindTcp('::', port, ipv6Only, reusePort);
      if (err) {
        handle.close();
        return createServerHandle('0.0.0.0', port, 4, undefined, flags);
      }
    } else if (addressType === 6) {
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

module.exports = { listen, setupListenHandle };
