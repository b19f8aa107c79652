// @ts-check
'use strict';

// A server's `_handle`: one of Node's own TCP or Pipe handles, as Node's
// server has, standing for a socket that rs-net's native listener accepts
// on. The Node handle holds a descriptor of the socket (so getsockname, fd,
// hasRef, process.getActiveResourcesInfo(), child.send(server) and cluster
// all work as with Node) but libuv never listens on it; its listen, close,
// ref and unref also drive the native listener, whose own duplicate of the
// descriptor the accept loop uses. Connections arrive here from the native
// side and go through `handle.onconnection(err, clientHandle)`, exactly as
// libuv calls it for Node's handles, whoever set that function.

const { AsyncResource } = require('async_hooks');
const dc = require('diagnostics_channel');
const fs = require('fs');

const binding = require('../binding');
const errors = require('./errors');
const { ServerHandle } = require('./native-handle');
const internals = require('./node-internals');

const { BATCH_SIZE } = binding;
const { SERVER, SOCKET, handles, runNextTicks, setImmediate } = internals;

// The native ServerHandle behind a Node handle.
const kNative = Symbol('kNative');
// The async resource 'connection' runs in (see `topLevel`).
const kServerResource = Symbol('kServerResource');
// The Node handle's own methods, which the listener's versions call on.
const kNodeMethods = Symbol('kNodeMethods');
// On a listener group member's handle (set by lib/group.js): how many
// connections taken from the native side the server has not been given yet
// (those after the current event of the batch being delivered, and of a
// batch an exception interrupted). The group balances on them plus the
// server's own count (see lib/group.js's publishConnections).
const kUndelivered = Symbol('kUndelivered');

// rs-net's channel: one message per batch of events handed to JavaScript
// ({ server, size, pulled }), so tools (and tests) can see how many
// connections each wake-up of the JavaScript thread carried.
const batchChannel = dc.channel('rs-net.server.batch');

// Async context, as Node's server has it: 'connection' (and what its
// listeners schedule) runs in the context the server started listening in,
// as Node runs it in its listening handle's (a resource typed as Node's
// listening handle is, made when listening starts); each connection's
// handle is made in the top-level context, as libuv's accept callback makes
// Node's, so the socket's I/O callbacks do not inherit the listener's
// context (AsyncLocalStorage stores, for one): `topLevel` is that context.
// Neither keeps anything alive (the server's Node handle does, and is what
// tools should find, once), and both say so to tools that ask (hasRef), as
// why-is-node-running and Jest's open-handle detection do.
class ContextOnly extends AsyncResource {
  hasRef() {
    return false;
  }
}
const topLevel = new ContextOnly('RSNET_ACCEPT');

/**
 * Makes a Node handle of `kind` ('tcp' or 'pipe') over `fd` (which it then
 * owns), or returns a negative errno (the descriptor stays the caller's).
 */
function newNodeHandle(kind, fd) {
  const { TCP, Pipe } = handles();
  const handle = new (kind === 'pipe' ? Pipe : TCP)(SERVER);
  Object.setPrototypeOf(handle, listeningPrototype(kind));
  const err = handle.open(fd);
  if (err) {
    handle.close();
    return err;
  }
  return handle;
}

/**
 * Puts the native listener `native` (bound or adopted, not yet listening)
 * behind `handle`, one of Node's TCP or Pipe handles on the same socket
 * from elsewhere (see `listeningPrototype` for rs-net's own).
 * @param {import('./native-handle').ServerHandle} native
 */
function attachListener(handle, native) {
  handle[kNative] = native;
  // The methods the handle had: its class's, or a cluster worker's
  // wrappers of them, which the listener's versions go on to call; and the
  // handle's own properties of those names (usually none), given back by
  // detachListener.
  handle[kNodeMethods] = {
    close: handle.close,
    ref: handle.ref,
    unref: handle.unref,
    own: listenerMethodNames.some((name) => Object.hasOwn(handle, name))
      ? listenerMethodNames.map((name) => [name, Object.getOwnPropertyDescriptor(handle, name)])
      : undefined,
  };
  for (let index = 0; index < listenerMethodNames.length; index++) {
    Object.defineProperty(handle, listenerMethodNames[index], listenerMethodDescriptors[index]);
  }
  return handle;
}

