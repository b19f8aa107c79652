// @ts-check
'use strict';

// The native half of a listening server (src/server_handle.rs), as the
// rest of lib/ calls it: an object whose methods call the addon's functions
// for the numbered handle it stands for (src/handle_registry.rs keeps each
// thread's handles by number; a method call through a napi-rs class would
// cost more than most of what the methods do). The native handle goes, and
// closes, once this object is collected, or when its environment ends (a
// wrapper whose realm was discarded first, a Jest test file's, is never
// seen collected: its handle, empty unless a server was left open, stays
// until then).

const binding = require('../binding');

const releaseWhenCollected = new FinalizationRegistry((id) => binding.serverHandleRelease(id));

// The number of the native handle an object stands for.
const kId = Symbol('kId');

class ServerHandle {
  constructor() {
    const id = binding.serverHandleNew();
    this[kId] = id;
    releaseWhenCollected.register(this, id);
  }

  /**
   * Binds a TCP socket: the Node handle's descriptor, or a negative errno.
   * @param {string} address @param {number} port @param {boolean} ipv6Only @param {boolean} reusePort
   */
  bindTcp(address, port, ipv6Only, reusePort) {
    return binding.serverHandleBindTcp(this[kId], address, port, ipv6Only, reusePort);
  }

  /**
   * Binds a Unix socket: the Node handle's descriptor, or a negative errno.
   * @param {string} name
   */
  bindPipe(name) {
    return binding.serverHandleBindPipe(this[kId], name);
  }

  /**
   * Takes a seat in a TCP listener group: the Node handle's descriptor, or a negative errno.
   * @param {string} group @param {string} address @param {number} port @param {boolean} ipv6Only
   */
  bindGroupTcp(group, address, port, ipv6Only) {
    return binding.serverHandleBindGroupTcp(this[kId], group, address, port, ipv6Only);
  }

  /**
   * Takes a seat in a Unix socket listener group: the Node handle's descriptor, or a negative errno.
   * @param {string} group @param {string} name
   */
  bindGroupPipe(group, name) {
    return binding.serverHandleBindGroupPipe(this[kId], group, name);
  }

  /**
   * Adopts an inherited descriptor (or a duplicate of it): 0 or a negative errno.
   * @param {number} fd @param {boolean} duplicate
   */
  open(fd, duplicate) {
    return binding.serverHandleOpen(this[kId], fd, duplicate);
  }

  /**
   * Listens with `backlog` (a 32-bit integer) and calls `onevents()` when
   * events are waiting: 0 or a negative errno.
   * @param {number} backlog
   * @param {() => void} onevents
   */
  listen(backlog, onevents) {
    return binding.serverHandleListen(this[kId], backlog, onevents);
  }

  /** A new descriptor of the socket for a Node handle, or a negative errno. */
  duplicate() {
    return binding.serverHandleDuplicate(this[kId]);
  }

  /** `'tcp'` or `'pipe'` once bound or adopted; `null` before and after. */
  get kind() {
    return binding.serverHandleKind(this[kId]);
  }

  getsockname() {
    return binding.serverHandleGetsockname(this[kId]);
  }

  /**
   * `readableAll` / `writableAll` for a Unix socket: 0 or a negative errno.
   * @param {boolean} readable @param {boolean} writable
   */
  grantAccess(readable, writable) {
    return binding.serverHandleGrantAccess(this[kId], readable, writable);
  }

  /** Stops accepting and closes the socket; the handle can be bound again. */
  close() {
    binding.serverHandleClose(this[kId]);
  }

  ref() {
    binding.serverHandleRef(this[kId]);
  }

  unref() {
    binding.serverHandleUnref(this[kId]);
  }

  /** @param {number} count */
  setConnectionCount(count) {
    binding.serverHandleSetConnectionCount(this[kId], count);
  }

  /** A group member's shared count of open connections, or null. */
  connectionCounter() {
    return binding.serverHandleConnectionCounter(this[kId]);
  }

  /** The next batch of events: descriptors, or `{ errno }` objects. */
  takeEvents() {
    return binding.serverHandleTakeEvents(this[kId]);
  }

  /** @param {number} fd */
  adoptConnection(fd) {
    binding.serverHandleAdoptConnection(this[kId], fd);
  }

  /** @param {number} fd */
  closeConnection(fd) {
    return binding.serverHandleCloseConnection(this[kId], fd);
  }
}

module.exports = { ServerHandle };