/** A listening handle whose socket rs-net accepts on. */
function hasListener(handle) {
  return handle != null && typeof handle === 'object' && kNative in handle;
}

const listenerMethods = {
  // Starts (or, on a handle that already listens, re-applies the backlog
  // of) the native listener. Returns 0 or a negative errno, as Node's.
  listen(backlog) {
    const native = /** @type {import('./native-handle').ServerHandle | undefined} */ (this[kNative]);
    if (native === undefined) return -9; // EBADF: closed
    // Converted here, as Node's handle converts it (Int32Value: valueOf
    // runs, Symbols and BigInts throw), so that no JavaScript runs inside
    // the native call.
    const err = native.listen(+backlog | 0, () => acceptEvents(this));
    if (err === 0 && this[kServerResource] === undefined) {
      const type = this instanceof handles().Pipe ? 'PIPESERVERWRAP' : 'TCPSERVERWRAP';
      this[kServerResource] = new ContextOnly(type);
      // A Node handle from elsewhere that was unreferenced (its server's
      // unref()) keeps the process alive no more than it did.
      if (this.hasRef() === false) native.unref();
    }
    return err;
  },
  close(cb) {
    stopListener(this);
    return this[kNodeMethods].close.call(this, cb);
  },
  ref() {
    nativeListener(this)?.ref();
    return this[kNodeMethods].ref.call(this);
  },
  unref() {
    nativeListener(this)?.unref();
    return this[kNodeMethods].unref.call(this);
  },
};

const listenerMethodNames = Object.keys(listenerMethods);
const listenerMethodDescriptors = listenerMethodNames.map((name) => ({
  value: listenerMethods[name],
  writable: true,
  configurable: true,
  enumerable: false,
}));

// The prototypes of the Node handles rs-net makes for its own sockets:
// Node's TCP and Pipe prototypes, extended with the listener's methods
// (where a handle from elsewhere gets them as its own properties, in
// attachListener: defining four properties on each handle would cost more
// than the socket's system calls, and a subclass's constructor more than
// a change of prototype). Handles keep Node's constructor, name and keys.
let listeningPrototypes;

/** @param {'tcp' | 'pipe'} kind */
function listeningPrototype(kind) {
  if (listeningPrototypes === undefined) {
    const { TCP, Pipe } = handles();
    listeningPrototypes = {
      tcp: extendWithListener(TCP.prototype),
      pipe: extendWithListener(Pipe.prototype),
    };
  }
  return listeningPrototypes[kind];
}

function extendWithListener(base) {
  const prototype = Object.create(base);
  for (let index = 0; index < listenerMethodNames.length; index++) {
    Object.defineProperty(prototype, listenerMethodNames[index], listenerMethodDescriptors[index]);
  }
  Object.defineProperty(prototype, kNodeMethods, {
    value: { close: base.close, ref: base.ref, unref: base.unref, own: undefined },
  });
  return prototype;
}

// Closed native handles, kept for the next listen() to bind again: making
// one (a registry entry, and a wrapper watched for its collection) costs
// several times a call into the addon, and test suites listen and close by
// the thousand. A few are enough for that.
const spareNatives = [];
const SPARE_NATIVES = 8;
// A Node handle whose native handle nothing else keeps once closed (one a
// listener group's count does is not given back).
const kReusableNative = Symbol('kReusableNative');

/** Keeps a closed native handle for a later listen(), if there is room. */
function keepSpare(native) {
  if (spareNatives.length < SPARE_NATIVES) spareNatives.push(native);
}

// Stops the native listener (its queued connections are closed) and
// releases what it held; the Node handle's own close follows.
function stopListener(handle) {
  const native = nativeListener(handle);
  if (native === undefined) return;
  handle[kNative] = undefined;
  native.close();
  if (handle[kReusableNative] === true) keepSpare(native);
  const resource = handle[kServerResource];
  if (resource !== undefined) {
    handle[kServerResource] = undefined;
    resource.emitDestroy();
  }
}

/**
 * Called (through the threadsafe function, without arguments) when events
 * are waiting, and on later turns while a full batch suggests more. The
 * events are taken here rather than passed along, so that a wake-up that
 * never reaches JavaScript (its environment is going away) leaves them with
 * the native queue, which closes their descriptors.
 */
function acceptEvents(handle, pulled = false) {
  const native = nativeListener(handle);
  if (native === undefined) return;
  const batch = native.takeEvents();
  // A group member's (see kUndelivered): added to what an earlier batch
  // left undelivered (one whose delivery an exception interrupted, and that
  // finishes on a later turn).
  if (handle[kUndelivered] !== undefined) {
    for (let index = 0; index < batch.length; index++) {
      if (typeof batch[index] === 'number') handle[kUndelivered]++;
    }
  }
  if (batchChannel.hasSubscribers) {
    batchChannel.publish({ server: handle[handles().ownerSymbol], size: batch.length, pulled });
  }
  deliver(handle, native, batch, 0);
}

// Node delivers each accepted connection in its own callback from libuv,
// and runs process.nextTick callbacks and microtasks after each one. A batch
// does the same between its events (outside any async scope, as Node runs
// them), so what a 'connection' listener schedules runs before the next
// connection, as with Node's server.
/** @param {import('./native-handle').ServerHandle} native */
function deliver(handle, native, batch, start) {
  let index = start;
  // Whether the exception, if any, came from an event's listeners (that
  // event was delivered) or from the ticks before it (it was not).
  let inEvent = false;
  try {
    for (; index < batch.length; index++) {
      if (index > start && runNextTicks !== undefined) runNextTicks();
      // Closed meanwhile: the native side closed what no handle took.
      if (handle[kNative] !== native) {
        if (handle[kUndelivered] !== undefined) handle[kUndelivered] = 0;
        return;
      }
      const resource = handle[kServerResource];
      // Counted by the server from here on (or dropped).
      if (handle[kUndelivered] !== undefined && typeof batch[index] === 'number') handle[kUndelivered]--;
      inEvent = true;
      if (resource === undefined) onevent(handle, native, batch[index]);
      else resource.runInAsyncScope(onevent, null, handle, native, batch[index]);
      inEvent = false;
    }
  } catch (error) {
    // Finish the batch on a later turn, from the first event not yet
    // delivered, and let the exception go on as Node's would (to
    // 'uncaughtException').
    setImmediate(deliver, handle, native, batch, inEvent ? index + 1 : index);
    throw error;
  }
  if (batch.length === BATCH_SIZE) setImmediate(acceptEvents, handle, true);
}

// An event is a connection's descriptor, or `{ errno }` for a failed accept.
/** @param {import('./native-handle').ServerHandle} native */
function onevent(handle, native, event) {
  if (typeof event === 'number') {
    const clientHandle = topLevel.runInAsyncScope(newConnectionHandle, null, handle, native, event);
    if (clientHandle !== undefined) handle.onconnection(0, clientHandle);
  } else {
    handle.onconnection(event.errno);
  }
}

// Node's own handle for an accepted connection, as libuv's accept makes it
// (a TCP handle of the connection kind, or a Pipe); the native side learns
// that the descriptor is the handle's. A descriptor no handle could open is
// closed, and the failure thrown, as an error of `open`. Undefined when the
// server closed meanwhile: async hooks' callbacks (before this runs, and
// `init` as the handle is made) may close it, and closing gave the
// descriptor back (closed it, or passed it to another group member), so
// its number may already be someone else's.
/** @param {import('./native-handle').ServerHandle} native */
function newConnectionHandle(handle, native, fd) {
  const { TCP, Pipe } = handles();
  const Handle = handle instanceof Pipe ? Pipe : TCP;
  const clientHandle = new Handle(SOCKET);
  // No JavaScript runs between this check and `open`.
  if (handle[kNative] !== native) {
    clientHandle.close();
    return undefined;
  }
  const err = clientHandle.open(fd);
  if (err) {
    clientHandle.close();
    native.closeConnection(fd);
    throw errors.errnoException(err, 'open', newConnectionHandle);
  }
  native.adoptConnection(fd);
  return clientHandle;
}

/**
 * A listening handle for a socket rs-net binds: `bind(native)` binds the
 * native ServerHandle and returns the descriptor for the Node handle or a
 * negative errno; the Node handle is of `kind` ('tcp' or 'pipe'), or, when
 * that is undefined, of the kind the native handle found. A `reusable`
 * native handle is one nothing but the Node handle keeps. Returns the
 * handle, or a negative errno.
 * @param {'tcp' | 'pipe' | undefined} kind
 * @param {(native: import('./native-handle').ServerHandle) => number} bind
 * @param {boolean} reusable
 */
function createListeningHandle(kind, bind, reusable) {
  const native = (reusable && spareNatives.pop()) || new ServerHandle();
  const fd = bind(native);
  if (fd < 0) {
    native.close();
    // Bound nothing: as good as new (a failed '::' before '0.0.0.0', say).
    if (reusable) keepSpare(native);
    return fd;
  }
  const handle = newNodeHandle(kind ?? /** @type {'tcp' | 'pipe'} */ (native.kind), fd);
  if (typeof handle === 'number') {
    // The native handle forgets the duplicate's number before it is closed,
    // so that no other socket can get the number while it is still claimed.
    native.close();
    fs.closeSync(fd);
    return handle;
  }
  handle[kNative] = native;
  if (reusable) handle[kReusableNative] = true;
  return handle;
}

/**
 * Makes `handle` (one of Node's TCP or Pipe handles, from elsewhere: a
 * cluster primary, a child process, another server, a net.BoundSocket)
 * accepted on by rs-net, through a duplicate of its descriptor: the handle
 * itself stays its owner's. Returns 0 or a negative errno.
 */
function attachToNodeHandle(handle) {
  if (hasListener(handle)) return 0;
  const native = new ServerHandle();
  const err = native.open(handle.fd, true);
  if (err) {
    native.close();
    return err;
  }
  attachListener(handle, native);
  return 0;
}

/**
 * Stops the native listener behind `handle` and gives the handle its own
 * methods back, leaving it open: for a handle that moves to another thread,
 * where Node's own server listens on it.
 */
function detachListener(handle) {
  if (!hasListener(handle)) return;
  stopListener(handle);
  delete handle[kNative];
  const prototype = Object.getPrototypeOf(handle);
  if (prototype === listeningPrototypes?.tcp || prototype === listeningPrototypes?.pipe) {
    // One of rs-net's own: Node's prototype again.
    Object.setPrototypeOf(handle, Object.getPrototypeOf(prototype));
    return;
  }
  const { own } = handle[kNodeMethods];
  for (const name of listenerMethodNames) {
    const descriptor = own?.find((entry) => entry[0] === name)?.[1];
    if (descriptor === undefined) delete handle[name];
    else Object.defineProperty(handle, name, descriptor);
  }
  handle[kNodeMethods] = undefined;
}

/**
 * The native listener of a handle, for options only it knows (pipe modes).
 * @returns {import('./native-handle').ServerHandle | undefined}
 */
function nativeListener(handle) {
  return handle[kNative];
}

module.exports = {
  attachToNodeHandle,
  createListeningHandle,
  detachListener,
  hasListener,
  kUndelivered,
  nativeListener,
};
